import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { deriveKey, seal, unseal } from '../common/seal.js';
import { IdempotencyRepository } from './idempotency.repository.js';

/** How long a completed answer can be replayed. */
const RETENTION_HOURS = 24;
/**
 * An in-flight record older than this belongs to an instance that died mid-request: a retry may take it over.
 * Longer than the longest stream (128K tokens at a slow 20 tokens/s is under two hours).
 */
const ABANDONED_AFTER_MS = 2 * 60 * 60 * 1000;

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface IdempotencyClaim {
  lookup: string;
  secret: Buffer;
  fingerprint: string;
}

export type ClaimResult =
  { kind: 'claimed'; claim: IdempotencyClaim } | { kind: 'replay'; answer: StoredAnswer };

/**
 * `Idempotency-Key` on POST /v1/chat/completions. The first request claims the key; a duplicate while it is in
 * flight gets 409; a retry after it completed gets the stored answer, with no new provider call and no charge.
 *
 * The stored answer is sealed (AES-256-GCM) with a key derived from the caller's raw API key and the
 * Idempotency-Key, neither of which the gateway keeps: the table holds no readable completion.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger(IdempotencyService.name);

  constructor(private readonly records: IdempotencyRepository) {}

  async claim(
    accountId: string,
    rawApiKey: string,
    idempotencyKey: string,
    body: unknown,
  ): Promise<ClaimResult> {
    if (idempotencyKey.length === 0 || idempotencyKey.length > 255) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'Idempotency-Key must be 1 to 255 characters.', {
        param: 'Idempotency-Key',
      });
    }
    const lookup = sha256(`${accountId}\n${idempotencyKey}`);
    const secret = deriveKey('idempotency', rawApiKey, idempotencyKey);
    const fingerprint = sha256(JSON.stringify(body));
    const claim: IdempotencyClaim = { lookup, secret, fingerprint };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.records.insert(lookup, accountId, RETENTION_HOURS)) {
        return { kind: 'claimed', claim };
      }
      const row = await this.records.find(lookup);
      if (!row) {
        continue; // released between our insert and select: try again
      }
      const abandoned =
        row.state === 'in_flight' && Date.now() - row.createdAt.getTime() > ABANDONED_AFTER_MS;
      if (row.expired || abandoned) {
        await this.records.delete(lookup);
        continue;
      }
      if (row.state === 'in_flight') {
        throw new GatewayError(
          ErrorCode.Conflict,
          'A request with this Idempotency-Key is still in progress. Retry after it completes.',
          { param: 'Idempotency-Key', code: 'idempotency_key_in_use', headers: { 'retry-after': '1' } },
        );
      }
      return { kind: 'replay', answer: this.open(claim, row.sealed) };
    }
    throw new GatewayError(ErrorCode.Conflict, 'The Idempotency-Key is busy. Retry.', {
      param: 'Idempotency-Key',
    });
  }

  /** Stores the completed answer (sealed) for replays. Streamed answers are recorded as completed without a body. */
  async complete(claim: IdempotencyClaim, answer: StoredAnswer | null): Promise<void> {
    const sealed = answer
      ? seal(claim.secret, JSON.stringify({ fingerprint: claim.fingerprint, ...answer }))
      : null;
    await this.records.complete(claim.lookup, sealed);
  }

  /** The request failed before completing: free the key so a retry runs again. */
  async release(claim: IdempotencyClaim): Promise<void> {
    await this.records.release(claim.lookup);
  }

  /** Replays are kept 24 h: older records go, hourly. */
  @Interval('idempotency-purge', 60 * 60_000)
  async purgeExpired(): Promise<number> {
    const count = await this.records.purgeExpired();
    if (count > 0) {
      this.logger.log(`purged ${count} expired Idempotency-Key records`);
    }
    return count;
  }

  private open(claim: IdempotencyClaim, sealed: Buffer | null): StoredAnswer {
    if (!sealed) {
      throw new GatewayError(
        ErrorCode.Conflict,
        'A streamed request with this Idempotency-Key already completed; streamed answers are not stored for replay.',
        { param: 'Idempotency-Key', code: 'idempotency_key_used' },
      );
    }
    let stored: StoredAnswer & { fingerprint: string };
    try {
      stored = JSON.parse(unseal(claim.secret, Buffer.from(sealed))) as StoredAnswer & {
        fingerprint: string;
      };
    } catch {
      throw new GatewayError(ErrorCode.Conflict, 'This Idempotency-Key was used by another API key.', {
        param: 'Idempotency-Key',
        code: 'idempotency_key_used',
      });
    }
    if (stored.fingerprint !== claim.fingerprint) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        'This Idempotency-Key was already used with a different request body.',
        { param: 'Idempotency-Key', code: 'idempotency_key_reused' },
      );
    }
    return { status: stored.status, headers: stored.headers, body: stored.body };
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
