import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, GatewayError } from '../common/errors.js';

/** Where a page of events ends: the last event's time (Postgres text, microseconds) and id. */
export interface CursorPosition {
  createdAt: string;
  id: string;
}

/** A position and the range the first page resolved (its defaults included), so later pages read the same range. */
export interface CursorState extends CursorPosition {
  from: number;
  to: number;
}

/**
 * Opaque, tamper-proof page cursors: the position and what the page was read for (the account and the filters),
 * signed with an HMAC. A cursor altered, forged, or replayed with other filters or by another account is a 400.
 */
export class CursorCodec {
  constructor(private readonly secret: Buffer) {}

  encode(state: CursorState, scope: string): string {
    const body = Buffer.from(JSON.stringify([state.createdAt, state.id, state.from, state.to])).toString(
      'base64url',
    );
    return `${body}.${this.sign(body, scope)}`;
  }

  decode(cursor: string, scope: string): CursorState {
    const [body, mac, extra] = cursor.split('.');
    if (extra === undefined && body && mac) {
      const expected = Buffer.from(this.sign(body, scope));
      const given = Buffer.from(mac);
      if (given.length === expected.length && timingSafeEqual(given, expected)) {
        const [createdAt, id, from, to] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [
          string,
          string,
          number,
          number,
        ];
        return { createdAt, id, from, to };
      }
    }
    throw new GatewayError(
      ErrorCode.InvalidRequest,
      'cursor is not a next_cursor of this query: pass it back unchanged, with the same filters.',
      { param: 'cursor' },
    );
  }

  private sign(body: string, scope: string): string {
    return createHmac('sha256', this.secret).update(`${scope}\n${body}`).digest('base64url');
  }
}
