import { describe, expect, it } from 'vitest';
import { randomText } from './random-id.js';

describe('randomText', () => {
  it('gives ids of the asked length that never repeat, across many refills of its pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const hex = randomText(12, 'hex');
      const url = randomText(16, 'base64url');
      expect(hex).toMatch(/^[0-9a-f]{24}$/);
      expect(url).toMatch(/^[A-Za-z0-9_-]{22}$/);
      seen.add(hex).add(url);
    }
    expect(seen.size).toBe(10_000);
  });
});
