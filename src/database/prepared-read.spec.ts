import { describe, expect, it } from 'vitest';
import { detached } from './prepared-read.js';

describe('detached (a driver result’s rows in an array of their own)', () => {
  it('gives the same rows in order, and leaves the driver’s array empty', () => {
    const rows = [{ a: 1 }, { a: 2 }, { a: 3 }];
    const [first, second, third] = rows;
    const own = detached(rows);
    expect(own).not.toBe(rows);
    expect(own).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(own[0]).toBe(first);
    expect(own[1]).toBe(second);
    expect(own[2]).toBe(third);
    expect(rows).toHaveLength(0);
  });
});
