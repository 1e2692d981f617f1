import type { FastifyReply } from 'fastify';
import type { IdempotencyClaim } from '../billing/idempotency.service.js';
import type { Hold, SettleFacts } from '../billing/metering.types.js';
import type { AuthContext } from '../keys/auth-context.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { Candidate } from '../routing/candidates.js';
import type { PromptSize } from './estimate.js';
import type { MockBehaviour } from './mock-provider.js';

export interface ChatCall {
  auth: AuthContext;
  body: unknown;
  requestId: string;
  /** `x-conflux-mock`: simulated behaviour for test keys. */
  mock?: string;
  /** The `Idempotency-Key` header, and the raw API key that seals the stored answer. */
  idempotencyKey?: string;
  rawKey: string;
  reply: FastifyReply;
}

/** A request on its way: what the steps after validation share. */
export interface Flight {
  call: ChatCall;
  request: ChatCompletionRequest;
  /** Test keys are answered by the mock (`behaviour`), never billed. */
  mock: MockBehaviour | null;
  prompt: PromptSize;
  started: number;
  /** The candidates that can serve the request, checked once; then in failover order. */
  chain: Candidate[];
  hold: Hold | null;
  /** Set when the request carries an Idempotency-Key it now owns. */
  claim?: IdempotencyClaim;
  /** Set once the request is billed: from then on the claim is never released. */
  settled: boolean;
  /** Aborted when the client goes away: cancels the provider call. */
  client: AbortController;
  /** Gives back the request's place among those in flight to providers (live keys). */
  leave?: () => void;
}

/** What settling needs beyond the flight: how the request ended, and what was delivered. */
export type Outcome = Pick<SettleFacts, 'status' | 'httpStatus' | 'errorCode'> &
  Partial<Pick<SettleFacts, 'reported' | 'delivered' | 'ttftMs'>>;

/** What every settlement of a flight says about it: who asked, for what, what served it. */
export function facts(flight: Flight, served: Candidate | null, attempts: number) {
  const { auth, requestId } = flight.call;
  return {
    requestId,
    accountId: auth.accountId,
    keyId: auth.key?.id ?? null,
    test: flight.mock !== null,
    modelRequested: flight.request.model,
    served: served && { modelId: served.model.id, deployment: served.deployment },
    delivered: '',
    prompt: flight.prompt,
    streamed: flight.request.stream === true,
    attempts,
    startedAt: flight.started,
    ttftMs: null,
  };
}
