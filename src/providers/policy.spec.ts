import { describe, expect, it } from 'vitest';
import type { Deployment } from '../common/deployment.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { ADAPTERS } from './registry.js';
import { failureKindForStatus, mapReasoningEffort, unsupported } from './policy.js';

describe('failureKindForStatus', () => {
  it.each([
    [401, 'auth'],
    [402, 'auth'],
    [403, 'auth'],
    [0, 'retryable'],
    [404, 'retryable'],
    [408, 'retryable'],
    [409, 'retryable'],
    [429, 'retryable'],
    [500, 'retryable'],
    [503, 'retryable'],
    [529, 'retryable'],
    [400, 'client'],
    [413, 'client'],
    [422, 'client'],
    [498, 'client'],
    [200, 'fatal'],
    [302, 'fatal'],
  ])('%i → %s', (status, kind) => {
    expect(failureKindForStatus(status)).toBe(kind);
  });

  it('takes a provider’s own passing statuses (Groq 498)', () => {
    expect(failureKindForStatus(498, [498])).toBe('retryable');
  });

  it('is what every adapter answers for a bare status', () => {
    for (const adapter of Object.values(ADAPTERS)) {
      for (const status of [400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 529]) {
        expect(adapter.mapError(status, '', {}).kind, `${adapter.id} ${status}`).toBe(
          failureKindForStatus(status),
        );
      }
    }
  });
});

describe('unsupported', () => {
  it('is a 400 unsupported_parameter naming the parameter', () => {
    const error = unsupported('seed', 'no seed here');
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('seed');
    expect(error.message).toBe('no seed here');
  });
});

describe('mapReasoningEffort', () => {
  const deployment = {
    providerModel: 'm-1',
    reasoningEffort: { low: 'LOW', high: 'HIGH' },
  } as unknown as Deployment;

  it('maps through the deployment, and sends nothing when absent', () => {
    expect(mapReasoningEffort('high', deployment)).toBe('HIGH');
    expect(mapReasoningEffort(undefined, deployment)).toBeUndefined();
    expect(mapReasoningEffort(null, deployment)).toBeUndefined();
  });

  it('refuses a value the deployment does not map, or any value when it maps none', () => {
    for (const [effort, d] of [
      ['xhigh', deployment],
      ['low', { ...deployment, reasoningEffort: undefined }],
    ] as const) {
      let error: unknown;
      try {
        mapReasoningEffort(effort, d);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: ErrorCode.UnsupportedParameter, param: 'reasoning_effort' });
      expect((error as Error).message).toBe(`reasoning_effort "${effort}" is not supported by model m-1.`);
    }
  });
});
