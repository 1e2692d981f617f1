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
  const openai = await createOpenAiFake().start(basePort && basePort);
  const anthropic = await createAnthropicFake().start(basePort && basePort + 1);
  const gemini = await createGeminiFake().start(basePort && basePort + 2);
  const cerebras = await createCerebrasFake().start(basePort && basePort + 3);
  const groq = await createGroqFake().start(basePort && basePort + 4);
  const stripe = await createStripeFake(options.stripe).start(basePort && basePort + 5);
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
