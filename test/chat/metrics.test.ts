import { describe, expect, it } from 'vitest';
import { countTexts } from '../../src/common/tokens.js';
import { useGateway } from '../support/gateway.js';

/** Issue 12, item 9: /metrics counts tokens and credits per model served (catalog ids only, live keys only). */
describe('per-model metrics', () => {
  const g = useGateway();

  async function metrics(): Promise<string> {
    return (await fetch(`${g.t.url}/metrics`)).text();
  }

  function value(text: string, series: string): number {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  }

  it('counts the tokens and the micro-credits of live requests by model and provider', async () => {
    const before = await metrics();
    const prompt = 'one two three four five';
    const { data, response } = await g.live.chat.completions
      .create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: prompt }], max_tokens: 3 })
      .withResponse();
    expect(data.usage).toMatchObject({ prompt_tokens: countTexts([prompt]), completion_tokens: 3 });
    const costMicro = Math.round(Number(response.headers.get('x-conflux-cost-credits')) * 1_000_000);
    expect(costMicro).toBeGreaterThan(0);
    // The test key's mock answer is no provider's traffic: not counted.
    await g.test.chat.completions.create({
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: prompt }],
    });

    const after = await metrics();
    const series = (name: string, extra = '') => `${name}{model="gpt-6-luna",provider="openai"${extra}}`;
    const delta = (s: string) => value(after, s) - value(before, s);
    expect(delta(series('conflux_model_tokens_total', ',kind="prompt"'))).toBe(countTexts([prompt]));
    expect(delta(series('conflux_model_tokens_total', ',kind="completion"'))).toBe(3);
    expect(delta(series('conflux_model_credits_micro_total'))).toBe(costMicro);
  });

  it('never makes a series of a model the catalog does not have', async () => {
    await g.live.chat.completions
      .create({ model: 'gpt-nonexistent', messages: [{ role: 'user', content: 'hi' }] })
      .catch(() => undefined);
    expect(await metrics()).not.toContain('gpt-nonexistent');
  });
});
