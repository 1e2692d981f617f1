import { describe, expect, it } from 'vitest';
import { formatCredits } from './credits.js';

describe('formatCredits', () => {
  it.each([
    [0n, '0'],
    [1n, '0.000001'],
    [1_000_000n, '1'],
    [12_345_678n, '12.345678'],
    [2_500_000n, '2.5'],
    [-1_500_000n, '-1.5'],
  ])('%s µcr → %s', (micro, text) => {
    expect(formatCredits(micro)).toBe(text);
  });
});
