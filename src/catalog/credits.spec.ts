import { describe, expect, it } from 'vitest';
import { formatCredits, formatMicroCredits, MICRO_PER_CREDIT } from './credits.js';

describe('formatCredits (µcr → credits, exact)', () => {
  it('writes zero and whole credits without a fraction', () => {
    expect(formatCredits(0n)).toBe('0');
    expect(formatCredits(MICRO_PER_CREDIT)).toBe('1');
    expect(formatCredits(500n * MICRO_PER_CREDIT)).toBe('500');
  });

  it('writes fractions down to the micro-credit, leading zeros kept', () => {
    expect(formatCredits(1n)).toBe('0.000001');
    expect(formatCredits(12_345_678n)).toBe('12.345678');
    expect(formatCredits(1_000_001n)).toBe('1.000001');
  });

  it('drops trailing zeros of the fraction', () => {
    expect(formatCredits(1_500_000n)).toBe('1.5');
    expect(formatCredits(120_000n)).toBe('0.12');
    expect(formatCredits(10_000_010n)).toBe('10.00001');
  });

  it('signs negative amounts (an overdrawn balance, a refund reversal)', () => {
    expect(formatCredits(-1n)).toBe('-0.000001');
    expect(formatCredits(-2_500_000n)).toBe('-2.5');
    expect(formatCredits(-MICRO_PER_CREDIT)).toBe('-1');
  });

  it('stays exact far beyond what a float could hold', () => {
    expect(formatCredits(2n ** 63n - 1n)).toBe('9223372036854.775807');
    expect(formatCredits(-(2n ** 63n))).toBe('-9223372036854.775808');
    expect(formatCredits(10n ** 30n + 1n)).toBe(`1${'0'.repeat(24)}.000001`);
  });
});

describe('formatMicroCredits (µcr as Postgres writes a bigint → credits)', () => {
  it('gives what formatCredits gives, on both sides of where doubles stop being exact', () => {
    const values = [
      0n,
      1n,
      -1n,
      999_999n,
      1_000_000n,
      1_000_001n,
      12_345_678n,
      -2_500_000n,
      999_999_999_999_999n, // 15 digits: in doubles
      -999_999_999_999_999n,
      1_000_000_000_000_000n, // 16 digits: through bigint
      2n ** 53n + 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ];
    // and 2,000 more, spread over every digit count up to 15 (a fixed sequence: the same values every run)
    let x = 12_345n;
    for (let i = 0; i < 2000; i++) {
      x = (x * 6_364_136_223_846_793_005n + 1_442_695_040_888_963_407n) % 2n ** 64n;
      values.push((x % 10n ** BigInt(1 + (i % 15))) * (i % 2 ? 1n : -1n));
    }
    for (const micro of values) {
      expect(formatMicroCredits(micro.toString()), micro.toString()).toBe(formatCredits(micro));
    }
  });
});
