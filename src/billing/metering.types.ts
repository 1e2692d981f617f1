import type { CatalogDeployment, CatalogModel } from '../catalog/catalog.types.js';
import type { PromptTokens } from '../common/tokens.js';
import type { Usage } from '../providers/openai-types.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { KeyHold } from './key-budget.js';

/** Credits set aside for a live request on the Free plan, from this instance's lease on its account. */
export interface Hold {
  accountId: string;
  /** The lease the hold was admitted against (null if it was lost meanwhile). */
  leaseId: string | null;
  amountMicro: bigint;
}

export type UsageStatus = 'completed' | 'aborted' | 'cut' | 'failed';

/** What a live request may cost at most, to size its hold. */
export interface Demand {
  /** Every model the request may be served by (its fallbacks included): the hold covers the dearest. */
  models: readonly CatalogModel[];
  prompt: PromptTokens;
  /** Output tokens per choice the client asked for at most (`max_tokens`), or null when it set no limit. */
  maxOutputTokens: number | null;
  /** The most output tokens per choice the requested model can give (the limit when the client set none). */
  modelMaxOutputTokens: number;
  /** Choices asked for (`n`): every one may run to `maxOutputTokens`. */
  choices: number;
}

/** What admission came to: the hold (Free plan), and the output limit chosen when the client set none. */
export interface Reservation {
  hold: Hold | null;
  /** Held against the key's `credit_limit` (keys with a limit only). */
  keyHold?: KeyHold | null;
  /** Set when the client gave no `max_tokens`: the most output the balance (and the model) allows. */
  maxOutputTokens?: number;
}

/**
 * What happened to a request, as the chat pipeline saw it: who asked, what served it, what the provider
 * reported and what reached the client. Metering turns it into the billable usage and its cost.
 */
export interface SettleFacts {
  requestId: string;
  accountId: string;
  keyId: string | null;
  test: boolean;
  modelRequested: string;
  /** The deployment that served the request (or held it when the client left); null if none was reached. */
  served: { modelId: string; deployment: CatalogDeployment } | null;
  status: UsageStatus;
  httpStatus: number;
  /** The provider's own usage, when it reported one. */
  reported?: Usage;
  /** Everything delivered to the client as text, to count when the provider reported no usable usage. */
  delivered: string;
  /** The prompt's size, counted when the provider reported none. */
  prompt: PromptTokens;
  streamed: boolean;
  attempts: number;
  /** When the request arrived (ms since the epoch). */
  startedAt: number;
  ttftMs: number | null;
  errorCode: string | null;
}

/** What settling a request came to: the usage billed (null when nothing reached a provider) and its cost. */
export interface Settlement {
  usage: Usage | null;
  estimated: boolean;
  costMicro: bigint;
  /** The account's balance after it (live keys), or null (test keys). */
  remainingMicro: bigint | null;
}

/** What one request did: metadata only, never content. Written with its ledger entry in one transaction. */
export interface UsageRecord {
  requestId: string;
  accountId: string;
  keyId: string | null;
  test: boolean;
  modelRequested: string;
  modelServed: string | null;
  provider: ProviderId | null;
  status: UsageStatus;
  httpStatus: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  costMicro: bigint;
  priceVersion: string | null;
  latencyMs: number;
  ttftMs: number | null;
  streamed: boolean;
  attempts: number;
  estimated: boolean;
  errorCode: string | null;
}
