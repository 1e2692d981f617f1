import { describe, expect, it } from 'vitest';
import { CatalogService } from '../catalog/catalog.service.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { ProviderId } from '../common/provider-ids.js';
import { feasibleCandidates, rank, type Candidate } from './candidates.js';
import { DEFAULT_PREFERENCES, type RoutePreferences } from './preferences.js';

const catalog = new CatalogService();

function feasible(
  request: Partial<ChatCompletionRequest> & { model: string },
  options: {
    enabled?: (p: ProviderId) => boolean;
    refuse?: (c: Candidate) => boolean;
    prompt?: number;
    prefs?: Partial<RoutePreferences>;
    droppable?: string[];
  } = {},
): Candidate[] {
  const full: ChatCompletionRequest = { messages: [{ role: 'user', content: 'hi' }], ...request };
  return feasibleCandidates({
    request: full,
    chain: catalog.chain(full.model),
    promptTokens: options.prompt ?? 10,
    enabled: options.enabled ?? (() => true),
    droppable: new Set(options.droppable ?? []),
    preferences: { ...DEFAULT_PREFERENCES, ...options.prefs },
    context: (deployment) => ({
      deployment,
      config: { id: deployment.provider, baseUrl: 'fake://', apiKey: 'k' },
      toolState: new Map(),
    }),
    build: (c) => {
      if (options.refuse?.(c)) {
        throw new GatewayError(ErrorCode.UnsupportedParameter, 'refused by the adapter', { param: 'x' });
      }
      return { method: 'POST', url: 'fake://', headers: {} };
    },
  });
}

const names = (list: Candidate[]) => list.map((c) => `${c.model.id}@${c.deployment.provider}`);

function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected a refusal');
}

describe('feasibleCandidates', () => {
  it('lists the requested model’s deployments, then its fallbacks’, each deployment once', () => {
    expect(names(feasible({ model: 'gpt-oss-120b' }))).toEqual(
      expect.arrayContaining(['gpt-oss-120b@cerebras', 'gpt-oss-120b@groq']),
    );
    const list = feasible({ model: 'gpt-6-luna' });
    expect(list[0]).toMatchObject({ primary: true, model: { id: 'gpt-6-luna' } });
    expect(list.slice(1).every((c) => !c.primary)).toBe(true);
  });

  it('maps the requested model’s deployments up front (their provider request is ready), not the fallbacks’', () => {
    const list = feasible({ model: 'gpt-6-luna' });
    expect(list.filter((c) => c.primary).every((c) => c.upstream)).toBe(true);
    expect(list.filter((c) => !c.primary).every((c) => !c.upstream)).toBe(true);
  });

  it('refuses with a 400 naming the parameter when the requested model cannot take it anywhere', () => {
    const error = refusal(() => feasible({ model: 'gpt-6-luna', max_tokens: 10_000_000 }));
    expect(error).toMatchObject({ code: ErrorCode.InvalidRequest, param: 'max_tokens' });
  });

  it('refuses with the adapter’s own 400 when every configured provider of the model refuses the request', () => {
    const error = refusal(() => feasible({ model: 'gpt-6-luna' }, { refuse: (c) => c.primary }));
    expect(error).toMatchObject({ code: ErrorCode.UnsupportedParameter, param: 'x' });
  });

  it('leaves out a fallback that cannot serve the request instead of refusing it', () => {
    const withTools = feasible(
      { model: 'gpt-6-luna', tools: [{ type: 'function', function: { name: 'f' } }] },
      { refuse: (c) => !c.primary },
    );
    expect(withTools.length).toBeGreaterThan(0);
  });

  it('answers the context-window 400 when the prompt fits no deployment of the model', () => {
    const error = refusal(() => feasible({ model: 'gpt-oss-120b' }, { prompt: 10_000_000 }));
    expect(error).toMatchObject({ code: ErrorCode.ContextLengthExceeded, param: 'messages' });
  });

  it('keeps no candidate of a provider without a key (→ 503 later, not a 400)', () => {
    const list = feasible({ model: 'gpt-6-luna' }, { enabled: (p) => p !== 'openai' });
    expect(list.some((c) => c.deployment.provider === 'openai')).toBe(false);
  });
});

describe('rank', () => {
  it('keeps model order, puts healthy before degraded and the cheaper first, and drops what is down', () => {
    const list = feasible({ model: 'gpt-oss-120b' });
    const byProvider = (p: ProviderId, value: number) => (c: Candidate) =>
      c.deployment.provider === p ? value : 0;
    const cheapGroq = rank(list, { health: () => 0, cost: (c) => BigInt(byProvider('cerebras', 9)(c)) });
    expect(names(cheapGroq).slice(0, 2)).toEqual(['gpt-oss-120b@groq', 'gpt-oss-120b@cerebras']);
    const groqDegraded = rank(list, { health: byProvider('groq', 1), cost: () => 0n });
    expect(names(groqDegraded).slice(0, 2)).toEqual(['gpt-oss-120b@cerebras', 'gpt-oss-120b@groq']);
    const groqDown = rank(list, { health: byProvider('groq', Infinity), cost: () => 0n });
    expect(names(groqDown)).not.toContain('gpt-oss-120b@groq');
  });
});

describe('provider preferences', () => {
  const prefs = (p: Partial<RoutePreferences>) => ({ prefs: p });

  it('only: keeps the listed providers, for the model and its fallbacks', () => {
    expect(names(feasible({ model: 'gpt-oss-120b' }, prefs({ only: ['groq'] })))).toEqual([
      'gpt-oss-120b@groq',
      'openai/gpt-oss-20b@groq',
    ]);
  });

  it('ignore: never uses the listed providers', () => {
    const list = names(feasible({ model: 'gpt-oss-120b' }, prefs({ ignore: ['groq'] })));
    expect(list[0]).toBe('gpt-oss-120b@cerebras');
    expect(list.some((c) => c.endsWith('@groq'))).toBe(false);
  });

  it('a choice that leaves the model no provider is a 400 naming the field', () => {
    expect(refusal(() => feasible({ model: 'gpt-6-luna' }, prefs({ only: ['anthropic'] })))).toMatchObject({
      code: ErrorCode.InvalidRequest,
      param: 'provider.only',
    });
    expect(refusal(() => feasible({ model: 'gpt-6-luna' }, prefs({ ignore: ['openai'] })))).toMatchObject({
      param: 'provider.ignore',
    });
    expect(
      refusal(() => feasible({ model: 'gpt-6-luna' }, prefs({ order: ['groq'], allowFallbacks: false }))),
    ).toMatchObject({ param: 'provider.order' });
  });

  it('allow_fallbacks false with order: only the providers of order', () => {
    const chain = catalog.chain('gpt-oss-120b').slice(0, 1);
    const list = feasibleCandidates({
      request: { model: 'gpt-oss-120b', messages: [{ role: 'user', content: 'hi' }] },
      chain,
      promptTokens: 10,
      enabled: () => true,
      droppable: new Set(),
      preferences: { ...DEFAULT_PREFERENCES, order: ['cerebras'], allowFallbacks: false },
      context: (deployment) => ({
        deployment,
        config: { id: deployment.provider, baseUrl: 'fake://', apiKey: 'k' },
        toolState: new Map(),
      }),
      build: () => ({ method: 'POST', url: 'fake://', headers: {} }),
    });
    expect(names(list)).toEqual(['gpt-oss-120b@cerebras']);
  });

  it('when the only allowed provider refuses a parameter, that is the 400 (another provider would have taken it)', () => {
    const cerebrasRefuses = (c: Candidate) => c.deployment.provider === 'cerebras';
    expect(names(feasible({ model: 'gpt-oss-120b' }, { refuse: cerebrasRefuses })).slice(0, 1)).toEqual([
      'gpt-oss-120b@groq',
    ]);
    expect(
      refusal(() =>
        feasible({ model: 'gpt-oss-120b' }, { refuse: cerebrasRefuses, prefs: { only: ['cerebras'] } }),
      ),
    ).toMatchObject({ param: 'x' });
  });
});

describe('rank with preferences', () => {
  const list = feasible({ model: 'gpt-oss-120b' });
  const byProvider = (values: Partial<Record<ProviderId, number>>) => (c: Candidate) =>
    values[c.deployment.provider] ?? null;
  const primary = (ranked: Candidate[]) => names(ranked.filter((c) => c.primary));

  it('order puts the listed providers first, in their order, whatever the sort says', () => {
    const cost = (c: Candidate) => (c.deployment.provider === 'groq' ? 1n : 2n);
    expect(primary(rank(list, { health: () => 0, cost }))).toEqual([
      'gpt-oss-120b@groq',
      'gpt-oss-120b@cerebras',
    ]);
    expect(primary(rank(list, { health: () => 0, cost, first: ['cerebras'] }))).toEqual([
      'gpt-oss-120b@cerebras',
      'gpt-oss-120b@groq',
    ]);
  });

  it('sort latency puts the faster first, unknown latency last; price ignores health; health breaks price ties with latency', () => {
    const cost = (c: Candidate) => (c.deployment.provider === 'groq' ? 1n : 2n);
    const latency = byProvider({ cerebras: 80, groq: 400 });
    expect(primary(rank(list, { health: () => 0, cost, latency, sort: 'latency' }))[0]).toBe(
      'gpt-oss-120b@cerebras',
    );
    expect(
      primary(rank(list, { health: () => 0, cost, latency: byProvider({ groq: 400 }), sort: 'latency' }))[0],
    ).toBe('gpt-oss-120b@groq');
    const groqDegraded = (c: Candidate) => (c.deployment.provider === 'groq' ? 1 : 0);
    expect(primary(rank(list, { health: groqDegraded, cost, sort: 'price' }))[0]).toBe('gpt-oss-120b@groq');
    expect(primary(rank(list, { health: groqDegraded, cost }))[0]).toBe('gpt-oss-120b@cerebras');
    // equally healthy and priced: the faster first (default sort)
    expect(primary(rank(list, { health: () => 0, cost: () => 1n, latency }))[0]).toBe(
      'gpt-oss-120b@cerebras',
    );
    expect(
      primary(
        rank(list, { health: () => 0, cost: () => 1n, latency: byProvider({ cerebras: 500, groq: 20 }) }),
      )[0],
    ).toBe('gpt-oss-120b@groq');
  });

  it('never reorders models: the fallbacks stay after the primary model', () => {
    const ranked = rank(list, { health: () => 0, cost: () => 1n, latency: () => 1, first: ['groq'] });
    const firstFallback = ranked.findIndex((c) => !c.primary);
    expect(ranked.slice(0, firstFallback).every((c) => c.primary)).toBe(true);
  });
});
