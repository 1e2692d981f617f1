import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdempotencyService } from '../../src/billing/idempotency.service.js';
import { MeteringService } from '../../src/billing/metering.service.js';
import type { Fakes } from '../fakes/index.js';
import { useGateway } from '../support/gateway.js';
import { call, startApp, type TestApp } from '../support/app.js';
import { MICRO, liveAccount, postChat, money, setBalance, usageEvents } from '../support/billing.js';

/** Money and input cases found in review: each one used to lose, double or overspend credits, or answer 500. */
describe('money stays exact when things go wrong', () => {
  const g = useGateway();
  let fakes: Fakes;
  let t: TestApp;
  beforeAll(() => {
    ({ fakes, t } = g);
  });
  beforeEach(() => {
    vi.restoreAllMocks();
  });

  it('holds max_tokens for every one of n choices: a Free account cannot overspend with n', async () => {
    const { accountId, key } = await liveAccount(t);
    await setBalance(t, accountId, 2n * MICRO);
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2000, n: 128 },
      key,
    );
    expect(res.status).toBe(402);
    expect(fakes.openai.chatRequests()).toHaveLength(0);
    expect((await money(t, accountId)).balance).toBe(2n * MICRO);
  });

  it('bills an answer whose reported usage is nonsense as estimated, instead of failing after the provider answered', async () => {
    const { accountId, key } = await liveAccount(t);
    const body = JSON.stringify({
      id: 'chatcmpl-odd',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-6-luna',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello hello' }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 5,
        completion_tokens: 2,
        total_tokens: 7,
        prompt_tokens_details: { cached_tokens: 9 },
      },
    });
    fakes.openai.addFault({ kind: 'status', status: 200, body });
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'one two three four five' }] },
      key,
    );
    expect(res.status).toBe(200);
    const [event] = await usageEvents(t, accountId);
    expect(event).toMatchObject({
      status: 'completed',
      estimated: true,
      completion_tokens: 2,
      prompt_tokens: 5,
    });
    expect(event.cost).toBe(String(5 * 10 + 2 * 50));
    expect(await money(t, accountId)).toMatchObject({ held: 0n, holds: 0 });
  });

  it('ends a stream with an error frame (never hangs) when usage cannot be recorded, and keeps the hold for the sweeper', async () => {
    const { accountId, key } = await liveAccount(t);
    vi.spyOn(t.app.get(MeteringService), 'settle').mockRejectedValue(new Error('database unavailable'));
    const res = await postChat(
      t,
      key,
      {
        model: 'gpt-6-luna',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 3,
        stream: true,
      },
      AbortSignal.timeout(5000),
    );
    const text = await res.text();
    expect(text).toContain('"error"');
    expect(text).not.toContain('[DONE]');
    expect((await money(t, accountId)).holds).toBe(1);
  });

  it('bills an Idempotency-Key request once even when storing its answer for replays fails', async () => {
    const { accountId, key } = await liveAccount(t);
    vi.spyOn(t.app.get(IdempotencyService), 'complete').mockRejectedValueOnce(new Error('blip'));
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 };
    const first = await call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': 'once' });
    expect(first.status).toBe(200);
    const retry = await call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': 'once' });
    expect(retry.status).toBe(409);
    expect(await usageEvents(t, accountId)).toHaveLength(1);
  });

  it('refuses an empty Idempotency-Key rather than ignoring it', async () => {
    const { key } = await liveAccount(t);
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 };
    const res = await call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': ' ' });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('Idempotency-Key');
  });

  it('answers 400, not 500, to a body nested thousands of levels deep, and to stream_options without stream', async () => {
    const { key } = await liveAccount(t);
    // built as text: 20,000 levels is more than JSON.stringify itself can walk
    const depth = 20_000;
    const parameters = '{"type":"object","properties":{"x":'.repeat(depth) + '{}' + '}}'.repeat(depth);
    const raw = `{"model":"gpt-6-luna","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${parameters}}}]}`;
    const res = await call(t, 'POST', '/v1/chat/completions', raw, key);
    expect(res.status).toBe(400);
    expect(res.body.error.param).toMatch(/^tools/);
    const options = await call(
      t,
      'POST',
      '/v1/chat/completions',
      {
        model: 'gpt-6-luna',
        messages: [{ role: 'user', content: 'hi' }],
        stream_options: { include_usage: true },
      },
      key,
    );
    expect(options.status).toBe(400);
    expect(options.body.error.param).toBe('stream_options');
  });

  it("never hands one account's tool-call state to another account reusing the tool call id", async () => {
    const owner = await liveAccount(t);
    const weather = {
      type: 'function' as const,
      function: { name: 'get_weather', parameters: { type: 'object' } },
    };
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: owner.key, maxRetries: 0 });
    const first = await client.chat.completions.create({
      model: 'gemini-3.8-flash',
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: [weather],
    });
    const message = first.choices[0].message;
    const history = [
      { role: 'user' as const, content: 'Weather?' },
      { role: 'assistant' as const, content: null, tool_calls: message.tool_calls },
      { role: 'tool' as const, tool_call_id: message.tool_calls![0].id, content: 'sunny' },
    ];
    // the owner continues: its state (the thought signature) goes back to Gemini
    const ok = await client.chat.completions.create({
      model: 'gemini-3.8-flash',
      messages: history,
      tools: [weather],
    });
    expect(ok.choices[0].message.content).toBeTruthy();
    // another account sends the same tool call id: it gets none of the owner's state, so Gemini refuses it
    const stranger = await liveAccount(t);
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      { model: 'gemini-3.8-flash', messages: history, tools: [weather] },
      stranger.key,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/thought_signature/);
  });

  it('keeps the ledger append-only: no DELETE or TRUNCATE while its account exists', async () => {
    const { accountId } = await liveAccount(t);
    await expect(t.db.query(`DELETE FROM credit_ledger WHERE account_id = $1`, [accountId])).rejects.toThrow(
      /append-only/,
    );
    await expect(t.db.query(`TRUNCATE credit_ledger`)).rejects.toThrow(/append-only/);
    await t.db.query(`DELETE FROM accounts WHERE id = $1`, [accountId]); // a purge takes its history with it
    expect(await t.db.query(`SELECT 1 FROM credit_ledger WHERE account_id = $1`, [accountId])).toHaveLength(
      0,
    );
  });
});

describe('sign-up and login are limited per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ AUTH_RATE_LIMIT_RPM: '3' });
  });
  afterAll(() => t.close());

  it('answers 429 with retry-after past the limit', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await call(t, 'POST', '/auth/login', {
        email: 'nobody@example.com',
        password: 'wrong-password',
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(last!.body.error.code).toBe('rate_limit_exceeded');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
