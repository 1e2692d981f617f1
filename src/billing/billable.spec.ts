import { describe, expect, it } from 'vitest';
import { CatalogService } from '../catalog/catalog.service.js';
import { billableUsage, sane, usageRecord } from './billable.js';
import type { SettleFacts } from './metering.types.js';

const haiku = new CatalogService().require('claude-haiku-5-5');

function facts(overrides: Partial<SettleFacts> = {}): SettleFacts {
  return {
    requestId: 'req_1',
    accountId: 'acc',
    keyId: 'key',
    test: false,
    modelRequested: 'claude-haiku-5-5',
    served: { modelId: 'claude-haiku-5-5', deployment: haiku.deployments[0] },
    status: 'completed',
    httpStatus: 200,
    reported: { prompt_tokens: 5, completion_tokens: 40, total_tokens: 45 },
    delivered: 'one two three',
    prompt: { upper: 30, count: () => Promise.resolve(7), exact: () => Promise.resolve(7) },
    streamed: false,
    attempts: 1,
    startedAt: 0,
    ttftMs: null,
    errorCode: null,
    ...overrides,
  };
}

describe('sane', () => {
  it('accepts whole non-negative counts with the cached tokens inside the prompt', () => {
    expect(sane({ prompt_tokens: 5, completion_tokens: 0, total_tokens: 5 })).toBe(true);
    expect(sane({ prompt_tokens: -1, completion_tokens: 0, total_tokens: 0 })).toBe(false);
    expect(sane({ prompt_tokens: 1.5, completion_tokens: 0, total_tokens: 0 })).toBe(false);
    const cachedTooMany = {
      prompt_tokens: 2,
      completion_tokens: 0,
      total_tokens: 2,
      prompt_tokens_details: { cached_tokens: 3 },
    };
    expect(sane(cachedTooMany)).toBe(false);
  });
});

describe('billableUsage', () => {
  it('bills a completed answer at what the provider reported', () => {
    expect(billableUsage(facts(), 7)).toEqual({
      usage: { prompt_tokens: 5, completion_tokens: 40, total_tokens: 45 },
      estimated: false,
    });
  });

  it('bills a cut stream for the larger of reported and delivered tokens, estimated', () => {
    const { usage, estimated } = billableUsage(
      facts({ status: 'cut', reported: undefined, delivered: 'one two three four' }),
      7,
    );
    expect(estimated).toBe(true);
    expect(usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 4 });
  });

  it('falls back to the estimate when the reported usage is nonsense', () => {
    const nonsense = { prompt_tokens: -3, completion_tokens: 2, total_tokens: -1 };
    expect(billableUsage(facts({ reported: nonsense }), 7)).toMatchObject({
      estimated: true,
      usage: { prompt_tokens: 7 },
    });
  });

  it('bills nothing when no provider was reached', () => {
    expect(billableUsage(facts({ served: null, status: 'failed' }), 7)).toEqual({
      usage: null,
      estimated: false,
    });
  });
});

describe('usageRecord', () => {
  it('prices the usage at the serving deployment, rounded up once', () => {
    const f = facts();
    const record = usageRecord(f, billableUsage(f, 7), new Date('2026-11-30T00:00:00Z'));
    // claude-haiku-5-5: 10 µcr per prompt token, 50 per completion token
    expect(record.costMicro).toBe(5n * 10n + 40n * 50n);
    expect(record.priceVersion).toMatch(/^claude-haiku-5-5@anthropic@/);
  });

  it('costs nothing for a test key', () => {
    const f = facts({ test: true });
    expect(usageRecord(f, billableUsage(f, 7), new Date()).costMicro).toBe(0n);
  });
});
