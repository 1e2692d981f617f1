import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '../common/clock.js';
import { CONFIG, type Config } from '../config/config.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { RedisService } from '../redis/redis.service.js';
import type { ApiKey, KeyKind } from './api-key.entity.js';
import type { AuthContext } from './auth-context.js';
import { displayParts, generateKey, hashKey, newPublicId, parseKey } from './key-format.js';
import { KeysRepository, type KeyWithAccount } from './keys.repository.js';

/** Broadcast to every instance when a key stops being valid (payload: its SHA-256) or an account changes. */
const REVOKED_CHANNEL = 'conflux:keys:revoked';
const ACCOUNT_CHANNEL = 'conflux:accounts:changed';
/** Cached lookups (hits and misses) at most: well-formed unknown keys cannot grow memory without bound. */
const CACHE_LIMIT = 100_000;

export interface KeyView {
  id: string;
  object: 'api_key';
  name: string;
  kind: KeyKind;
  /** e.g. `cf_live_AbCd…wxyz` */
  display: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreatedKey extends KeyView {
  /** The raw key: returned once, never stored or shown again. */
  key: string;
}

interface CacheEntry {
  found: KeyWithAccount | null;
  until: number;
  at: number;
}

/** While Redis is down, revocations are not broadcast: no cached lookup is trusted for longer than this. */
const DEGRADED_TTL_MS = 1_000;

@Injectable()
export class KeysService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KeysService.name);
  private readonly cache = new Map<string, CacheEntry>();
  private readonly touched = new Set<string>();
  private readonly revokedListeners: Array<(sha256: string) => void> = [];
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly keys: KeysRepository,
    private readonly redis: RedisService,
    @Inject(CONFIG) private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.redis.subscribe(REVOKED_CHANNEL, (sha256) => {
      this.cache.delete(sha256);
      for (const listener of this.revokedListeners) {
        listener(sha256);
      }
    });
    // Broadcasts sent while Redis was away were lost: what was cached before is looked up again.
    this.redis.onAvailability(() => this.cache.clear());
    await this.redis.subscribe(ACCOUNT_CHANNEL, (accountId) => this.forgetAccount(accountId));
    this.flushTimer = setInterval(() => void this.flushLastUsed(), this.config.keys.lastUsedFlushMs);
    this.flushTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastUsed();
  }

  async create(
    accountId: string,
    input: { name: string; kind: KeyKind; expiresAt?: Date },
  ): Promise<CreatedKey> {
    if (input.expiresAt && input.expiresAt.getTime() <= this.clock.now()) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'expires_at must be in the future.', {
        param: 'expires_at',
      });
    }
    const raw = generateKey(input.kind);
    const key = await this.keys.insert({
      publicId: newPublicId(),
      accountId,
      kind: input.kind,
      name: input.name,
      ...displayParts(raw),
      sha256: hashKey(raw),
      expiresAt: input.expiresAt ?? null,
    });
    this.cache.delete(key.sha256); // a cached "unknown" for this hash is wrong from now on
    return { ...this.toView(key), key: raw };
  }

  async list(accountId: string): Promise<KeyView[]> {
    return (await this.keys.listByAccount(accountId)).map((k) => this.toView(k));
  }

  async revoke(accountId: string, publicId: string): Promise<KeyView> {
    const key = /^key_[0-9A-Za-z]{1,64}$/.test(publicId) ? await this.keys.revoke(accountId, publicId) : null;
    if (!key) {
      throw new GatewayError(ErrorCode.NotFound, `No API key with id ${publicId}.`, { param: 'id' });
    }
    this.cache.delete(key.sha256);
    await this.redis.publish(REVOKED_CHANNEL, key.sha256);
    return this.toView(key);
  }

  /** Called with a key's SHA-256 when it is revoked on any instance (while Redis is down: on this one). */
  onRevoked(listener: (sha256: string) => void): void {
    this.revokedListeners.push(listener);
  }

  /**
   * Whether the key with this SHA-256 still authenticates (not revoked, not expired, its account active): for
   * long-lived connections, checked again from time to time since a broadcast may have been lost.
   */
  async stillValid(sha256: string): Promise<boolean> {
    const found = await this.keys.findByHash(sha256);
    const now = this.clock.now();
    return (
      found !== null &&
      !found.key.revokedAt &&
      !(found.key.expiresAt && found.key.expiresAt.getTime() <= now) &&
      found.account.status === 'active'
    );
  }

  /** Revokes a key of any account (support staff): null when no key has this id. Every instance drops it. */
  async revokeAny(
    publicId: string,
  ): Promise<{ accountId: string; view: KeyView; wasRevoked: boolean } | null> {
    const before = /^key_[0-9A-Za-z]{1,64}$/.test(publicId)
      ? await this.keys.findAnyByPublicId(publicId)
      : null;
    if (!before) {
      return null;
    }
    const key = (await this.keys.revoke(before.accountId, publicId))!;
    this.cache.delete(key.sha256);
    await this.redis.publish(REVOKED_CHANNEL, key.sha256);
    return { accountId: key.accountId, view: this.toView(key), wasRevoked: before.revokedAt !== null };
  }

  /** Revokes every key of the account at once (deletion): every instance refuses them from the next request. */
  async revokeAll(accountId: string): Promise<number> {
    const hashes = await this.keys.revokeAll(accountId, this.clock.date());
    for (const sha256 of hashes) {
      this.cache.delete(sha256);
      await this.redis.publish(REVOKED_CHANNEL, sha256);
    }
    await this.accountChanged(accountId);
    return hashes.length;
  }

  /** The accounts owning a key whose public id is `text`, or whose display prefix the text starts with. */
  accountsByKey(text: string): Promise<string[]> {
    return this.keys.accountsByKey(text);
  }

  /** Deletes every key row of the account (the purge), in the caller's transaction. */
  deleteAllOf(m: EntityManager, accountId: string): Promise<void> {
    return this.keys.deleteAllOf(m, accountId);
  }

  /** Drops every cached key of an account on every instance (after suspension, plan change, deletion). */
  async accountChanged(accountId: string): Promise<void> {
    this.forgetAccount(accountId);
    await this.redis.publish(ACCOUNT_CHANNEL, accountId);
  }

  /**
   * Resolves a raw key to its caller, or throws 401 `invalid_api_key`. A malformed key or one whose checksum
   * fails is rejected before any lookup; a known hash is served from a short in-memory cache.
   */
  async authenticate(raw: string): Promise<AuthContext> {
    if (parseKey(raw) === null) {
      throw invalidKey();
    }
    const sha256 = hashKey(raw);
    const now = this.clock.now();
    let entry = this.cache.get(sha256);
    const degraded = this.redis.degraded;
    if (!entry || entry.until <= now || (degraded && entry.at + DEGRADED_TTL_MS <= now)) {
      const ttl = degraded
        ? Math.min(this.config.keys.cacheTtlMs, DEGRADED_TTL_MS)
        : this.config.keys.cacheTtlMs;
      entry = { found: await this.keys.findByHash(sha256), until: now + ttl, at: now };
      if (this.config.keys.cacheTtlMs > 0) {
        if (this.cache.size >= CACHE_LIMIT) {
          this.cache.delete(this.cache.keys().next().value!); // oldest first: the cache stays bounded
        }
        this.cache.set(sha256, entry);
      }
    }
    let found = entry.found;
    if (!found) {
      throw invalidKey();
    }
    // Whoever sends the raw key holds it: saying why their own key stopped working tells them nothing about
    // anyone else's (an unknown key keeps the generic message).
    if (found.key.revokedAt) {
      throw new GatewayError(
        ErrorCode.InvalidApiKey,
        `This API key (${found.key.publicId}) was revoked at ${found.key.revokedAt.toISOString()}. ` +
          'Create a new key (POST /v1/keys) and use it instead.',
      );
    }
    if (found.key.expiresAt && found.key.expiresAt.getTime() <= now) {
      throw new GatewayError(
        ErrorCode.InvalidApiKey,
        `This API key (${found.key.publicId}) expired at ${found.key.expiresAt.toISOString()}. ` +
          'Create a new key (POST /v1/keys) and use it instead.',
      );
    }
    if (found.account.status === 'suspended') {
      throw new GatewayError(ErrorCode.PermissionDenied, ACCOUNT_SUSPENDED);
    }
    if (found.account.status !== 'active') {
      throw new GatewayError(
        ErrorCode.InvalidApiKey,
        `This account is ${found.account.status.replace('_', ' ')}.`,
      );
    }
    if (found.key.kind === 'live' && !found.account.emailVerified && this.config.mail.requireVerification) {
      found = await this.verifiedSince(sha256, entry);
    }
    this.touched.add(found.key.id);
    return {
      accountId: found.account.id,
      plan: found.account.plan,
      role: found.account.role,
      via: 'key',
      pastDueSince: found.account.pastDueSince?.getTime() ?? null,
      key: { id: found.key.id, publicId: found.key.publicId, kind: found.key.kind },
    };
  }

  /**
   * A live key of an account whose address is not verified: read again (not from the cache, which may predate the
   * verification; the refusal is rare, so the lookup costs little), then 403 `email_not_verified` if still so.
   */
  private async verifiedSince(sha256: string, entry: CacheEntry): Promise<KeyWithAccount> {
    const fresh = await this.keys.findByHash(sha256);
    if (fresh?.account.emailVerified) {
      entry.found = fresh;
      return fresh;
    }
    throw new GatewayError(
      ErrorCode.PermissionDenied,
      'Live keys work once the email address of the account is verified: open the link of the verification mail ' +
        '(or ask for a new one in the dashboard, POST /auth/verify/resend). Test keys (cf_test_…) work meanwhile.',
      { code: 'email_not_verified' },
    );
  }

  async flushLastUsed(): Promise<void> {
    if (this.touched.size === 0) {
      return;
    }
    const ids = [...this.touched];
    this.touched.clear();
    try {
      await this.keys.touch(ids, this.clock.date());
    } catch (error) {
      this.logger.warn(`could not record last use of ${ids.length} keys: ${(error as Error).message}`);
    }
  }

  private forgetAccount(accountId: string): void {
    for (const [hash, entry] of this.cache) {
      if (entry.found?.account.id === accountId) {
        this.cache.delete(hash);
      }
    }
  }

  private toView(key: ApiKey): KeyView {
    return {
      id: key.publicId,
      object: 'api_key',
      name: key.name,
      kind: key.kind,
      display: `${key.displayPrefix}…${key.last4}`,
      created_at: key.createdAt.toISOString(),
      expires_at: key.expiresAt?.toISOString() ?? null,
      last_used_at: key.lastUsedAt?.toISOString() ?? null,
      revoked_at: key.revokedAt?.toISOString() ?? null,
    };
  }
}

export const ACCOUNT_SUSPENDED = 'This account is suspended. Contact support to restore access.';

function invalidKey(): GatewayError {
  return new GatewayError(
    ErrorCode.InvalidApiKey,
    'Incorrect API key provided. You can find your API keys in the Conflux dashboard.',
  );
}
