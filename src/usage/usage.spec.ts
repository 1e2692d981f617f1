import { describe, expect, it } from 'vitest';
import { GatewayError } from '../common/errors.js';
import { csvCell, csvLine } from './csv.js';
import { CursorCodec } from './cursor.js';
import { bucketUpperMs, percentilesMs } from './latency.js';

const percentileMs = (histogram: number[], q: number) => percentilesMs(histogram.join(','), [q])[0];
import { parseUsageQuery } from './usage.query.js';

const PERIOD = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };
const NOW = new Date('2026-11-15T12:00:00Z');

function paramOf(fn: () => unknown): string | null {
  try {
    fn();
  } catch (error) {
    return (error as GatewayError).param;
  }
  return null;
}

describe('parseUsageQuery', () => {
  it('defaults to the billing period, events, 100 per page, JSON', () => {
    expect(parseUsageQuery({}, PERIOD, NOW)).toEqual({
      filters: {
        from: PERIOD.start,
        to: PERIOD.end,
        keyId: null,
        model: null,
        provider: null,
        status: null,
        kind: null,
      },
      groupBy: [],
      limit: 100,
      cursor: null,
      format: 'json',
    });
  });

  it('reads dates, filters and two dimensions', () => {
    const q = parseUsageQuery(
      {
        from: '2026-10-01',
        to: '2026-10-02T12:30:00.5Z',
        group_by: 'day,model',
        provider: 'groq',
        kind: 'test',
        status: 'error',
      },
      PERIOD,
      NOW,
    );
    expect(q.filters.from.toISOString()).toBe('2026-10-01T00:00:00.000Z');
    expect(q.filters.to.toISOString()).toBe('2026-10-02T12:30:00.500Z');
    expect(q.groupBy).toEqual(['day', 'model']);
    expect(q.filters).toMatchObject({ provider: 'groq', kind: 'test', status: 'error' });
  });

  it('names the parameter at fault, never clamps', () => {
    expect(paramOf(() => parseUsageQuery({ from: '2026-13-01' }, PERIOD, NOW))).toBe('from');
    expect(paramOf(() => parseUsageQuery({ to: '2026-11-01T00:00:00' }, PERIOD, NOW))).toBe('to'); // no zone
    expect(paramOf(() => parseUsageQuery({ from: '2026-11-02', to: '2026-11-01' }, PERIOD, NOW))).toBe('to');
    expect(
      paramOf(() => parseUsageQuery({ from: '2025-01-01', to: '2026-02-05T00:00:01Z' }, PERIOD, NOW)),
    ).toBe('from');
    expect(paramOf(() => parseUsageQuery({ limit: '1001' }, PERIOD, NOW))).toBe('limit');
    expect(paramOf(() => parseUsageQuery({ limit: '-1' }, PERIOD, NOW))).toBe('limit');
    expect(paramOf(() => parseUsageQuery({ group_by: '' }, PERIOD, NOW))).toBe('group_by');
    expect(paramOf(() => parseUsageQuery({ group_by: 'key,provider' }, PERIOD, NOW))).toBeNull();
  });
});

describe('CSV cells', () => {
  it('neutralises formulas and quotes what RFC 4180 asks', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('@x')).toBe("'@x");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('=a,"b"')).toBe(`"'=a,""b"""`);
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell(-3)).toBe('-3'); // the gateway's own numbers stay numbers
    expect(csvCell(null)).toBe('');
    expect(csvLine(['a', 1, true, null])).toBe('a,1,true,\r\n');
  });
});

describe('latency percentiles from the rollups’ histogram', () => {
  it('answers the upper bound of the bucket, at most 26 % above the exact value', () => {
    for (const ms of [1, 2, 7, 100, 999, 12_345, 600_000]) {
      const bucket = ms < 1 ? 0 : Math.min(63, Math.floor(3 * Math.log2(ms)) + 1);
      const histogram = Array.from({ length: 64 }, (_, b) => (b === bucket ? 1 : 0));
      const p = percentileMs(histogram, 0.5)!;
      expect(p).toBeGreaterThanOrEqual(ms);
      expect(p).toBeLessThanOrEqual(Math.ceil(ms * 2 ** (1 / 3)));
    }
    expect(percentileMs(new Array<number>(64).fill(0), 0.5)).toBeNull();
    expect(bucketUpperMs(0)).toBe(1);
  });

  it('ranks: the p95 of 19 fast and 1 slow is fast, of 18 and 2 it is slow', () => {
    const h = new Array<number>(64).fill(0);
    h[10] = 19;
    h[40] = 1;
    expect(percentileMs(h, 0.95)).toBe(bucketUpperMs(10));
    h[10] = 18;
    h[40] = 2;
    expect(percentileMs(h, 0.95)).toBe(bucketUpperMs(40));
  });

  it('reads several percentiles in one pass over counts of any size', () => {
    const h = new Array<number>(64).fill(0);
    h[0] = 1_000_000;
    h[5] = 1_000_000;
    h[63] = 123_456;
    // of 2,123,456: rank 530,864 is in bucket 0, rank 1,061,728 in bucket 5, ranks past 2,000,000 in bucket 63
    expect(percentilesMs(h.join(','), [0.25, 0.5, 0.95, 1])).toEqual([
      bucketUpperMs(0),
      bucketUpperMs(5),
      bucketUpperMs(63),
      bucketUpperMs(63),
    ]);
    expect(percentilesMs(new Array<number>(64).fill(0).join(','), [0.5, 0.95])).toEqual([null, null]);
  });
});

describe('page cursors', () => {
  const codec = new CursorCodec(Buffer.alloc(32, 7));
  const state = { createdAt: '2026-11-15T12:00:00.123456Z', id: '42', from: 1, to: 2 };

  it('round-trip in their scope only', () => {
    const cursor = codec.encode(state, 'account-a\nfilters');
    expect(codec.decode(cursor, 'account-a\nfilters')).toEqual(state);
    expect(paramOf(() => codec.decode(cursor, 'account-b\nfilters'))).toBe('cursor');
    expect(paramOf(() => new CursorCodec(Buffer.alloc(32, 8)).decode(cursor, 'account-a\nfilters'))).toBe(
      'cursor',
    );
    expect(paramOf(() => codec.decode(`${cursor}x`, 'account-a\nfilters'))).toBe('cursor');
    expect(paramOf(() => codec.decode('', 'account-a\nfilters'))).toBe('cursor');
  });
});
