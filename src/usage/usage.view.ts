import { formatMicroCredits } from '../catalog/credits.js';
import { percentilesMs } from './latency.js';
import type { EventRow, GroupRow } from './usage.repository.js';
import type { GroupDimension } from './usage.query.js';

/** One request as `GET /v1/usage` and the usage stream show it: metadata only, never content. */
export interface UsageEventView {
  object: 'usage_event';
  /** The request id (`x-request-id` of the request). */
  id: string;
  created_at: string;
  key_id: string | null;
  kind: 'live' | 'test';
  model_requested: string;
  model_served: string | null;
  provider: string | null;
  attempts: number;
  stream: boolean;
  status: 'ok' | 'error';
  /** How the request ended: `completed`, `aborted` (the client left), `cut` (the provider broke off), `failed`. */
  outcome: string;
  http_status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  credits: string;
  latency_ms: number;
  ttft_ms: number | null;
  estimated: boolean;
}

export interface UsageGroupView {
  hour?: string;
  day?: string;
  model?: string;
  key_id?: string | null;
  provider?: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  total_tokens: number;
  credits: string;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

export function isOk(status: string): boolean {
  return status === 'completed' || status === 'aborted';
}

/** The stored event (a row, or a settlement's record with the key's public id) as the API shows it. */
export function eventView(row: Omit<EventRow, 'id' | 'position'>): UsageEventView {
  return {
    object: 'usage_event',
    id: row.request_id,
    created_at: row.created_at,
    key_id: row.key_id,
    kind: row.test ? 'test' : 'live',
    model_requested: row.model_requested,
    model_served: row.model_served,
    provider: row.provider,
    attempts: row.attempts,
    stream: row.streamed,
    status: isOk(row.status) ? 'ok' : 'error',
    outcome: row.status,
    http_status: row.http_status,
    error_code: row.error_code,
    prompt_tokens: row.prompt_tokens,
    completion_tokens: row.completion_tokens,
    cached_tokens: row.cached_tokens,
    reasoning_tokens: row.reasoning_tokens,
    total_tokens: row.prompt_tokens + row.completion_tokens,
    credits: formatMicroCredits(row.cost_micro),
    latency_ms: row.latency_ms,
    ttft_ms: row.ttft_ms,
    estimated: row.estimated,
  };
}

/**
 * A group as the API shows it: its dimensions (those asked for), then its sums. One object literal of a fixed shape,
 * the dimensions not asked for left undefined (JSON leaves them out): spreading a partial object of the dimensions
 * into the answer, or adding them one by one, made each group's object several times larger and slower to build.
 */
export function groupView(row: GroupRow, groupBy: readonly GroupDimension[]): UsageGroupView {
  const prompt = row.prompt_tokens;
  const completion = row.completion_tokens;
  const percentiles = percentilesMs(row.histogram, [0.5, 0.95]);
  return {
    hour: groupBy.includes('hour') ? row.hour : undefined,
    day: groupBy.includes('day') ? row.day : undefined,
    model: groupBy.includes('model') ? row.model : undefined,
    key_id: groupBy.includes('key') ? (row.key_id ?? null) : undefined,
    provider: groupBy.includes('provider') ? row.provider || null : undefined,
    requests: row.requests,
    errors: row.errors,
    prompt_tokens: prompt,
    completion_tokens: completion,
    cached_tokens: row.cached_tokens,
    total_tokens: prompt + completion,
    credits: formatMicroCredits(row.cost_micro),
    latency_p50_ms: percentiles[0],
    latency_p95_ms: percentiles[1],
  };
}

export const EVENT_COLUMNS = [
  'id',
  'created_at',
  'key_id',
  'kind',
  'model_requested',
  'model_served',
  'provider',
  'attempts',
  'stream',
  'status',
  'outcome',
  'http_status',
  'error_code',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'total_tokens',
  'credits',
  'latency_ms',
  'ttft_ms',
  'estimated',
] as const satisfies ReadonlyArray<keyof UsageEventView>;

export const GROUP_MEASURES = [
  'requests',
  'errors',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'total_tokens',
  'credits',
  'latency_p50_ms',
  'latency_p95_ms',
] as const satisfies ReadonlyArray<keyof UsageGroupView>;

/** The column a dimension is shown in. */
export const DIMENSION_COLUMN: Record<GroupDimension, keyof UsageGroupView> = {
  hour: 'hour',
  day: 'day',
  model: 'model',
  key: 'key_id',
  provider: 'provider',
};
