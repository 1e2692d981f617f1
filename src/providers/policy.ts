import type { Deployment } from '../common/deployment.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { ReasoningEffort } from './openai-types.js';
import type { FailureKind } from './types.js';

/**
 * What every adapter decides the same way. Each adapter's own error table (anthropic/errors.ts,
 * gemini/errors.ts, openai-compatible/errors.ts) first reads what only its body says (a spend limit, an invalid
 * key answered with 400, an exhausted quota answered with 429), then leaves the status to this one rule.
 */

/**
 * A provider's HTTP status → how the gateway treats the failure (providers.md §0 retry classes, §6 health):
 *
 * | status                                                              | kind        |
 * |---------------------------------------------------------------------|-------------|
 * | 401, 402, 403 (our key, our account's billing or permissions)       | `auth`      |
 * | 0 (no status: a stream broke), 404 (model retired at the provider), | `retryable` |
 * | 408, 409, 429, 5xx (Anthropic 529 included), `alsoRetryable`        |             |
 * | other 4xx (the request itself: 400, 413, 422, …)                    | `client`    |
 * | anything else                                                       | `fatal`     |
 *
 * `alsoRetryable`: statuses a provider uses for a passing condition (Groq 498 `capacity_exceeded`).
 */
export function failureKindForStatus(status: number, alsoRetryable: readonly number[] = []): FailureKind {
  if (status === 401 || status === 402 || status === 403) {
    return 'auth';
  }
  if (
    status === 0 ||
    status === 404 ||
    status === 408 ||
    status === 409 ||
    status === 429 ||
    status >= 500 ||
    alsoRetryable.includes(status)
  ) {
    return 'retryable';
  }
  return status >= 400 ? 'client' : 'fatal';
}

/**
 * A parameter the deployment cannot honour: a 400 `unsupported_parameter` naming it (OpenAI's `param`), never
 * silently dropped or clamped.
 */
export function unsupported(param: string, message: string): GatewayError {
  return new GatewayError(ErrorCode.UnsupportedParameter, message, { param });
}

/**
 * OpenAI `reasoning_effort` → the provider's value, through the deployment's map from the catalog (each vendor
 * has its own vocabulary: Anthropic `output_config.effort`, Gemini `thinkingLevel`, Cerebras/Groq per model).
 * Absent → undefined (send nothing); a value the deployment does not map → 400 naming `reasoning_effort`.
 */
export function mapReasoningEffort(
  effort: ReasoningEffort | null | undefined,
  deployment: Deployment,
): string | undefined {
  if (effort === undefined || effort === null) {
    return undefined;
  }
  const mapped = deployment.reasoningEffort?.[effort];
  if (mapped === undefined) {
    throw unsupported(
      'reasoning_effort',
      `reasoning_effort "${effort}" is not supported by model ${deployment.providerModel}.`,
    );
  }
  return mapped;
}
