import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { deriveKey } from '../common/seal.js';
import { SigningSecret } from '../common/signing-secret.js';
import type { AuthContext } from '../keys/auth-context.js';
import { csvLine } from './csv.js';
import { CursorCodec } from './cursor.js';
import { UsageRepository, type EventRow } from './usage.repository.js';
import { MAX_LIMIT, parseUsageQuery, type UsageQuery, type UsageQueryInput } from './usage.query.js';
import {
  DIMENSION_COLUMN,
  EVENT_COLUMNS,
  GROUP_MEASURES,
  eventView,
  groupView,
  type UsageEventView,
  type UsageGroupView,
} from './usage.view.js';

export interface UsageEventList {
  object: 'list';
  from: string;
  to: string;
  data: UsageEventView[];
  has_more: boolean;
  next_cursor: string | null;
}

export interface UsageGroupList {
  object: 'list';
  from: string;
  to: string;
  group_by: string[];
  data: UsageGroupView[];
}

export type UsageAnswer =
  { kind: 'json'; body: UsageEventList | UsageGroupList } | { kind: 'csv'; stream: Readable };

/** The query parameters a cursor is bound to (the range is carried by the cursor itself). */
const SCOPED = ['from', 'to', 'key_id', 'model', 'provider', 'status', 'kind'] as const;

@Injectable()
export class UsageService {
  private readonly cursors: CursorCodec;

  constructor(
    private readonly usage: UsageRepository,
    private readonly clock: Clock,
    secret: SigningSecret,
  ) {
    this.cursors = new CursorCodec(deriveKey('usage-cursor', secret.value));
  }

  /** `GET /v1/usage`: the caller's own events or groups, as JSON or as a streamed CSV. */
  async read(auth: AuthContext, input: UsageQueryInput): Promise<UsageAnswer> {
    const period = await this.usage.period(auth.accountId);
    if (!period) {
      throw new GatewayError(ErrorCode.NotFound, 'Account not found.');
    }
    const query = parseUsageQuery(input, period, this.clock.date());
    const scope = [auth.accountId, ...SCOPED.map((name) => input[name] ?? '')].join('\n');
    const after = query.cursor === null ? null : this.cursors.decode(query.cursor, scope);
    if (after) {
      query.filters.from = new Date(after.from);
      query.filters.to = new Date(after.to);
    }
    const range = { from: query.filters.from.toISOString(), to: query.filters.to.toISOString() };

    if (query.groupBy.length > 0) {
      const rows = await this.usage.groups(auth.accountId, query.filters, query.groupBy);
      const data = rows.map((row) => groupView(row, query.groupBy));
      if (query.format === 'csv') {
        const columns = [...query.groupBy.map((d) => DIMENSION_COLUMN[d]), ...GROUP_MEASURES];
        const lines = [csvLine(columns), ...data.map((g) => csvLine(columns.map((c) => g[c] ?? null)))];
        return { kind: 'csv', stream: Readable.from(lines) };
      }
      return { kind: 'json', body: { object: 'list', ...range, group_by: query.groupBy, data } };
    }

    if (query.format === 'csv') {
      return { kind: 'csv', stream: Readable.from(this.csvEvents(auth.accountId, query, after)) };
    }
    const rows = await this.usage.events(auth.accountId, query.filters, after, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const hasMore = rows.length > query.limit && last !== undefined;
    return {
      kind: 'json',
      body: {
        object: 'list',
        ...range,
        data: page.map(eventView),
        has_more: hasMore,
        next_cursor: hasMore
          ? this.cursors.encode(
              {
                createdAt: last.position,
                id: last.id,
                from: query.filters.from.getTime(),
                to: query.filters.to.getTime(),
              },
              scope,
            )
          : null,
      },
    };
  }

  /** Every event of the query from the cursor on, read a page at a time while the client takes them. */
  private async *csvEvents(
    accountId: string,
    query: UsageQuery,
    start: { createdAt: string; id: string } | null,
  ): AsyncGenerator<string> {
    yield csvLine(EVENT_COLUMNS);
    let after = start;
    for (;;) {
      const rows: EventRow[] = await this.usage.events(accountId, query.filters, after, MAX_LIMIT);
      for (const row of rows) {
        const view = eventView(row);
        yield csvLine(EVENT_COLUMNS.map((c) => view[c]));
      }
      const last = rows.at(-1);
      if (!last || rows.length < MAX_LIMIT) {
        return;
      }
      after = { createdAt: last.position, id: last.id };
    }
  }
}
