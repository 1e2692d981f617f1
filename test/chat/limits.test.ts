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
