import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { fakeText, useGateway } from './support.js';

/**
 * A provider refusing OUR key (401/403, or Gemini's 400 API_KEY_INVALID) is a configuration error of the
 * gateway, not the client's: the gateway alerts in its log and fails over; when nothing else serves it answers 503
 * (502 when every provider tried refused our credentials) — never a 401 (the client's key is fine) nor a 400.
 *
 * Its own file: the app's logs are checked, and nestjs-pino keeps one root logger per process, so only the first
 * app started in a test file logs into its own captured stream.
 */
type ApiError = InstanceType<typeof OpenAI.APIError>;

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.APIError);
  return error as ApiError;
}

const hi = [{ role: 'user' as const, content: 'hi' }];

describe('our own provider key refused (provider 401/403, Gemini 400 API_KEY_INVALID)', () => {
  const g = useGateway({ env: { ANTHROPIC_API_KEY: 'sk-ant-wrong', GEMINI_API_KEY: 'AIza-wrong' } });

  it('fails over to the fallback model and alerts in the log: never a 401 to the client', async () => {
    const { data, response } = await g.live.chat.completions
      .create({ model: 'claude-haiku-5-5', messages: hi, max_tokens: 2 })
      .withResponse();
    expect(data.choices[0].message.content).toBe(fakeText(2));
    expect(response.headers.get('x-conflux-provider')).toBe('openai');
    expect(response.headers.get('x-conflux-model')).toBe('gpt-6-luna');
    // the alert names the setting to fix (whether the health probe or the live call met the 401 first)
    expect(g.t.logs()).toContain('ANTHROPIC_API_KEY');
  });

  it('Gemini’s 400 for a bad key is our fault too: failover, not a 400 to the client', async () => {
    const res = await g.live.chat.completions.create({
      model: 'gemini-3.8-flash',
      messages: hi,
      max_tokens: 2,
    });
    expect(res.model).toBe('gpt-6.1-terra');
    expect(g.t.logs()).toContain('GEMINI_API_KEY');
  });

  it('when nothing else serves: 503 InternalServerError, not AuthenticationError', async () => {
    g.fakes.openai.addFault({ kind: 'status', status: 503 }, { times: Infinity });
    for (const stream of [false, true]) {
      const error = await failure(
        g.live.chat.completions.create({ model: 'claude-haiku-5-5', messages: hi, stream }),
      );
      expect(error).not.toBeInstanceOf(OpenAI.AuthenticationError);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error.status).toBe(503);
    }
  });

  it('every provider tried refusing our credentials: 502, not 503 and not 401', async () => {
    g.fakes.openai.addFault({ kind: 'status', status: 401 }, { times: Infinity });
    const error = await failure(g.live.chat.completions.create({ model: 'claude-haiku-5-5', messages: hi }));
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.status).toBe(502);
    expect((error.error as { code?: string }).code).toBe('upstream_auth_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
  });

  it('a provider 403 is treated the same way', async () => {
    g.fakes.groq.addFault({ kind: 'status', status: 403 }, { times: Infinity });
    const res = await g.live.chat.completions.create({
      model: 'openai/gpt-oss-120b',
      messages: hi,
      max_tokens: 1,
    });
    expect(res.choices[0].message.content).toBe('Hello');
    expect(g.fakes.cerebras.chatRequests()).toHaveLength(1);
  });
});
