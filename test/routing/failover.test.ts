import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/gateway.js';
import { ask } from './support.js';

/**
 * Failover on live traffic. Probes run once at start (a long interval) and circuits need many failures, so
 * what is tested here is the chain itself: every failure below is met by a live request.
 */
describe('failover chain', () => {
  const r = useGateway({ env: { HEALTH_PROBE_INTERVAL_MS: '600000', BREAKER_FAILURE_THRESHOLD: '1000' } });

  it('serves the same model at the next provider when the preferred one is down', async () => {
    r.fakes.groq.addFault({ kind: 'down' }, { times: Infinity });
    const res = await ask(r.live, 'openai/gpt-oss-120b');
    expect(res.provider).toBe('cerebras');
    expect(res.model).toBe('openai/gpt-oss-120b');
    expect(res.body.model).toBe('openai/gpt-oss-120b');
    expect(res.attempts).toBe(2);
    expect(res.body.choices[0].message.content).toBe('Hello hello hello');
    expect(r.fakes.groq.chatRequests()).toHaveLength(1);
    expect(r.fakes.cerebras.chatRequests()).toHaveLength(1);
  });

  it('fails over on 5xx, 529 and 429 from the provider', async () => {
    r.fakes.openai.addFault({ kind: 'status', status: 500 });
    expect((await ask(r.live, 'gpt-6-luna')).provider).toBe('anthropic');
    r.fakes.openai.addFault({ kind: 'rate_limit' });
    expect((await ask(r.live, 'gpt-6-luna')).provider).toBe('anthropic');
    r.fakes.anthropic.addFault({ kind: 'status', status: 529 });
    expect((await ask(r.live, 'claude-haiku-5-5')).provider).toBe('openai');
  });

  it('serves the fallback model when every deployment of the model is down, and says so', async () => {
    r.fakes.openai.addFault({ kind: 'down' }, { times: Infinity });
    const res = await ask(r.live, 'gpt-6-luna');
    expect(res.provider).toBe('anthropic');
    expect(res.model).toBe('claude-haiku-5-5');
    expect(res.body.model).toBe('claude-haiku-5-5');
    expect(res.attempts).toBe(2);
  });

  it('answers 503 in the OpenAI shape when everything is down', async () => {
    r.fakes.openai.addFault({ kind: 'down' }, { times: Infinity });
    r.fakes.anthropic.addFault({ kind: 'down' }, { times: Infinity });
    const error = await r.live.chat.completions
      .create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    const api = error as InstanceType<typeof OpenAI.InternalServerError>;
    expect(api.status).toBe(503);
    expect(api.error).toMatchObject({ type: 'service_unavailable_error', code: 'service_unavailable' });
    expect(api.message).toMatch(/gpt-6-luna/);
    expect(api.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(api.headers.get('x-should-retry')).toBe('false');
    expect(api.headers.get('x-conflux-attempts')).toBe('2');
  });

  it('does not fail over a 400 caused by the request: the client gets it', async () => {
    r.fakes.groq.addFault({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        error: {
          message: 'messages[0].name is not supported',
          type: 'invalid_request_error',
          param: 'messages',
        },
      }),
    });
    const error = await r.live.chat.completions
      .create({ model: 'openai/gpt-oss-120b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/not supported/);
    expect(r.fakes.groq.chatRequests()).toHaveLength(1);
    expect(r.fakes.cerebras.chatRequests()).toHaveLength(0);
  });

  it.each([
    ['a 503 before the stream starts', { kind: 'status', status: 503 } as const],
    ['an error event before any content', { kind: 'stream_error', afterChunks: 0 } as const],
    ['a cut before any content', { kind: 'cut', afterChunks: 0 } as const],
  ])('passes a stream over silently on %s: the client sees one clean stream', async (_, fault) => {
    r.fakes.groq.addFault(fault);
    const { data: stream, response } = await r.live.chat.completions
      .create({
        model: 'openai/gpt-oss-120b',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 4,
        stream: true,
      })
      .withResponse();
    expect(response.headers.get('x-conflux-provider')).toBe('cerebras');
    expect(response.headers.get('x-conflux-attempts')).toBe('2');
    const ids = new Set<string>();
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('Hello hello hello hello');
    expect(finish).toBe('stop');
    expect(ids.size).toBe(1);
    expect(r.fakes.groq.chatRequests()).toHaveLength(1);
  });

  it('ends a stream cut after its first token with an error event, without failing over', async () => {
    r.fakes.groq.addFault({ kind: 'cut', afterChunks: 2 });
    const stream = await r.live.chat.completions.create({
      model: 'openai/gpt-oss-120b',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 6,
      stream: true,
    });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
      }
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(text).toBe('Hello hello');
    expect(r.fakes.cerebras.chatRequests()).toHaveLength(0);
  });
});
