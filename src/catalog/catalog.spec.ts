import { describe, expect, it } from 'vitest';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { PROVIDER_IDS } from '../common/provider-ids.js';
import { CatalogError, defaultCatalog, loadCatalog } from './catalog.js';
import { CatalogService } from './catalog.service.js';
import data from './models.json' with { type: 'json' };

type Raw = Record<string, any>;

function deployment(overrides: Raw = {}): Raw {
  return {
    provider: 'openai',
    model: 'm-1',
    context_window: 1000,
    max_output_tokens: 100,
    unsupported_params: [],
    forced_tool_choice: true,
    prices: [{ effective_from: '2026-01-01', input: '100', cached_input: '10', output: '400' }],
    ...overrides,
  };
}

function model(id: string, overrides: Raw = {}): Raw {
  return {
    id,
    owned_by: 'openai',
    created: 1_790_000_000,
    fallback: null,
    capabilities: { tools: true, images: false, json_schema: true },
    deployments: [deployment()],
    ...overrides,
  };
}

const catalog = (...models: Raw[]): Raw => ({ models });

function rejection(raw: unknown): string {
  try {
    loadCatalog(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(CatalogError);
    return (error as Error).message;
  }
  throw new Error('loadCatalog accepted bad data');
}

describe('loadCatalog', () => {
  it('converts snake_case JSON to the typed catalog, prices to bigint', () => {
    const [m] = loadCatalog(
      catalog(
        model('a', {
          _comment: 'ignored',
          deployments: [
            deployment({
              provider: 'groq',
              model: 'org/a',
              unsupported_params: ['top_p'],
              forced_tool_choice: false,
              reasoning_effort: { low: 'LOW' },
              prices: [
                {
                  effective_from: '2026-01-01',
                  input: '100',
                  cached_input: '10',
                  output: '400',
                  long_context: { threshold_tokens: 500, input: '200', cached_input: '20', output: '600' },
                },
              ],
            }),
            deployment({ provider: 'cerebras', context_window: 2000, max_output_tokens: 50 }),
          ],
        }),
      ),
    );
    expect(m).toEqual({
      id: 'a',
      ownedBy: 'openai',
      created: 1_790_000_000,
      contextWindow: 2000,
      maxOutputTokens: 100,
      fallback: null,
      capabilities: { tools: true, images: false, jsonSchema: true },
      deployments: [
        {
          provider: 'groq',
          providerModel: 'org/a',
          contextWindow: 1000,
          maxOutputTokens: 100,
          unsupportedParams: ['top_p'],
          forcedToolChoice: false,
          reasoningEffort: { low: 'LOW' },
          prices: [
            {
              effectiveFrom: '2026-01-01',
              inputPerM: 100n,
              cachedInputPerM: 10n,
              outputPerM: 400n,
              longContext: { thresholdTokens: 500, inputPerM: 200n, cachedInputPerM: 20n, outputPerM: 600n },
            },
          ],
        },
        expect.objectContaining({ provider: 'cerebras', contextWindow: 2000, maxOutputTokens: 50 }),
      ],
    });
    expect(m.deployments[1]).not.toHaveProperty('reasoningEffort');
  });

  it.each<[string, unknown, RegExp]>([
    ['a catalog that is not an object', [], /must be an object with a "models" array/],
    ['no models', { models: [] }, /`models` must list at least one model/],
    [
      'an unknown provider',
      catalog(model('a', { deployments: [deployment({ provider: 'azure' })] })),
      /model "a"\.deployments\[0\]: `provider` "azure" is not a known provider/,
    ],
    [
      'a price that is a number',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [{ effective_from: '2026-01-01', input: 100, cached_input: '10', output: '400' }],
            }),
          ],
        }),
      ),
      /model "a"\.deployments\[0\]\.prices\[0\]: `input` must be an integer number of micro-credits/,
    ],
    [
      'a fractional price',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [{ effective_from: '2026-01-01', input: '7.5', cached_input: '1', output: '30' }],
            }),
          ],
        }),
      ),
      /`input` must be an integer .* got "7\.5"/,
    ],
    [
      'a negative price',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [{ effective_from: '2026-01-01', input: '-1', cached_input: '1', output: '30' }],
            }),
          ],
        }),
      ),
      /`input` must be an integer/,
    ],
    [
      'prices not sorted by date',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [
                { effective_from: '2026-12-01', input: '2', cached_input: '1', output: '3' },
                { effective_from: '2026-01-01', input: '1', cached_input: '1', output: '2' },
              ],
            }),
          ],
        }),
      ),
      /model "a"\.deployments\[0\]: `prices\[1\]\.effective_from` must be later than the previous version's \(2026-12-01\)/,
    ],
    [
      'two prices on one date',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [
                { effective_from: '2026-01-01', input: '2', cached_input: '1', output: '3' },
                { effective_from: '2026-01-01', input: '1', cached_input: '1', output: '2' },
              ],
            }),
          ],
        }),
      ),
      /`prices\[1\]\.effective_from` must be later/,
    ],
    [
      'a date that is not ISO',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [{ effective_from: '01/12/2026', input: '1', cached_input: '1', output: '1' }],
            }),
          ],
        }),
      ),
      /`effective_from` must be an ISO date/,
    ],
    [
      'a date that does not exist',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [{ effective_from: '2026-02-30', input: '1', cached_input: '1', output: '1' }],
            }),
          ],
        }),
      ),
      /`effective_from` is not a calendar date/,
    ],
    [
      'no price',
      catalog(model('a', { deployments: [deployment({ prices: [] })] })),
      /model "a"\.deployments\[0\]: `prices` must hold at least one price version/,
    ],
    [
      'no deployment',
      catalog(model('a', { deployments: [] })),
      /model "a": `deployments` must list at least one deployment/,
    ],
    [
      'one provider twice',
      catalog(model('a', { deployments: [deployment(), deployment()] })),
      /model "a": `deployments\[1\]\.provider` "openai" is listed twice/,
    ],
    [
      'duplicate ids',
      catalog(model('a'), model('b'), model('a')),
      /model "a": `id` is used by more than one model/,
    ],
    [
      'a fallback to an unknown model',
      catalog(model('a', { fallback: 'ghost' })),
      /model "a": `fallback` "ghost" is not a model of the catalog/,
    ],
    [
      'a fallback to itself',
      catalog(model('a', { fallback: 'a' })),
      /model "a": `fallback` names the model itself/,
    ],
    ['a missing id', catalog(model('a', { id: undefined })), /models\[0\]: `id` must be a non-empty string/],
    [
      'a misspelt field',
      catalog(model('a', { deployments: [{ ...deployment(), unsuported_params: [] }] })),
      /`unsuported_params` is not a known field/,
    ],
    [
      'a non-integer context window',
      catalog(model('a', { deployments: [deployment({ context_window: 1.5 })] })),
      /`context_window` must be a positive integer, got 1\.5/,
    ],
    [
      'max output above the context window',
      catalog(model('a', { deployments: [deployment({ max_output_tokens: 5000 })] })),
      /`max_output_tokens` \(5000\) exceeds context_window \(1000\)/,
    ],
    [
      'a capability that is not a boolean',
      catalog(model('a', { capabilities: { tools: 'yes', images: false, json_schema: true } })),
      /model "a"\.capabilities: `tools` must be true or false/,
    ],
    [
      'an empty reasoning map',
      catalog(model('a', { deployments: [deployment({ reasoning_effort: {} })] })),
      /`reasoning_effort` must map at least one value/,
    ],
    [
      'a non-string reasoning value',
      catalog(model('a', { deployments: [deployment({ reasoning_effort: { low: 1 } })] })),
      /`reasoning_effort\.low` must be a non-empty string/,
    ],
    [
      'a bad long-context threshold',
      catalog(
        model('a', {
          deployments: [
            deployment({
              prices: [
                {
                  effective_from: '2026-01-01',
                  input: '1',
                  cached_input: '1',
                  output: '1',
                  long_context: { threshold_tokens: 0, input: '2', cached_input: '2', output: '2' },
                },
              ],
            }),
          ],
        }),
      ),
      /prices\[0\]\.long_context: `threshold_tokens` must be a positive integer/,
    ],
  ])('rejects %s, naming the model and field', (_name, raw, message) => {
    expect(rejection(raw)).toMatch(message);
  });
});

describe('the shipped models.json', () => {
  const models = loadCatalog(data);
  const byId = new Map(models.map((m) => [m.id, m]));

  it('loads the 16 models of providers.md §7', () => {
    expect(models.map((m) => m.id).sort()).toEqual(
      [
        'gpt-6.2-astra',
        'gpt-6.2-sol',
        'gpt-6.1-terra',
        'gpt-6-luna',
        'claude-fable-5-2',
        'claude-opus-5-5',
        'claude-sonnet-5-5',
        'claude-haiku-5-5',
        'gemini-4-argon',
        'gemini-3.8-flash',
        'gemini-3.5-flash-lite',
        'gpt-oss-120b',
        'qwen-3.8-27b',
        'openai/gpt-oss-120b',
        'qwen/qwen3.8-27b',
        'openai/gpt-oss-20b',
      ].sort(),
    );
    expect(defaultCatalog()).toEqual(models);
  });

  it('resolves every fallback to a model of the catalog', () => {
    for (const model of models) {
      expect(model.fallback, model.id).not.toBeNull();
      expect(byId.has(model.fallback!), `${model.id} → ${model.fallback}`).toBe(true);
    }
    expect(byId.get('gpt-oss-120b')?.fallback).toBe('openai/gpt-oss-20b');
    expect(byId.get('qwen/qwen3.8-27b')?.fallback).toBe('openai/gpt-oss-120b');
  });

  it('serves the open-weights pairs from Cerebras and Groq, in the preferred order', () => {
    const providers = (id: string) =>
      byId.get(id)?.deployments.map((d) => `${d.provider}:${d.providerModel}`);
    expect(providers('gpt-oss-120b')).toEqual(['cerebras:gpt-oss-120b', 'groq:openai/gpt-oss-120b']);
    expect(providers('openai/gpt-oss-120b')).toEqual(['groq:openai/gpt-oss-120b', 'cerebras:gpt-oss-120b']);
    expect(providers('qwen-3.8-27b')).toEqual(['cerebras:qwen-3.8-27b', 'groq:qwen/qwen3.8-27b']);
    expect(providers('qwen/qwen3.8-27b')).toEqual(['groq:qwen/qwen3.8-27b', 'cerebras:qwen-3.8-27b']);
    expect(models.filter((m) => m.deployments.length >= 2).length).toBeGreaterThanOrEqual(4);
    // Same model, different prices per provider.
    const oss = byId.get('gpt-oss-120b')!;
    expect(oss.deployments[0].prices[0].inputPerM).toBe(35_000_000n);
    expect(oss.deployments[1].prices[0].inputPerM).toBe(15_000_000n);
  });

  it('carries the per-model quirks of providers.md', () => {
    const d = (id: string) => byId.get(id)!.deployments[0];
    for (const id of ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-fable-5-2']) {
      expect(d(id).forcedToolChoice, id).toBe(false);
    }
    expect(d('claude-haiku-5-5').forcedToolChoice).toBe(true);
    expect(d('claude-sonnet-5-5').unsupportedParams).toEqual(['temperature', 'top_p']);
    expect(d('gemini-3.5-flash-lite').unsupportedParams).toEqual(['presence_penalty', 'frequency_penalty']);
    expect(d('gpt-6.2-astra').reasoningEffort).toMatchObject({ none: 'low', minimal: 'low', high: 'high' });
    expect(d('gemini-4-argon').reasoningEffort).toEqual({
      minimal: 'MINIMAL',
      low: 'LOW',
      medium: 'MEDIUM',
      high: 'HIGH',
    });
    expect(d('claude-opus-5-5').reasoningEffort).toHaveProperty('max', 'max');
    expect(d('claude-opus-5-5').reasoningEffort).not.toHaveProperty('none');
    expect(byId.get('qwen/qwen3.8-27b')!.maxOutputTokens).toBe(32_768); // the largest of its deployments
    expect(d('qwen/qwen3.8-27b').maxOutputTokens).toBe(16_384);
  });

  it('prices every deployment from the launch date, with the two Gemini price changes', () => {
    for (const model of models) {
      for (const dep of model.deployments) {
        expect(dep.prices[0].effectiveFrom, model.id).toBe('2026-01-01');
        expect(PROVIDER_IDS).toContain(dep.provider);
      }
    }
    expect(byId.get('gemini-4-argon')!.deployments[0].prices.map((p) => p.effectiveFrom)).toEqual([
      '2026-01-01',
      '2026-12-01',
    ]);
    expect(byId.get('gemini-3.8-flash')!.deployments[0].prices[1]).toMatchObject({
      effectiveFrom: '2027-01-01',
      inputPerM: 150_000_000n,
      outputPerM: 750_000_000n,
    });
    expect(byId.get('gpt-6.2-astra')!.deployments[0].prices[0]).toMatchObject({
      inputPerM: 800_000_000n,
      outputPerM: 4_000_000_000n,
      longContext: { thresholdTokens: 272_000, inputPerM: 1_600_000_000n, outputPerM: 6_000_000_000n },
    });
    expect(byId.get('claude-haiku-5-5')!.deployments[0].prices[0].longContext).toEqual({
      thresholdTokens: 100_000,
      inputPerM: 50_000_000n,
      cachedInputPerM: 5_000_000n,
      outputPerM: 250_000_000n,
    });
  });
});

describe('CatalogService', () => {
  const service = new CatalogService();

  it('lists, gets and requires models', () => {
    expect(service.list()).toHaveLength(16);
    expect(service.get('openai/gpt-oss-20b')?.deployments[0].provider).toBe('groq');
    expect(service.get('gpt-4o')).toBeUndefined();
    expect(service.require('gpt-6.2-sol').id).toBe('gpt-6.2-sol');
  });

  it('answers an unknown model with model_not_found on param model', () => {
    let thrown: unknown;
    try {
      service.require('gpt-4o');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GatewayError);
    expect(thrown).toMatchObject({
      code: ErrorCode.ModelNotFound,
      param: 'model',
      message: 'The model `gpt-4o` does not exist or you do not have access to it.',
    });
    expect(() => service.chain('gpt-4o')).toThrow(GatewayError);
  });

  it('builds fallback chains that stop before a model repeats', () => {
    const ids = (id: string) => service.chain(id).map((m) => m.id);
    expect(ids('gpt-6.2-astra')).toEqual(['gpt-6.2-astra', 'claude-fable-5-2']);
    expect(ids('qwen-3.8-27b')).toEqual([
      'qwen-3.8-27b',
      'gpt-oss-120b',
      'openai/gpt-oss-20b',
      'openai/gpt-oss-120b',
    ]);
    expect(ids('gpt-6.1-terra')).toEqual(['gpt-6.1-terra', 'gemini-3.8-flash']);
    for (const model of service.list()) {
      const chain = ids(model.id);
      expect(chain[0]).toBe(model.id);
      expect(new Set(chain).size, model.id).toBe(chain.length);
      expect(chain.length).toBeGreaterThanOrEqual(2);
    }
  });

  it('follows a longer cycle and a chain that ends, in an injected catalog', () => {
    const custom = new CatalogService(
      loadCatalog(
        catalog(
          model('a', { fallback: 'b' }),
          model('b', { fallback: 'c' }),
          model('c', { fallback: 'a' }),
          model('d', { fallback: 'a' }),
          model('e'),
        ),
      ),
    );
    expect(custom.chain('d').map((m) => m.id)).toEqual(['d', 'a', 'b', 'c']);
    expect(custom.chain('e').map((m) => m.id)).toEqual(['e']);
  });
});
