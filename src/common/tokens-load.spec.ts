import { describe, expect, it } from 'vitest';
import { countTokensAsync, tokenizerLoaded } from './tokens.js';

// A file of its own: its module starts with the tokenizer not loaded, as a gateway's first chat request may find it.
describe('countTokensAsync before the tokenizer is loaded', () => {
  it("counts a short prompt within a budget smaller than the tokenizer's load: the load is no prompt's cost", async () => {
    expect(tokenizerLoaded()).toBe(false);
    // the load takes 0.15–0.3 s of CPU; charged to this count, a 20 ms budget would give up (null)
    expect(await countTokensAsync(['one two three four five'], { sliceMs: 2, totalMs: 20 })).toBe(5);
    expect(tokenizerLoaded()).toBe(true);
  });
});
