import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import type { FakeProvider, RecordedRequest } from '../fakes/base.js';
import type { Fakes } from '../fakes/index.js';
import { call, type TestApp } from '../support/app.js';

/**
 * Shared set-up of the chat e2e suites: the five fake providers, the app pointed at them, an account with a live
 * and a test key, and OpenAI SDK clients (v6, no retries: every error surfaces as the SDK's exception at once).
 */
export { client, gatewayEnv, startGateway, useGateway, type Gateway } from '../support/gateway.js';

export interface ProviderCase {
  provider: 'openai' | 'anthropic' | 'gemini' | 'cerebras' | 'groq';
  model: string;
  images: boolean;
  /**
   * Environment that pins the model to this provider. gpt-oss-120b is also served by Groq, and the router
   * currently puts the cheaper deployment first (see routing.test.ts): without Groq configured, the first
   * deployment (Cerebras) is the only one.
   */
  env?: Record<string, string>;
  fake: (fakes: Fakes) => FakeProvider;
  /** The system prompt texts of a native request body. */
  systemTexts: (body: any) => string[];
}

const openAiFamilySystem = (body: any): string[] =>
  (body.messages as any[])
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .flatMap((m) => (typeof m.content === 'string' ? [m.content] : m.content.map((p: any) => p.text)));

export const PROVIDERS: ProviderCase[] = [
  {
    provider: 'openai',
    model: 'gpt-6-luna',
    images: true,
    fake: (f) => f.openai,
    systemTexts: openAiFamilySystem,
  },
  {
    provider: 'anthropic',
    model: 'claude-haiku-5-5',
    images: true,
    fake: (f) => f.anthropic,
    systemTexts: (body) =>
      body.system === undefined
        ? []
        : typeof body.system === 'string'
          ? [body.system]
          : body.system.map((b: any) => b.text),
  },
  {
    provider: 'gemini',
    model: 'gemini-3.8-flash',
    images: true,
    fake: (f) => f.gemini,
    systemTexts: (body) => (body.systemInstruction?.parts ?? []).map((p: any) => p.text),
  },
  {
    provider: 'cerebras',
    model: 'gpt-oss-120b',
    images: false,
    env: { GROQ_API_KEY: '' },
    fake: (f) => f.cerebras,
    systemTexts: openAiFamilySystem,
  },
  {
    provider: 'groq',
    model: 'openai/gpt-oss-20b',
    images: false,
    fake: (f) => f.groq,
    systemTexts: openAiFamilySystem,
  },
];

export const WEATHER_TOOL: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: {
      type: 'object',
      properties: { location: { type: 'string' } },
      required: ['location'],
    },
  },
};

/** The deterministic text of the fakes for `max_tokens: n` (test/fakes/base.ts). */
export function fakeText(n: number): string {
  return ['Hello', ...Array.from({ length: n - 1 }, () => ' hello')].join('');
}

/** A 1×1 transparent PNG. */
export const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
export const PNG_DATA_URI = `data:image/png;base64,${PNG_BASE64}`;

/** The last chat request a fake received (its native body). */
export function lastChat(fake: FakeProvider): RecordedRequest & { body: any } {
  const requests = fake.chatRequests();
  if (requests.length === 0) {
    throw new Error(`${fake.name} received no chat request`);
  }
  return requests[requests.length - 1] as RecordedRequest & { body: any };
}

export function chatCount(fakes: Fakes): number {
  return fakes.all.reduce((sum, fake) => sum + fake.chatRequests().length, 0);
}

/** A raw streamed answer: status, headers and the SSE `data:` payloads in order. */
export interface RawStream {
  status: number;
  headers: Headers;
  text: string;
  /** Every `data:` payload, `[DONE]` included, as written. */
  data: string[];
}

export async function rawChat(
  t: TestApp,
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawStream> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, data: sseData(text) };
}

/** The `data:` payloads of an SSE body (comments and other fields ignored). */
export function sseData(text: string): string[] {
  return text
    .split(/\r?\n\r?\n/)
    .map((frame) =>
      frame
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n'),
    )
    .filter((data) => data !== '');
}

export { call };
