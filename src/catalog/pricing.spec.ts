import { describe, expect, it } from 'vitest';
import { loadCatalog } from './catalog.js';
import { CatalogService } from './catalog.service.js';
import type { CatalogDeployment, CatalogModel, ResolvedPrice } from './catalog.types.js';
import { costMicro, priceAt, worstCaseMicro } from './pricing.js';

const catalog = new CatalogService();
const model = (id: string): CatalogModel => catalog.require(id);
const first = (id: string): CatalogDeployment => model(id).deployments[0];
const NOW = new Date('2026-11-24T12:00:00Z');

function price(
  inputPerM: bigint,
  cachedInputPerM: bigint,
  outputPerM: bigint,
  longContext?: ResolvedPrice['longContext'],
): ResolvedPrice {
  return {
    effectiveFrom: '2026-01-01',
    inputPerM,
    cachedInputPerM,
    outputPerM,
    longContext,
    version: 'x@openai@2026-01-01',
  };
}

describe('priceAt', () => {
  it('takes the latest version in force, switching at UTC midnight of the change date', () => {
    const argon = first('gemini-4-argon');
    const before = priceAt(argon, 'gemini-4-argon', new Date('2026-11-30T23:59:59.999Z'));
    expect(before).toMatchObject({ inputPerM: 200_000_000n, outputPerM: 1_000_000_000n });
    expect(before.version).toBe('gemini-4-argon@gemini@2026-01-01');
    const on = priceAt(argon, 'gemini-4-argon', new Date('2026-12-01T00:00:00Z'));
    expect(on).toMatchObject({
      inputPerM: 400_000_000n,
      cachedInputPerM: 40_000_000n,
      outputPerM: 2_000_000_000n,
    });
    expect(on.version).toBe('gemini-4-argon@gemini@2026-12-01');
    expect(priceAt(argon, 'gemini-4-argon', new Date('2030-01-01')).version).toBe(
      'gemini-4-argon@gemini@2026-12-01',
    );

    const flash = first('gemini-3.8-flash');
    expect(priceAt(flash, 'gemini-3.8-flash', new Date('2026-12-31T12:00:00Z')).inputPerM).toBe(75_000_000n);
    expect(priceAt(flash, 'gemini-3.8-flash', new Date('2027-01-01T12:00:00Z')).inputPerM).toBe(150_000_000n);
  });

  it('throws before the first price, and on an invalid date', () => {
    expect(() => priceAt(first('gpt-6.2-sol'), 'gpt-6.2-sol', new Date('2025-12-31T23:59:59Z'))).toThrow(
      /No price for model gpt-6.2-sol on openai/,
    );
    expect(() => priceAt(first('gpt-6.2-sol'), 'gpt-6.2-sol', new Date('nope'))).toThrow(RangeError);
  });

  it('names the deployment of a model served twice', () => {
    const oss = model('openai/gpt-oss-120b');
    expect(oss.deployments.map((d) => priceAt(d, oss.id, NOW).version)).toEqual([
      'openai/gpt-oss-120b@groq@2026-01-01',
      'openai/gpt-oss-120b@cerebras@2026-01-01',
    ]);
  });
});

describe('costMicro', () => {
  it('bills prompt and completion exactly: gpt-6.2-sol, 1,000 in + 500 out = $0.007 = 700,000 µcr', () => {
    const sol = priceAt(first('gpt-6.2-sol'), 'gpt-6.2-sol', NOW);
    // 1000 × 200,000,000 + 500 × 1,000,000,000 = 700,000,000,000 / 1e6
    expect(costMicro(sol, { promptTokens: 1000, cachedTokens: 0, completionTokens: 500 })).toBe(700_000n);
  });

  it('rounds up once on the total, never per part', () => {
    const oss20 = priceAt(first('openai/gpt-oss-20b'), 'openai/gpt-oss-20b', NOW); // 7.5 / 0.75 / 30 µcr per token
    expect(costMicro(oss20, { promptTokens: 1, cachedTokens: 0, completionTokens: 0 })).toBe(8n); // 7.5 → 8
    expect(costMicro(oss20, { promptTokens: 2, cachedTokens: 0, completionTokens: 0 })).toBe(15n); // exact
    expect(costMicro(oss20, { promptTokens: 3, cachedTokens: 1, completionTokens: 1 })).toBe(46n); // 15 + 0.75 + 30 = 45.75
    expect(costMicro(oss20, { promptTokens: 0, cachedTokens: 0, completionTokens: 0 })).toBe(0n);
    expect(costMicro(price(1n, 1n, 1n), { promptTokens: 1, cachedTokens: 0, completionTokens: 0 })).toBe(1n); // 1e-6 µcr → 1
    expect(
      costMicro(price(1_000_000n, 0n, 0n), { promptTokens: 3, cachedTokens: 0, completionTokens: 0 }),
    ).toBe(3n);
  });

  it('sums fractions before rounding: two halves make one µcr, not two', () => {
    // 0.5 µcr of prompt + 0.5 µcr of completion: rounding each part up would bill 2
    const halves = price(500_000n, 0n, 500_000n);
    expect(costMicro(halves, { promptTokens: 1, cachedTokens: 0, completionTokens: 1 })).toBe(1n);
    expect(costMicro(halves, { promptTokens: 1, cachedTokens: 0, completionTokens: 2 })).toBe(2n); // 1.5 → 2
  });

  it('stays exact for the largest token counts (bigint, never a float)', () => {
    const max = Number.MAX_SAFE_INTEGER; // 9,007,199,254,740,991 tokens
    // 200 µcr per prompt token, 1000 per completion token: 1200 × max, far past 2^53
    const flat = price(200_000_000n, 0n, 1_000_000_000n);
    expect(costMicro(flat, { promptTokens: max, cachedTokens: 0, completionTokens: max })).toBe(
      9_007_199_254_740_991n * 1_200n,
    );
    // 0.75 µcr per token: max × 0.75 = 6,755,399,441,055,743.25 → rounded up once
    expect(
      costMicro(price(0n, 750_000n, 0n), { promptTokens: max, cachedTokens: max, completionTokens: 0 }),
    ).toBe(6_755_399_441_055_744n);
  });

  it('bills cached tokens at the cached price (prompt tokens include them)', () => {
    const sol = priceAt(first('gpt-6.2-sol'), 'gpt-6.2-sol', NOW); // 200 / 10 / 1000 credits per M
    // 200 uncached × 200,000,000 + 800 cached × 10,000,000 + 100 × 1,000,000,000 = 148,000,000,000
    expect(costMicro(sol, { promptTokens: 1000, cachedTokens: 800, completionTokens: 100 })).toBe(148_000n);
    expect(costMicro(sol, { promptTokens: 1000, cachedTokens: 1000, completionTokens: 0 })).toBe(10_000n);
  });

  it('switches the whole request to the long-context tier only above the threshold', () => {
    const haiku = priceAt(first('claude-haiku-5-5'), 'claude-haiku-5-5', NOW); // ≤100K: 0.10/0.50, >100K: 0.50/2.50
    expect(costMicro(haiku, { promptTokens: 100_000, cachedTokens: 0, completionTokens: 1000 })).toBe(
      1_050_000n,
    );
    // 100,001 × 50,000,000 + 1000 × 250,000,000 = 5,250,050,000,000 → 5,250,050 µcr
    expect(costMicro(haiku, { promptTokens: 100_001, cachedTokens: 0, completionTokens: 1000 })).toBe(
      5_250_050n,
    );
    // cached tokens also move to the tier's cached price: 1 × 50,000,000 + 100,000 × 5,000,000
    expect(costMicro(haiku, { promptTokens: 100_001, cachedTokens: 100_000, completionTokens: 0 })).toBe(
      500_050n,
    );

    const astra = priceAt(first('gpt-6.2-astra'), 'gpt-6.2-astra', NOW); // >272K: input ×2, output ×1.5
    expect(costMicro(astra, { promptTokens: 272_000, cachedTokens: 0, completionTokens: 0 })).toBe(
      217_600_000n,
    );
    expect(costMicro(astra, { promptTokens: 272_001, cachedTokens: 0, completionTokens: 1 })).toBe(
      435_207_600n,
    );
  });

  it('refuses impossible usage rather than billing it', () => {
    const sol = priceAt(first('gpt-6.2-sol'), 'gpt-6.2-sol', NOW);
    expect(() => costMicro(sol, { promptTokens: 10, cachedTokens: 11, completionTokens: 0 })).toThrow(
      /exceeds promptTokens/,
    );
    expect(() => costMicro(sol, { promptTokens: -1, cachedTokens: 0, completionTokens: 0 })).toThrow(
      RangeError,
    );
    expect(() => costMicro(sol, { promptTokens: 1.5, cachedTokens: 0, completionTokens: 0 })).toThrow(
      RangeError,
    );
  });

  it('charges a different price the day a price changes', () => {
    const argon = first('gemini-4-argon');
    const usage = { promptTokens: 10_000, cachedTokens: 0, completionTokens: 1_000 };
    expect(costMicro(priceAt(argon, 'gemini-4-argon', new Date('2026-11-30T12:00:00Z')), usage)).toBe(
      3_000_000n,
    );
    expect(costMicro(priceAt(argon, 'gemini-4-argon', new Date('2026-12-01T12:00:00Z')), usage)).toBe(
      6_000_000n,
    );
  });
});

describe('worstCaseMicro', () => {
  it('takes the dearest deployment of a model served twice', () => {
    // Cerebras 0.35/0.75, Groq 0.15/0.60 (per M tokens)
    const oss = model('gpt-oss-120b');
    // Cerebras: 10,000 × 35,000,000 + 1,000 × 75,000,000 = 425,000,000,000 → 425,000 µcr (Groq: 210,000)
    expect(worstCaseMicro(oss, 10_000, 1_000, NOW)).toBe(425_000n);
    expect(worstCaseMicro(model('openai/gpt-oss-120b'), 10_000, 1_000, NOW)).toBe(425_000n);
    // qwen: Cerebras 0.99/1.49, Groq 0.80/4.00. Output-heavy: Groq is dearer (4,080,000 vs Cerebras 1,589,000)…
    expect(worstCaseMicro(model('qwen-3.8-27b'), 1_000, 10_000, NOW)).toBe(4_080_000n);
    // …prompt-only: Cerebras is (990,000 vs Groq 800,000), whatever the preference order.
    expect(worstCaseMicro(model('qwen/qwen3.8-27b'), 10_000, 0, NOW)).toBe(990_000n);
  });

  it('uses the long-context tier and the price at the given date', () => {
    // 300,000 × 1,600,000,000 + 1,000 × 6,000,000,000 → 486,000,000 µcr (4,860 credits)
    expect(worstCaseMicro(model('gpt-6.2-astra'), 300_000, 1_000, NOW)).toBe(486_000_000n);
    // 1,000 × 400,000,000 + 1,000 × 2,000,000,000 (the December price) → 2,400,000 µcr
    expect(worstCaseMicro(model('gemini-4-argon'), 1_000, 1_000, new Date('2026-12-01T00:00:00Z'))).toBe(
      2_400_000n,
    );
    expect(worstCaseMicro(model('gemini-4-argon'), 1_000, 1_000, new Date('2026-11-30T00:00:00Z'))).toBe(
      1_200_000n,
    );
  });

  it('works on a one-off catalog too', () => {
    const [m] = loadCatalog({
      models: [
        {
          id: 'x',
          owned_by: 'test',
          created: 1,
          fallback: null,
          capabilities: { tools: false, images: false, json_schema: false },
          deployments: [
            {
              provider: 'groq',
              model: 'x',
              context_window: 10,
              max_output_tokens: 5,
              unsupported_params: [],
              forced_tool_choice: true,
              prices: [{ effective_from: '2026-01-01', input: '1', cached_input: '1', output: '1' }],
            },
          ],
        },
      ],
    });
    expect(worstCaseMicro(m, 1, 1, NOW)).toBe(1n);
  });
});
