import { describe, expect, it } from 'vitest';
import { CatalogService } from '../catalog/catalog.service.js';
import { ErrorCode } from '../common/errors.js';
import type { Config } from '../config/config.js';
import { SystemClock } from '../common/clock.js';
import type { ProviderHealth } from '../health/provider-health.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { ProviderTransport, UpstreamResponse } from '../providers/transport.js';
import type { NormalizedResponse, ProviderAdapter, ProviderFailure, StreamPart } from '../providers/types.js';
import { feasibleCandidates, type Candidate } from './candidates.js';
import { FailoverRunner, type RunResult } from './failover.js';

/** A scripted provider answer: a JSON body, a stream of parts, an HTTP error status, or no connection. */
type Script =
  { json: NormalizedResponse } | { stream: StreamPart[] } | { status: number } | { unreachable: true };

const PROVIDERS: ProviderId[] = ['openai', 'anthropic', 'gemini', 'cerebras', 'groq'];

/** An adapter that maps nothing: the "provider" answers with the parts the script gives. */
function fakeAdapter(id: ProviderId): ProviderAdapter {
  return {
    id,
    buildChatRequest: () => ({ method: 'POST', url: `fake://${id}`, headers: {} }),
    parseChatResponse: (body) => body as NormalizedResponse,
    parseStream: async function* (body) {
      for await (const line of body) {
        yield JSON.parse(Buffer.from(line).toString('utf8')) as StreamPart;
      }
    },
    mapError: (status): ProviderFailure => ({
      kind: status === 400 ? 'client' : status === 401 ? 'auth' : 'retryable',
      status,
      message: `status ${status}`,
      retryAfterSeconds: status === 429 ? 7 : undefined,
    }),
    probeRequest: () => ({ method: 'GET', url: `fake://${id}`, headers: {} }),
  };
}

function response(status: number, chunks: string[], json?: unknown): UpstreamResponse {
  const body = Object.assign(
    (async function* () {
      for (const chunk of chunks) {
        yield Buffer.from(chunk);
      }
    })(),
    {
      text: () => Promise.resolve(chunks.join('')),
      json: () => Promise.resolve(json),
      destroy: () => undefined,
    },
  );
  return { status, headers: {}, body };
}

const answer = (text: string): NormalizedResponse => ({
  choices: [{ index: 0, content: text, refusal: null, toolCalls: [], finishReason: 'stop' }],
  toolState: [],
});

function setup(scripts: Partial<Record<ProviderId, Script[]>>) {
  const calls: ProviderId[] = [];
  const health: string[] = [];
  const send: ProviderTransport['send'] = (provider) => {
    calls.push(provider);
    const script = scripts[provider]?.shift() ?? { status: 503 };
    if ('unreachable' in script) {
      return Promise.resolve({
        kind: 'retryable',
        status: 0,
        message: 'unreachable',
        code: 'connection_error',
      });
    }
    if ('json' in script) {
      return Promise.resolve(response(200, [], script.json));
    }
    if ('stream' in script) {
      return Promise.resolve(
        response(
          200,
          script.stream.map((p) => JSON.stringify(p)),
        ),
      );
    }
    return Promise.resolve(response(script.status, ['error']));
  };
  const tracker: ProviderHealth = {
    rank: () => 0,
    recordSuccess: (provider) => health.push(`ok ${provider}`),
    recordFailure: (provider, _model, failure) => health.push(`fail ${provider} ${failure.status}`),
    recordSkipped: (provider) => health.push(`skip ${provider}`),

    recordLatency: () => undefined,
    latency: () => null,
    prepare: () => Promise.resolve(),
  };
  const adapters = Object.fromEntries(PROVIDERS.map((id) => [id, fakeAdapter(id)])) as Record<
    ProviderId,
    ProviderAdapter
  >;
  const config = { upstream: { firstByteTimeoutMs: 1_000, connectTimeoutMs: 1_000 } } as Config;
  const runner = new FailoverRunner(
    { send } as ProviderTransport,
    tracker,
    adapters,
    config,
    new SystemClock(),
  );
  return { runner, calls, health };
}

const catalog = new CatalogService();

/** gpt-6-luna (openai) → its fallback claude-haiku-5-5 (anthropic) → gpt-6-luna's… */
function chain(model: string, request: ChatCompletionRequest): Candidate[] {
  return feasibleCandidates({
    request,
    chain: catalog.chain(model),
    promptTokens: 10,
    enabled: () => true,
    droppable: new Set(),
    context: (deployment) => ({
      deployment,
      config: { id: deployment.provider, baseUrl: 'fake://', apiKey: 'k' },
      toolState: new Map(),
    }),
    build: () => ({ method: 'POST', url: 'fake://', headers: {} }),
  });
}

function run(runner: FailoverRunner, model: string, stream = false, signal = new AbortController().signal) {
  const request: ChatCompletionRequest = { model, messages: [{ role: 'user', content: 'hi' }], stream };
  return runner.run({ chain: chain(model, request), request, stream, signal, started: Date.now() });
}

function failed(result: RunResult) {
  if (result.kind !== 'failed') {
    throw new Error(`expected a failure, got ${result.kind}`);
  }
  return result;
}

describe('FailoverRunner', () => {
  it('answers from the first candidate that works, after failing over a 503', async () => {
    const { runner, calls, health } = setup({
      openai: [{ status: 503 }],
      anthropic: [{ json: answer('hi') }],
    });
    const result = await run(runner, 'gpt-6-luna');
    expect(result.kind).toBe('json');
    expect(result).toMatchObject({ attempts: 2, candidate: { model: { id: 'claude-haiku-5-5' } } });
    expect(calls).toEqual(['openai', 'anthropic']);
    expect(health).toEqual(['fail openai 503', 'ok anthropic']);
  });

  it('relays a 400 the request caused at once, without trying another provider', async () => {
    const { runner, calls } = setup({ openai: [{ status: 400 }] });
    const result = failed(await run(runner, 'gpt-6-luna'));
    expect(result.error.code).toBe(ErrorCode.UpstreamBadRequest);
    expect(calls).toEqual(['openai']);
  });

  it('says the gateway is misconfigured (502) when every provider refuses its credentials', async () => {
    const { runner } = setup({ openai: [{ status: 401 }], anthropic: [{ status: 401 }] });
    const result = failed(await run(runner, 'gpt-6-luna'));
    expect(result.error.code).toBe(ErrorCode.UpstreamAuth);
  });

  it('answers 503 with the last provider’s wait hint when every candidate failed', async () => {
    const { runner, calls } = setup({ openai: [{ unreachable: true }], anthropic: [{ status: 429 }] });
    const result = failed(await run(runner, 'gpt-6-luna'));
    expect(result.error.code).toBe(ErrorCode.ServiceUnavailable);
    expect(result.error.headers['retry-after']).toBe('7');
    expect(result.attempts).toBe(calls.length);
    expect(result.abandoned).toBeNull();
  });

  it('holds a stream until its first content, so a provider ending before it is passed over', async () => {
    const { runner, calls } = setup({
      openai: [
        { stream: [{ type: 'usage', usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 } }] },
      ],
      anthropic: [
        {
          stream: [
            { type: 'text', text: 'Hel' },
            { type: 'text', text: 'lo' },
            { type: 'finish', reason: 'stop' },
          ],
        },
      ],
    });
    const result = await run(runner, 'gpt-6-luna', true);
    if (result.kind !== 'stream') {
      throw new Error(result.kind);
    }
    expect(calls).toEqual(['openai', 'anthropic']);
    expect(result.head).toEqual([{ type: 'text', text: 'Hel' }]);
    expect(await result.rest.next()).toEqual({ done: false, value: { type: 'text', text: 'lo' } });
    result.cancel();
  });

  it('tries nothing once the client has gone, and says which candidate it left', async () => {
    const client = new AbortController();
    client.abort();
    const { runner, calls } = setup({ openai: [{ json: answer('hi') }] });
    const result = failed(await run(runner, 'gpt-6-luna', false, client.signal));
    expect(calls).toEqual([]);
    expect(result.abandoned).toBeNull();
  });
});
