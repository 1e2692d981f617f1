import { createRequire } from 'node:module';

type Tokenizer = typeof import('gpt-tokenizer/encoding/o200k_base');

let tokenizer: Tokenizer | undefined;

/**
 * The o200k_base tables are ~25 MiB of heap and 0.15–0.3 s to load: they are loaded by the first count (the first
 * chat request pays that once), not at start, so a gateway that has not served a chat request yet stays small.
 */
function o200k(): Tokenizer {
  tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as Tokenizer;
  return tokenizer;
}

/**
 * Token counting with the o200k_base tokenizer. Providers use their own tokenizers, so this is an estimate:
 * it sizes credit holds before a call and bills what was delivered when a provider reports no usage.
 */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : o200k().countTokens(text);
}

/** Sums the tokens of several texts (message contents, tool arguments, ...). */
export function countTexts(texts: Iterable<string>): number {
  let total = 0;
  for (const text of texts) {
    total += countTextTokens(text);
  }
  return total;
}
