import { ErrorCode, GatewayError } from '../common/errors.js';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';

/** The dimensions `group_by` may name; two may combine (`day,model`). */
export const GROUP_DIMENSIONS = ['hour', 'day', 'model', 'key', 'provider'] as const;
export type GroupDimension = (typeof GROUP_DIMENSIONS)[number];

export const USAGE_STATUSES = ['ok', 'error'] as const;
export const USAGE_KINDS = ['live', 'test'] as const;
export const USAGE_FORMATS = ['json', 'csv'] as const;

/** The widest range one read may cover. */
export const MAX_RANGE_DAYS = 400;
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
const DAY_MS = 86_400_000;

/** The query string of `GET /v1/usage`, as received (every value a string, or absent). */
export interface UsageQueryInput {
  from?: string;
  to?: string;
  key_id?: string;
  model?: string;
  provider?: string;
  status?: string;
  kind?: string;
  group_by?: string;
  limit?: string;
  cursor?: string;
  format?: string;
}

/** What to read: `from` inclusive, `to` exclusive. Ids are the public ones; the repository resolves them in the account. */
export interface UsageFilters {
  from: Date;
  to: Date;
  keyId: string | null;
  model: string | null;
  provider: ProviderId | null;
  status: (typeof USAGE_STATUSES)[number] | null;
  kind: (typeof USAGE_KINDS)[number] | null;
}

export interface UsageQuery {
  filters: UsageFilters;
  groupBy: GroupDimension[];
  limit: number;
  cursor: string | null;
  format: (typeof USAGE_FORMATS)[number];
}

function invalid(param: string, message: string): GatewayError {
  return new GatewayError(ErrorCode.InvalidRequest, message, { param });
}

/** A date (`2026-11-01`, midnight UTC) or a date-time in UTC (`Z` or `+00:00`). */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|\+00:00))?$/;

function instant(param: 'from' | 'to', value: string | undefined): Date | null {
  if (value === undefined) {
    return null;
  }
  const date = ISO_UTC.test(value) ? new Date(value) : null;
  // 2026-02-30 would roll over into March: refused, like any date that is not what it says
  if (!date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value.slice(0, 10)) {
    throw invalid(param, `${param} must be an ISO 8601 UTC date or date-time, e.g. 2026-11-01T00:00:00Z.`);
  }
  return date;
}

function oneOf<T extends string>(param: string, value: string | undefined, allowed: readonly T[]): T | null {
  if (value === undefined) {
    return null;
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalid(param, `${param} must be one of: ${allowed.join(', ')}.`);
  }
  return value as T;
}

/**
 * Validates the query of `GET /v1/usage` into what to read. `period` is the account's current billing period: the
 * range when none is given. Never clamps: a bad value is a 400 naming its parameter.
 */
export function parseUsageQuery(
  input: UsageQueryInput,
  period: { start: Date; end: Date },
  now: Date,
): UsageQuery {
  const fromGiven = instant('from', input.from);
  const toGiven = instant('to', input.to);
  const to = toGiven ?? new Date(Math.max(period.end.getTime(), now.getTime()));
  const from = fromGiven ?? (period.start < to ? period.start : new Date(to.getTime() - 30 * DAY_MS));
  if (to.getTime() <= from.getTime()) {
    throw invalid('to', 'to must be after from.');
  }
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw invalid(
      fromGiven ? 'from' : 'to',
      `The range from from to to must be at most ${MAX_RANGE_DAYS} days.`,
    );
  }

  const keyId = input.key_id ?? null;
  if (keyId !== null && !/^key_[0-9A-Za-z]{1,64}$/.test(keyId)) {
    throw invalid('key_id', 'key_id must be a key id such as key_3hT9xQ0aZk2mV7pL1sR8wN4c.');
  }
  const model = input.model ?? null;
  if (model !== null && !/^[\w.:/@-]{1,128}$/.test(model)) {
    throw invalid('model', 'model must be a model id such as gpt-6-luna.');
  }

  const groupBy: GroupDimension[] = [];
  if (input.group_by !== undefined) {
    for (const part of input.group_by.split(',')) {
      const dimension = oneOf('group_by', part.trim(), GROUP_DIMENSIONS);
      if (dimension === null || groupBy.includes(dimension)) {
        throw invalid('group_by', 'group_by names a dimension twice.');
      }
      groupBy.push(dimension);
    }
    if (groupBy.length > 2) {
      throw invalid('group_by', 'group_by combines at most two dimensions, e.g. day,model.');
    }
    if (groupBy.includes('hour') && groupBy.includes('day')) {
      throw invalid('group_by', 'group_by cannot combine hour and day.');
    }
  }

  let limit = DEFAULT_LIMIT;
  if (input.limit !== undefined) {
    limit = /^\d{1,7}$/.test(input.limit) ? Number(input.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) {
      throw invalid('limit', `limit must be a whole number from 1 to ${MAX_LIMIT}.`);
    }
  }
  if (groupBy.length > 0 && (input.cursor !== undefined || input.limit !== undefined)) {
    throw invalid(
      input.cursor !== undefined ? 'cursor' : 'limit',
      'Grouped usage is answered whole: cursor and limit apply to events only.',
    );
  }

  return {
    filters: {
      from,
      to,
      keyId,
      model,
      provider: oneOf('provider', input.provider, PROVIDER_IDS),
      status: oneOf('status', input.status, USAGE_STATUSES),
      kind: oneOf('kind', input.kind, USAGE_KINDS),
    },
    groupBy,
    limit,
    cursor: input.cursor ?? null,
    format: oneOf('format', input.format, USAGE_FORMATS) ?? 'json',
  };
}
