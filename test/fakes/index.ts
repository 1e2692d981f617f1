import { anthropicBaseUrl, createAnthropicFake } from './anthropic.js';
import type { FakeProvider } from './base.js';
import { cerebrasBaseUrl, createCerebrasFake } from './cerebras.js';
import { createGeminiFake, geminiBaseUrl } from './gemini.js';
import { createGroqFake, groqBaseUrl } from './groq.js';
import { createOpenAiFake, openAiBaseUrl } from './openai.js';
import { createStripeFake, type FakeStripe, type FakeStripeOptions } from './stripe.js';

export interface Fakes {
  openai: FakeProvider;
  anthropic: FakeProvider;
  gemini: FakeProvider;
  cerebras: FakeProvider;
  groq: FakeProvider;
  /** The five providers (not Stripe). */
  all: FakeProvider[];
  /** Fake Stripe (API base, secret key and webhook secret in `stripe.env`, also part of `env`). */
  stripe: FakeStripe;
  /** The environment that points the gateway at these fakes, with their keys. */
  env: Record<string, string>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * Starts the five fake providers and a fake Stripe on free local ports (or consecutive ports from `basePort`:
 * the providers on `basePort`…`basePort + 4`, Stripe on `basePort + 5`). `options.stripe` configures the fake
 * Stripe (its clock, prices, keys).
 */
export async function startFakes(basePort = 0, options: { stripe?: FakeStripeOptions } = {}): Promise<Fakes> {
  const started: Array<{ close(): Promise<void> }> = [];
  const start = async <T extends { start(port: number): Promise<T>; close(): Promise<void> }>(
    fake: T,
    offset: number,
  ): Promise<T> => {
    try {
      started.push(await fake.start(basePort && basePort + offset));
      return fake;
    } catch (error) {
      // One port taken: the ones already open are closed again, so the caller can stop cleanly.
      await Promise.all(started.map((f) => f.close()));
      throw error;
    }
  };
  const openai = await start(createOpenAiFake(), 0);
  const anthropic = await start(createAnthropicFake(), 1);
  const gemini = await start(createGeminiFake(), 2);
  const cerebras = await start(createCerebrasFake(), 3);
  const groq = await start(createGroqFake(), 4);
  const stripe = await start(createStripeFake(options.stripe), 5);
  const all = [openai, anthropic, gemini, cerebras, groq];
  return {
    openai,
    anthropic,
    gemini,
    cerebras,
    groq,
    all,
    stripe,
    env: {
      OPENAI_BASE_URL: openAiBaseUrl(openai),
      OPENAI_API_KEY: openai.apiKey,
      ANTHROPIC_BASE_URL: anthropicBaseUrl(anthropic),
      ANTHROPIC_API_KEY: anthropic.apiKey,
      GEMINI_BASE_URL: geminiBaseUrl(gemini),
      GEMINI_API_KEY: gemini.apiKey,
      CEREBRAS_BASE_URL: cerebrasBaseUrl(cerebras),
      CEREBRAS_API_KEY: cerebras.apiKey,
      GROQ_BASE_URL: groqBaseUrl(groq),
      GROQ_API_KEY: groq.apiKey,
      ...stripe.env,
    },
    reset: () => {
      all.forEach((f) => f.reset());
      stripe.reset();
    },
    close: async () => {
      await Promise.all([...all.map((f) => f.close()), stripe.close()]);
    },
  };
}
