import { createRequire } from 'node:module';

type Tokenizer = typeof import('gpt-tokenizer/encoding/o200k_base');

let tokenizer: Tokenizer | undefined;

/**
 * The o200k_base tables are ~25 MiB of heap and 0.15–0.3 s to load: they are loaded by the first count (the first
 * chat request pays that once), not at start, so a gateway that has not served a chat request yet stays small.
 */
function o200k(): Tokenizer {
  if (tokenizer === undefined) {
    const loaded = createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as Tokenizer;
    // its first count builds what the tokenizer builds lazily (its pre-tokenizing expressions): part of the load
    loaded.countTokens('warm up');
    tokenizer = loaded;
  }
  return tokenizer;
}

/**
 * Loads the tokenizer ahead of the first request that needs it (called once the server listens): the load holds
 * the event loop for a moment, better then than in the middle of a request.
 */
export function warmTokenizer(): void {
  o200k();
}

/** Whether the tokenizer is loaded (for tests). */
export function tokenizerLoaded(): boolean {
  return tokenizer !== undefined;
}

/**
 * Token counting with the o200k_base tokenizer. Providers use their own tokenizers, so this is an estimate: it
 * sizes credit holds before a call and bills what was delivered when a provider reports no usage.
 *
 * BPE merging is quadratic in the length of one pre-tokenized word (150 KB of one letter took 15 s), so text is
 * counted in slices of at most `SLICE` characters: linear in the length, at most a token or two more per slice
 * than a whole-text count. Long texts are counted by `countTokensAsync`, which yields to the event loop between
 * slices so no request holds it for more than a few milliseconds.
 */
const SLICE = 512;

/** A prompt's size in tokens: a cheap upper bound at once, and the tokenizer's count on demand. */
export interface PromptTokens {
  readonly upper: number;
  /** The tokenizer's count, or the upper bound when it could not be afforded. */
  count(): Promise<number>;
  /** The tokenizer's count, or null when it could not be afforded (the prompt is too costly to count). */
  exact(): Promise<number | null>;
}

/** Counts one text synchronously, slice by slice: for short texts (a stream delta, a tool name). */
export function countTextTokens(text: string): number {
  if (text.length === 0) {
    return 0;
  }
  if (text.length <= SLICE) {
    return o200k().countTokens(text);
  }
  let total = 0;
  for (let i = 0; i < text.length; i += SLICE) {
    total += o200k().countTokens(text.slice(i, i + SLICE));
  }
  return total;
}

/** Sums the tokens of several texts (message contents, tool arguments, ...). */
export function countTexts(texts: Iterable<string>): number {
  let total = 0;
  for (const text of texts) {
    total += countTextTokens(text);
  }
  return total;
}

/** How long one synchronous stretch of counting may run before yielding, and the CPU a count may use in all. */
export interface CountBudget {
  sliceMs: number;
  totalMs: number;
}

const DEFAULT_BUDGET: CountBudget = { sliceMs: 2, totalMs: 250 };

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Counts the tokens of several texts without holding the event loop: slices are counted for at most
 * `sliceMs` at a time (wall clock), then other work runs. Gives up (null) once `totalMs` of the process's CPU
 * time has gone into counting, so a hostile prompt costs a bounded amount of CPU; the caller then falls back to
 * an upper bound. The budget is CPU time, not elapsed time: on a busy machine a stretch takes longer to run but
 * not more CPU, so whether a prompt gets counted (and a context window checked) does not depend on the load.
 */
export async function countTokensAsync(
  texts: Iterable<string>,
  budget: CountBudget = DEFAULT_BUDGET,
): Promise<number | null> {
  // Loaded (and warmed) before the budget starts: its one-time load (0.15–0.3 s) is no prompt's cost. Counted inside
  // the first stretch, it spent a short prompt's whole budget, which then fell back to its upper bound (a key's
  // concurrent first requests held more than they cost, and one was refused that fitted).
  o200k();
  let total = 0;
  let spentMicros = 0;
  let stretch = performance.now();
  let stretchCpu = process.cpuUsage();
  for (const text of texts) {
    for (let i = 0; i < text.length; i += SLICE) {
      total += o200k().countTokens(text.length <= SLICE ? text : text.slice(i, i + SLICE));
      if (performance.now() - stretch >= budget.sliceMs) {
        const cpu = process.cpuUsage(stretchCpu);
        spentMicros += cpu.user + cpu.system;
        if (spentMicros >= budget.totalMs * 1000) {
          return null;
        }
        await yieldToLoop();
        stretch = performance.now();
        stretchCpu = process.cpuUsage();
      }
    }
  }
  return total;
}
