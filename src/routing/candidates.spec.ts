import { describe, expect, it } from 'vitest';
import { CatalogService } from '../catalog/catalog.service.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { ProviderId } from '../common/provider-ids.js';
import { feasibleCandidates, rank, type Candidate } from './candidates.js';

const catalog = new CatalogService();

function feasible(
  request: Partial<ChatCompletionRequest> & { model: string },
  options: { enabled?: (p: ProviderId) => boolean; refuse?: (c: Candidate) => boolean; prompt?: number } = {},
): Candidate[] {
  const full: ChatCompletionRequest = { messages: [{ role: 'user', content: 'hi' }], ...request };
  return feasibleCandidates({
    request: full,
    chain: catalog.chain(full.model),
    promptTokens: options.prompt ?? 10,
    enabled: options.enabled ?? (() => true),
    droppable: new Set(),
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
