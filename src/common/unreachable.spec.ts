import { describe, expect, it } from 'vitest';
import { isUnreachable } from './unreachable.js';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('isUnreachable', () => {
  it('knows a database that is away: refused connections, restarts, connections dying mid-transaction', () => {
    expect(
      isUnreachable(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      ),
    ).toBe(true);
    expect(
      isUnreachable(Object.assign(new Error('the database system is starting up'), { code: '57P03' })),
    ).toBe(true);
    expect(isUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(
      isUnreachable(
        named(
          'QueryRunnerAlreadyReleasedError',
          'Query runner already released. Cannot run queries anymore.',
        ),
      ),
    ).toBe(true);
    expect(
      isUnreachable(
        named(
          'QueryRunnerProviderAlreadyReleasedError',
          'Database connection provided by a query runner was already released, cannot continue to use its querying methods anymore.',
        ),
      ),
    ).toBe(true);
    expect(isUnreachable({ driverError: { code: '08006' } })).toBe(true);
  });

  it('does not take a refused statement for an outage', () => {
    expect(isUnreachable(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBe(false);
    expect(isUnreachable(new Error('syntax error at or near "SELEC"'))).toBe(false);
    expect(isUnreachable(undefined)).toBe(false);
  });
});
