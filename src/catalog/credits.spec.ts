import { describe, expect, it } from 'vitest';
import { formatCredits, MICRO_PER_CREDIT } from './credits.js';

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
