import { describe, expect, it } from 'vitest';
import { overageMicro, purchasedLeft } from './billing-periods.js';

describe('what is left of purchased credits (the allocation is spent first)', () => {
  it('keeps them whole while the allocation lasts', () => {
    expect(purchasedLeft(11_000n, 1_000n)).toBe(1_000n);
  });

  it('spends them once the balance is below them, never below zero', () => {
    expect(purchasedLeft(400n, 1_000n)).toBe(400n);
    expect(purchasedLeft(0n, 1_000n)).toBe(0n);
    expect(purchasedLeft(-5n, 1_000n)).toBe(0n);
  });
});

describe('overage', () => {
  it('is what a paid plan spent below zero, and nothing on Free', () => {
    expect(overageMicro('power', -2_200_000n)).toBe(2_200_000n);
    expect(overageMicro('pro', 5n)).toBe(0n);
    expect(overageMicro('free', -1n)).toBe(0n);
  });
});
