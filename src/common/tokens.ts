import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Token counting with the o200k_base tokenizer. Providers use their own tokenizers, so this is an estimate:
 * it sizes credit holds before a call and bills what was delivered when a provider reports no usage.
 */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}

/** Sums the tokens of several texts (message contents, tool arguments, ...). */
export function countTexts(texts: Iterable<string>): number {
  let total = 0;
  for (const text of texts) {
    total += countTextTokens(text);
  }
  return total;
}
