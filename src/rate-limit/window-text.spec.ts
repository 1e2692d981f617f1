import { describe, expect, it } from 'vitest';
import { describeWindow } from './window-text.js';

describe('describeWindow', () => {
  it.each([
    [60_000, 'minute'],
    [120_000, '2 minutes'],
    [1000, 'second'],
    [3000, '3 seconds'],
    [90_000, '90 seconds'],
    [1500, '1500 ms'],
  ])('%i ms → per %s', (ms, text) => {
    expect(describeWindow(ms)).toBe(text);
  });
});
