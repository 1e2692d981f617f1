import { costMicro, priceAt } from '../catalog/pricing.js';
import { countTextTokens } from '../common/tokens.js';
import type { Usage } from '../providers/openai-types.js';
import type { SettleFacts, UsageRecord } from './metering.types.js';

const count = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Usage a provider reported that can be billed as it is: whole, non-negative counts, cached within the prompt. */
export function sane(usage: Usage): boolean {
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  return (
    count(usage.prompt_tokens) &&
    count(usage.completion_tokens) &&
    count(cached) &&
    count(reasoning) &&
    cached <= usage.prompt_tokens
  );
}

/** Whether billing the request needs the prompt counted: no usable count from the provider. */
export function needsPromptEstimate(facts: SettleFacts): boolean {
  return (
    facts.served !== null && !(facts.reported && sane(facts.reported) && facts.reported.prompt_tokens > 0)
  );
}

/**
 * The usage to bill: the provider's own counts when it reported them for a complete answer; otherwise (a cut or
 * aborted stream, a client that left) the delivered completion counted with the tokenizer and the prompt as
 * estimated, flagged `estimated`. Null when the request reached no provider.
 */
export function billableUsage(
  facts: SettleFacts,
  promptEstimate: number,
): { usage: Usage | null; estimated: boolean } {
  if (!facts.served) {
    return { usage: null, estimated: false };
  }
  const reported = facts.reported && sane(facts.reported) ? facts.reported : undefined;
  if (reported && facts.status === 'completed') {
    return { usage: { ...reported }, estimated: false };
  }
  const prompt = reported?.prompt_tokens || promptEstimate;
  const completion = Math.max(reported?.completion_tokens ?? 0, countTextTokens(facts.delivered));
  return {
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      ...(reported?.prompt_tokens_details ? { prompt_tokens_details: reported.prompt_tokens_details } : {}),
    },
    estimated: true,
  };
}

/** The usage event of a request: its billable usage priced at the serving deployment (test keys cost nothing). */
/** The largest value of a Postgres `integer`. */
const MAX_INT32 = 2_147_483_647;

export function usageRecord(
  facts: SettleFacts,
  { usage, estimated }: { usage: Usage | null; estimated: boolean },
  now: Date,
): UsageRecord {
  const served = facts.served;
  const price = served && !facts.test ? priceAt(served.deployment, served.modelId, now) : null;
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    requestId: facts.requestId,
    accountId: facts.accountId,
    keyId: facts.keyId,
    test: facts.test,
    modelRequested: facts.modelRequested,
    modelServed: served?.modelId ?? null,
    provider: served?.deployment.provider ?? null,
    status: facts.status,
    httpStatus: facts.httpStatus,
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? 0,
    cachedTokens: cached,
    reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
    costMicro:
      price && usage
        ? costMicro(price, {
            promptTokens: usage.prompt_tokens,
            cachedTokens: cached,
            completionTokens: usage.completion_tokens,
          })
        : 0n,
    priceVersion: price?.version ?? null,
    // An integer column: a metadata field must never make the database refuse (and drop) a settlement.
    latencyMs: Math.min(MAX_INT32, Math.max(0, now.getTime() - facts.startedAt)),
    ttftMs: facts.ttftMs,
    streamed: facts.streamed,
    attempts: facts.attempts,
    estimated,
    errorCode: facts.errorCode,
  };
}
