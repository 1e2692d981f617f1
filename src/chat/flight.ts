import type { FastifyReply } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { IdempotencyClaim } from '../billing/idempotency.service.js';
import type { InflightEntry } from '../billing/journal.js';
import type { Hold, SettleFacts } from '../billing/metering.types.js';
import { capOf, type KeyHold } from '../billing/key-budget.js';
import type { AuthContext } from '../keys/auth-context.js';
import type { ChatCompletionRequest, Usage } from '../providers/openai-types.js';
import type { Candidate } from '../routing/candidates.js';
import type { RoutePreferences } from '../routing/preferences.js';
import type { PromptSize } from './estimate.js';
import type { MockBehaviour } from './mock-provider.js';

export interface ChatCall {
  auth: AuthContext;
  body: unknown;
  requestId: string;
  /** `x-conflux-mock`: simulated behaviour for test keys. */
  mock?: string;
  /** `x-conflux-strict-params: true`: a parameter a provider cannot take is a 400, never left out. */
  strictParams: boolean;
  /** The `Idempotency-Key` header, and the raw API key that seals the stored answer. */
  idempotencyKey?: string;
  rawKey: string;
  reply: FastifyReply;
}

/** A request on its way: what the steps after validation share. */
export interface Flight {
  call: ChatCall;
  request: ChatCompletionRequest;
  /** The request's `provider` and `models`. */
  preferences: RoutePreferences;
  /** A parameter a provider cannot take is a 400 (`x-conflux-strict-params` or `provider.require_parameters`). */
  strict: boolean;
  /** Test keys are answered by the mock (`behaviour`), never billed. */
  mock: MockBehaviour | null;
  prompt: PromptSize;
  started: number;
  /** The candidates that can serve the request, checked once; then in failover order. */
  chain: Candidate[];
  hold: Hold | null;
  /** Held against the key's credit limit (keys with a limit). */
  keyHold: KeyHold | null;
  /** Set when the request carries an Idempotency-Key it now owns. */
  claim?: IdempotencyClaim;
  /** Set once the request is billed: from then on the claim is never released. */
  settled: boolean;
  /** Aborted when the client goes away: cancels the provider call. */
  client: AbortController;
  /** Aborted when the instance stops before the request ended (its grace ran out): cancels the provider call. */
  stop: AbortController;
  /** What the request costs this instance until it ends: its place among those in flight, its journal entry. */
  leave: Array<() => void>;
  /** The candidate the request is with now, and what it has delivered (for the in-flight journal). */
  current: { candidate: Candidate | null; attempts: number; ttftMs: number | null };
  progress: () => { reported?: Usage; deliveredTokens: number };
  /** Headers the answer carries beyond what served it (the output limit chosen for the client, …). */
  headers: Record<string, string>;
}

/** A request that passed validation, before anything is held or asked of a provider. */
export function newFlight(
  call: ChatCall,
  request: ChatCompletionRequest,
  preferences: RoutePreferences,
  mock: MockBehaviour | null,
  prompt: PromptSize,
  chain: Candidate[],
  /** When the request started, by the injected clock (its end is read from the same clock). */
  started: number,
): Flight {
  return {
    call,
    request,
    preferences,
    strict: call.strictParams || preferences.requireParameters,
    mock,
    prompt,
    started,
    chain,
    hold: null,
    keyHold: null,
    settled: false,
    client: new AbortController(),
    stop: new AbortController(),
    leave: [],
    current: { candidate: null, attempts: 0, ttftMs: null },
    progress: () => ({ deliveredTokens: 0 }),
    headers: {},
  };
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

/** The flight as the in-flight journal keeps it: what to bill if this instance dies before settling it. */
export function inflightEntry(flight: Flight): InflightEntry {
  const { candidate, attempts, ttftMs } = flight.current;
  const { reported, deliveredTokens } = flight.progress();
  const served = candidate?.deployment;
  return {
    requestId: flight.call.requestId,
    accountId: flight.call.auth.accountId,
    keyId: flight.call.auth.key?.id ?? null,
    modelRequested: flight.request.model,
    served:
      candidate && served
        ? { modelId: candidate.model.id, provider: served.provider, providerModel: served.providerModel }
        : null,
    streamed: flight.request.stream === true,
    attempts,
    startedAt: flight.started,
    ttftMs,
    // the tokenizer's count when it ran; else the bound, never more than the context window
    promptTokens:
      flight.prompt.known ?? Math.min(flight.prompt.upper, served?.contextWindow ?? flight.prompt.upper),
    reportedPrompt: reported?.prompt_tokens ?? null,
    completionTokens: Math.max(reported?.completion_tokens ?? 0, deliveredTokens),
    leaseId: flight.hold?.leaseId ?? null,
    holdMicro: (flight.hold?.amountMicro ?? 0n).toString(),
    capped: flight.hold !== null,
    capMicro: capOf(flight.hold, flight.keyHold)?.toString() ?? null,
  };
}

/** Cancels the provider call when the client goes away while `work` runs. */
export async function watchingClient(flight: Flight, work: () => Promise<void>): Promise<void> {
  const raw = flight.call.reply.raw;
  const onClose = () => {
    if (!raw.writableFinished) {
      flight.client.abort();
    }
  };
  raw.on('close', onClose);
  try {
    await work();
  } finally {
    raw.off('close', onClose);
  }
}

export function shuttingDown(): GatewayError {
  return new GatewayError(
    ErrorCode.ServiceUnavailable,
    'This gateway instance is shutting down and stopped the request. What reached the provider is billed; retry it.',
    { headers: { 'retry-after': '1' } },
  );
}
