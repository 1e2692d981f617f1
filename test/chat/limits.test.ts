import { describe, expect, it } from 'vitest';
import { call } from '../support/app.js';
import { liveAccount, money, postChat, usageEvents } from '../support/billing.js';
import { useGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

const BODY = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };

describe('the limit on requests in flight to providers (UPSTREAM_MAX_IN_FLIGHT)', () => {
  const g = useGateway({ env: { UPSTREAM_MAX_IN_FLIGHT: '2' } });

  it('refuses a request past it at once with 503 and retry-after, holding and billing nothing, then serves again', async () => {
    const { accountId, key } = await liveAccount(g.t);
    g.fakes.openai.addFault({ kind: 'hang' }, { times: 2 });
    const clients = [new AbortController(), new AbortController()];
    const hung = clients.map((c) => postChat(g.t, key, BODY, c.signal).catch(() => null));
    const chats = () => g.fakes.openai.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
    await waitFor(() => chats() === 2, 5_000, 'two requests at the provider');

    const refused = await call(g.t, 'POST', '/v1/chat/completions', BODY, key);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error).toMatchObject({
      type: 'service_unavailable_error',
      code: 'service_unavailable',
    });
    expect(chats()).toBe(2);

    clients.forEach((c) => c.abort());
    await Promise.all(hung);
    // The two that left are billed for their prompts; their places are free again.
    await waitFor(
      async () => (await usageEvents(g.t, accountId)).length === 2,
      5_000,
      'the aborted requests billed',
    );
    const served = await call(g.t, 'POST', '/v1/chat/completions', BODY, key);
    expect(served.status).toBe(200);
    const events = await usageEvents(g.t, accountId);
    expect(events.map((e) => e.status).sort()).toEqual(['aborted', 'aborted', 'completed']);
    const m = await money(g.t, accountId);
    expect(m.ledger).toBe(m.balance);
  });
});

describe('the limit on one key’s requests in flight (KEY_MAX_CONCURRENT)', () => {
  const g = useGateway({ env: { KEY_MAX_CONCURRENT: '2' } });

  it('answers a key’s third concurrent request with 429 at once, while another key of the account is served', async () => {
    const { key } = await liveAccount(g.t);
    g.fakes.openai.addFault({ kind: 'hang' }, { times: 2 });
    const clients = [new AbortController(), new AbortController()];
    const hung = clients.map((c) => postChat(g.t, key, BODY, c.signal).catch(() => null));
    const chats = () => g.fakes.openai.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
    await waitFor(() => chats() === 2, 5_000, 'two requests at the provider');

    const refused = await call(g.t, 'POST', '/v1/chat/completions', BODY, key);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error).toMatchObject({ code: 'concurrency_limit_exceeded' });
    const other = await call(g.t, 'POST', '/v1/chat/completions', BODY, g.liveKey);
    expect(other.status).toBe(200);

    clients.forEach((c) => c.abort());
    await Promise.all(hung);
    await waitFor(
      async () => (await call(g.t, 'POST', '/v1/chat/completions', BODY, key)).status === 200,
      5_000,
      'the key served again once its requests ended',
    );
  });
});

describe('a provider that hangs', () => {
  const g = useGateway({ env: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '300' } });

  it('is failed over after its timeout', async () => {
    g.fakes.openai.addFault({ kind: 'hang' }, { times: Infinity });
    const res = await call(g.t, 'POST', '/v1/chat/completions', BODY, g.liveKey);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-conflux-provider')).toBe('anthropic');
  });

  it('ends with 504 when every candidate hangs past its timeout, JSON and stream alike', async () => {
    g.fakes.openai.addFault({ kind: 'hang' }, { times: Infinity });
    g.fakes.anthropic.addFault({ kind: 'hang' }, { times: Infinity });
    for (const stream of [false, true]) {
      const res = await call(g.t, 'POST', '/v1/chat/completions', { ...BODY, stream }, g.liveKey);
      expect(res.status).toBe(504);
      expect(res.body.error).toMatchObject({ type: 'server_error', code: 'upstream_timeout' });
    }
  });
});
