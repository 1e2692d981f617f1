import type OpenAI from 'openai';
import { HealthProber } from '../../src/health/health.prober.js';
import { call, type TestApp } from '../support/app.js';

/** One short non-streaming completion; returns the body and the routing headers. */
export async function ask(client: OpenAI, model: string) {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
    .withResponse();
  return {
    body: data,
    provider: response.headers.get('x-conflux-provider'),
    model: response.headers.get('x-conflux-model'),
    attempts: Number(response.headers.get('x-conflux-attempts')),
  };
}

export async function status(t: Pick<TestApp, 'url'>): Promise<any> {
  const res = await call(t, 'GET', '/v1/status');
  if (res.status !== 200) {
    throw new Error(`GET /v1/status: ${res.status}`);
  }
  return res.body;
}

export function providerStatus(body: any, id: string): any {
  return body.providers.find((p: any) => p.id === id);
}

export function modelStatus(body: any, id: string): any {
  return body.models.find((m: any) => m.id === id);
}

/**
 * Runs the app's probe round for the interval its clock is in, as its scheduler would (or waits for the round
 * already running). Only one instance sharing a database probes each interval; the others return at once.
 */
export function probeRound(t: TestApp): Promise<void> {
  return t.app.get(HealthProber).tick();
}

/** Re-reads the shared probe results into the app's snapshot, as its scheduler would. */
export function refreshSnapshot(t: TestApp): Promise<void> {
  return t.app.get(HealthProber).refresh();
}
