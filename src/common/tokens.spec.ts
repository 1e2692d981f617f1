import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { countTextTokens, countTokensAsync } from './tokens.js';

const UNBOUNDED = { sliceMs: 2, totalMs: Number.POSITIVE_INFINITY };

describe('countTokensAsync', () => {
  // The gateway loads the tokenizer once after it starts listening; so does this suite, before any budget.
  beforeAll(() => countTextTokens('warm up'));
  afterEach(() => vi.restoreAllMocks());

  it('counts about what the tokenizer counts on the whole text (slices may split a word)', async () => {
    const text = 'hello' + ' hello'.repeat(20_000);
    const counted = (await countTokensAsync([text]))!;
    expect(Math.abs(counted - countTextTokens(text))).toBeLessThan(counted * 0.02);
  });

  it('spends its budget in CPU time: on a busy machine (every stretch taking 50 ms of wall time) a prompt is still counted', async () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 50));
    const text = 'hello' + ' hello'.repeat(20_000);
    const expected = await countTokensAsync([text], UNBOUNDED);
    expect(await countTokensAsync([text], { sliceMs: 2, totalMs: 250 })).toBe(expected);
  });

  it('gives up (null) once the CPU budget is spent, so a hostile prompt costs bounded CPU', async () => {
    const random = Array.from({ length: 400_000 }, (_, i) =>
      String.fromCharCode(33 + ((i * 7919) % 90)),
    ).join('');
    const started = process.cpuUsage();
    expect(await countTokensAsync([random], { sliceMs: 1, totalMs: 5 })).toBeNull();
    const cpu = process.cpuUsage(started);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(200);
  });
});
