import type { ProviderId } from '../common/provider-ids.js';

/** Credits set aside before a live request reaches a provider, released when it is settled. */
export interface Hold {
  id: string;
  accountId: string;
  amountMicro: bigint;
}

export type UsageStatus = 'completed' | 'aborted' | 'cut' | 'failed';

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
