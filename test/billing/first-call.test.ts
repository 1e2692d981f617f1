import { describe, expect, it } from 'vitest';
import { call, createKey, signup } from '../support/app.js';
import { money, setBalance } from '../support/billing.js';
import { client, useGateway } from '../support/gateway.js';

/** The `max_tokens` (or `max_completion_tokens`) the fake OpenAI received. */
function sentLimit(body: unknown): number | undefined {
  const b = body as { max_completion_tokens?: number; max_tokens?: number };
  return b.max_completion_tokens ?? b.max_tokens;
}

describe('a plain SDK call (no max_tokens) on a Free account', () => {
  const g = useGateway();

  it('works on the dearest model with a new account: the provider is asked for what the balance can pay', async () => {
    const { token, accountId } = await signup(g.t);
    const { key } = await createKey(g.t, token, 'live');
    // gpt-6.2-astra: 800 credits per million prompt tokens, 4,000 per million completion tokens. Its maximum output
    // (128,000 tokens) would cost 512 credits: more than a new account's 500.
    const { data, response } = await client(g.t, key)
      .chat.completions.create({ model: 'gpt-6.2-astra', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    const limit = Number(response.headers.get('x-conflux-max-tokens'));
    expect(limit).toBeGreaterThan(100_000);
    expect(limit).toBeLessThan(128_000);
    expect(sentLimit(g.fakes.openai.requests.find((r) => r.method === 'POST')?.body)).toBe(limit);
    expect(data.usage?.completion_tokens).toBe(limit);
    const m = await money(g.t, accountId);
    expect(m.balance).toBeGreaterThanOrEqual(0n);
    expect(m.ledger).toBe(m.balance);
  });

  it("the README's example (claude-sonnet-5-5, no max_tokens) costs its short answer, not the model's maximum", async () => {
    const { token } = await signup(g.t);
    const { key } = await createKey(g.t, token, 'live');
    const { data, response } = await client(g.t, key)
      .chat.completions.create({
        model: 'claude-sonnet-5-5',
        messages: [{ role: 'user', content: 'Hello!' }],
      })
      .withResponse();
    // Anthropic requires max_tokens: the gateway sends the largest the balance allows, and the model stops on its own.
    const sent = g.fakes.anthropic.requests.find((r) => r.method === 'POST')?.body as { max_tokens: number };
    expect(sent.max_tokens).toBeGreaterThan(1_024);
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage?.completion_tokens).toBe(8);
    expect(Number(response.headers.get('x-conflux-cost-credits'))).toBeLessThan(1);
  });

  it('is served with a smaller answer on a small balance, and refused only when 1,024 tokens are not affordable', async () => {
    const { token, accountId } = await signup(g.t);
    const { key } = await createKey(g.t, token, 'live');
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }] };
    // gpt-6-luna: 10 µcr per prompt token, 50 per completion token.
    await setBalance(g.t, accountId, 200_000n);
    const served = await call(g.t, 'POST', '/v1/chat/completions', body, key);
    expect(served.status).toBe(200);
    const limit = Number(served.headers.get('x-conflux-max-tokens'));
    expect(limit).toBe(Math.floor((200_000 - 10) / 50)); // 'hi' is one prompt token
    expect((await money(g.t, accountId)).balance).toBe(200_000n - 10n - 3_999n * 50n);

    await setBalance(g.t, accountId, 50_000n); // 1,024 tokens need 51,210 µcr
    const refused = await call(g.t, 'POST', '/v1/chat/completions', body, key);
    expect(refused.status).toBe(402);
    expect(refused.body.error.code).toBe('insufficient_quota');
    expect(refused.body.error.message).toContain('0.05 available');
    expect(refused.body.error.message).toContain('at least 0.05121 credits');
  });

  it('never changes a max_tokens the client set: 402 when it is not affordable', async () => {
    const { token, accountId } = await signup(g.t);
    const { key } = await createKey(g.t, token, 'live');
    await setBalance(g.t, accountId, 100_000n);
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5_000 };
    const refused = await call(g.t, 'POST', '/v1/chat/completions', body, key);
    expect(refused.status).toBe(402);
    expect(refused.body.error.message).toContain('Lower max_tokens');
    const fits = await call(g.t, 'POST', '/v1/chat/completions', { ...body, max_tokens: 1_000 }, key);
    expect(fits.status).toBe(200);
    expect(fits.headers.get('x-conflux-max-tokens')).toBeNull();
    expect(fits.body.usage.completion_tokens).toBe(1_000);
  });
});

describe('prices that match the bill', () => {
  const g = useGateway();

  it('charges a request at the price GET /v1/models shows for the provider that served it', async () => {
    const { token, accountId } = await signup(g.t);
    const { key } = await createKey(g.t, token, 'live');
    const model = (await call(g.t, 'GET', '/v1/models/gpt-oss-120b', undefined, key)).body;
    const res = await call(
      g.t,
      'POST',
      '/v1/chat/completions',
      {
        model: 'gpt-oss-120b',
        messages: [{ role: 'user', content: 'one two three four five' }],
        max_tokens: 100,
      },
      key,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-conflux-provider')).toBe(model.pricing.provider);
    const credits = (perMillion: string, tokens: number) => (Number(perMillion) * tokens) / 1_000_000;
    const { prompt_tokens, completion_tokens } = res.body.usage;
    const expected =
      credits(model.pricing.input_credits_per_million_tokens, prompt_tokens) +
      credits(model.pricing.output_credits_per_million_tokens, completion_tokens);
    expect(Number(res.body.usage.cost_credits)).toBeCloseTo(expected, 6);
    const m = await money(g.t, accountId);
    expect(m.ledger).toBe(m.balance);
  });
});
