import { describe, expect, it } from 'vitest';
import { MICRO_PER_CREDIT } from '../catalog/credits.js';
import { includedMicro } from './plans.js';

describe('includedMicro', () => {
  it('is each plan’s allocation in µcr', () => {
    expect(includedMicro('free')).toBe(500n * MICRO_PER_CREDIT);
    expect(includedMicro('power')).toBe(10_000n * MICRO_PER_CREDIT);
    expect(includedMicro('pro')).toBe(30_000n * MICRO_PER_CREDIT);
  });
});
