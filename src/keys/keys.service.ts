import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '../common/clock.js';
import { CONFIG, type Config } from '../config/config.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { RedisService } from '../redis/redis.service.js';
import type { ApiKey, KeyKind } from './api-key.entity.js';
import type { AuthContext } from './auth-context.js';
import { displayParts, generateKey, hashKey, newPublicId, parseKey } from './key-format.js';
import { AuditLog, type Actor } from '../admin/audit.js';
import { formatCredits, MICRO_PER_CREDIT } from '../catalog/credits.js';
import { CatalogService } from '../catalog/catalog.service.js';
import { ModuleRef } from '@nestjs/core';
import { KeysRepository, type KeyWithAccount } from './keys.repository.js';

/** Broadcast to every instance when a key stops being valid (payload: its SHA-256) or an account changes. */
const REVOKED_CHANNEL = 'conflux:keys:revoked';
/** Broadcast when a key's settings change or it is rotated (payload: a SHA-256 to look up again). */
const CHANGED_CHANNEL = 'conflux:keys:changed';
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
  /** Credits per billing period (decimal), or null: only the account's balance limits the key. */
  credit_limit: string | null;
  allowed_models: string[] | null;
  rate_limit_rpm: number | null;
  /** What the key used in the account's current billing period. */
  usage: { period_start: string | null; credits: string; requests: number };
  rotated_at: string | null;
  /** Until when the secret before the last rotation still works (null: no rotation, or it has ended). */
  previous_key_valid_until: string | null;
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
    private readonly audit: AuditLog,
    /** The catalog (checked for `allowed_models`) is looked up lazily: the catalog module depends on this one. */
    private readonly moduleRef: ModuleRef,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.redis.subscribe(CHANGED_CHANNEL, (sha256) => this.cache.delete(sha256));
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
    actor?: Actor,
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
    if (actor) {
      await this.audit.record(actor, {
        action: 'key.create',
        targetType: 'key',
        targetId: key.publicId,
        after: { name: key.name, kind: key.kind, expires_at: key.expiresAt?.toISOString() ?? null },
      });
    }
    return { ...this.toView(key), key: raw };
  }

  async list(accountId: string): Promise<KeyView[]> {
    // One query after the other: a request holds one pool connection at a time.
    const keys = await this.keys.listByAccount(accountId);
    const use = await this.periodUse(accountId);
    return keys.map((k) => this.toView(k, use));
  }

  async get(accountId: string, publicId: string): Promise<KeyView> {
    const key = await this.find(accountId, publicId);
    return this.toView(key, await this.periodUse(accountId));
  }

  /**
   * Checks a `PATCH /v1/keys/{id}` body against the catalog and the plan: 400 naming the field at fault, else the
   * changes in the units the key stores (µcr, catalog ids).
   */
  settingsFrom(auth: AuthContext, body: KeySettingsInput): KeySettings {
    const changes: KeySettings = {};
    if (body.name !== undefined) {
      changes.name = body.name;
    }
    if (body.credit_limit !== undefined) {
      changes.creditLimitMicro = body.credit_limit === null ? null : creditLimit(body.credit_limit);
    }
    if (body.allowed_models !== undefined) {
      changes.allowedModels = body.allowed_models === null ? null : this.models(body.allowed_models);
    }
    if (body.rate_limit_rpm !== undefined) {
      const most = planRpm(this.config, auth.plan);
      const rpm = body.rate_limit_rpm;
      if (rpm !== null && (!Number.isInteger(rpm) || rpm < 1 || rpm > most)) {
        throw new GatewayError(
          ErrorCode.InvalidRequest,
          `rate_limit_rpm must be a whole number from 1 to ${most} (your plan's limit per minute).`,
          { param: 'rate_limit_rpm' },
        );
      }
      changes.rateLimitRpm = rpm;
    }
    return changes;
  }

  private models(ids: unknown): string[] {
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        'allowed_models must be a non-empty list of model ids (or null for every model).',
        { param: 'allowed_models' },
      );
    }
    const catalog = this.moduleRef.get(CatalogService, { strict: false });
    ids.forEach((id: unknown, i) => {
      if (typeof id !== 'string' || !catalog.get(id)) {
        throw new GatewayError(
          ErrorCode.InvalidRequest,
          `allowed_models[${i}] is not a model of the catalog: ${JSON.stringify(id)?.slice(0, 80)}. ` +
            'See GET /v1/models for the ids.',
          { param: `allowed_models[${i}]` },
        );
      }
    });
    return [...new Set(ids as string[])];
  }

  /** Renames the key and sets or clears its limits; every instance uses the new settings from its next request. */
  async update(actor: Actor, publicId: string, changes: KeySettings): Promise<KeyView> {
    const updated = await this.keys.updateSettings(actor.accountId, publicId, changes);
    if (!updated) {
      throw notFound(publicId);
    }
    await this.changed(updated.after);
    const before = settingsOf(updated.before);
    const after = settingsOf(updated.after);
    const changedFields = Object.keys(after).filter(
      (f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]),
    );
    if (changedFields.length > 0) {
      await this.audit.record(actor, {
        action: 'key.update',
        targetType: 'key',
        targetId: publicId,
        before: pick(before, changedFields),
        after: pick(after, changedFields),
      });
    }
    return this.toView(updated.after, await this.periodUse(actor.accountId));
  }

  /**
   * A new secret for the key, with the same id, settings and budget; the current secret keeps working for
   * `graceMs`, then is refused as rotated. A secret of an earlier rotation still in its grace stops at once.
   */
  async rotate(actor: Actor, publicId: string, graceMs: number): Promise<CreatedKey> {
    const existing = await this.find(actor.accountId, publicId);
    const raw = generateKey(existing.kind);
    const now = this.clock.date();
    const validUntil = new Date(now.getTime() + graceMs);
    const rotated = await this.keys.rotate(
      actor.accountId,
      publicId,
      { sha256: hashKey(raw), ...displayParts(raw) },
      now,
      validUntil,
    );
    if (!rotated) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `The API key ${publicId} is revoked: it cannot be rotated. Create a new key instead.`,
        { param: 'id' },
      );
    }
    const { key, dropped } = rotated;
    if (dropped) {
      this.cache.delete(dropped);
      await this.redis.publish(REVOKED_CHANNEL, dropped);
    }
    await this.changed(key);
    await this.audit.record(actor, {
      action: 'key.rotate',
      targetType: 'key',
      targetId: publicId,
      after: {
        previous_key_valid_until: validUntil.toISOString(),
        display: `${key.displayPrefix}…${key.last4}`,
      },
    });
    return { ...this.toView(key, await this.periodUse(actor.accountId)), key: raw };
  }

  async revoke(accountId: string, publicId: string, actor?: Actor): Promise<KeyView> {
    const key = /^key_[0-9A-Za-z]{1,64}$/.test(publicId) ? await this.keys.revoke(accountId, publicId) : null;
    if (!key) {
      throw notFound(publicId);
    }
    for (const sha256 of hashesOf(key)) {
      this.cache.delete(sha256);
      await this.redis.publish(REVOKED_CHANNEL, sha256);
    }
    if (actor) {
      await this.audit.record(actor, { action: 'key.revoke', targetType: 'key', targetId: publicId });
    }
    return this.toView(key, await this.periodUse(accountId));
  }

  private async find(accountId: string, publicId: string): Promise<ApiKey> {
    const key = /^key_[0-9A-Za-z]{1,64}$/.test(publicId)
      ? await this.keys.findByPublicId(accountId, publicId)
      : null;
    if (!key) {
      throw notFound(publicId);
    }
    return key;
  }

  /** Every instance looks the key up again (both its secrets) on its next request. */
  private async changed(key: ApiKey): Promise<void> {
    for (const sha256 of hashesOf(key)) {
      this.cache.delete(sha256);
      await this.redis.publish(CHANGED_CHANNEL, sha256);
    }
  }

  private periodUse(accountId: string): Promise<PeriodUse> {
    return this.keys.periodUse(accountId);
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
      (found.current || (found.key.previousValidUntil?.getTime() ?? 0) > now) &&
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
    for (const sha256 of hashesOf(key)) {
      this.cache.delete(sha256);
      await this.redis.publish(REVOKED_CHANNEL, sha256);
    }
    return {
      accountId: key.accountId,
      view: this.toView(key, await this.periodUse(key.accountId)),
      wasRevoked: before.revokedAt !== null,
    };
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
    if (!found.current && (found.key.previousValidUntil?.getTime() ?? 0) <= now) {
      throw new GatewayError(
        ErrorCode.InvalidApiKey,
        `This API key (${found.key.publicId}) was rotated at ${found.key.rotatedAt?.toISOString() ?? 'an earlier time'}` +
          ` and its grace period ended at ${found.key.previousValidUntil?.toISOString() ?? 'the rotation'}. ` +
          'Use the new key the rotation returned.',
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
      key: {
        id: found.key.id,
        publicId: found.key.publicId,
        kind: found.key.kind,
        creditLimited: found.key.creditLimitMicro !== null,
        allowedModels: found.key.allowedModels,
        rateLimitRpm: found.key.rateLimitRpm,
      },
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

  private toView(key: ApiKey, period?: PeriodUse): KeyView {
    const use = period?.use.get(key.id);
    const previous = key.previousValidUntil && key.previousValidUntil.getTime() > this.clock.now();
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
      credit_limit: key.creditLimitMicro === null ? null : formatCredits(key.creditLimitMicro),
      allowed_models: key.allowedModels,
      rate_limit_rpm: key.rateLimitRpm,
      usage: {
        period_start: period?.periodStart?.toISOString() ?? null,
        credits: formatCredits(use?.spentMicro ?? 0n),
        requests: use?.requests ?? 0,
      },
      rotated_at: key.rotatedAt?.toISOString() ?? null,
      previous_key_valid_until: previous ? key.previousValidUntil!.toISOString() : null,
    };
  }
}

/** The body of `PATCH /v1/keys/{id}` as sent (validated by `settingsFrom`). */
export interface KeySettingsInput {
  name?: string;
  credit_limit?: string | number | null;
  allowed_models?: unknown;
  rate_limit_rpm?: number | null;
}

/** The plan's requests per minute, as `rate_limit_rpm` is stated in (the window may be configured otherwise). */
export function planRpm(config: Config, plan: AuthContext['plan']): number {
  return Math.floor((config.rateLimit.perPlan[plan] * 60_000) / config.rateLimit.windowMs);
}

const MAX_LIMIT_MICRO = 1_000_000_000n * MICRO_PER_CREDIT;

/** "25", "0.5", 25: credits as an exact decimal (up to 6 places) → µcr; null when it is not one. */
function parseCredits(text: string): bigint | null {
  const match = /^(\d{1,12})(?:\.(\d{1,6}))?$/.exec(text.trim());
  return match ? BigInt(match[1]) * MICRO_PER_CREDIT + BigInt((match[2] ?? '').padEnd(6, '0')) : null;
}

function creditLimit(value: string | number): bigint {
  const micro = typeof value === 'string' || typeof value === 'number' ? parseCredits(String(value)) : null;
  if (micro === null || micro <= 0n || micro > MAX_LIMIT_MICRO) {
    throw new GatewayError(
      ErrorCode.InvalidRequest,
      'credit_limit must be a positive number of credits with at most 6 decimals, such as "25" or "0.5" ' +
        '(or null for no limit).',
      { param: 'credit_limit' },
    );
  }
  return micro;
}

/** What `PATCH /v1/keys/{id}` may change (each absent field unchanged, null clears). */
export type KeySettings = Partial<
  Pick<ApiKey, 'name' | 'creditLimitMicro' | 'allowedModels' | 'rateLimitRpm'>
>;

interface PeriodUse {
  use: Map<string, { spentMicro: bigint; requests: number }>;
  periodStart: Date | null;
}

/** The settings as the audit log records them: no secret, no hash. */
function settingsOf(key: ApiKey): Record<string, unknown> {
  return {
    name: key.name,
    credit_limit: key.creditLimitMicro === null ? null : formatCredits(key.creditLimitMicro),
    allowed_models: key.allowedModels,
    rate_limit_rpm: key.rateLimitRpm,
  };
}

function pick(values: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f, values[f]]));
}

function hashesOf(key: ApiKey): string[] {
  return key.previousSha256 ? [key.sha256, key.previousSha256] : [key.sha256];
}

function notFound(publicId: string): GatewayError {
  return new GatewayError(ErrorCode.NotFound, `No API key with id ${publicId}.`, { param: 'id' });
}

export const ACCOUNT_SUSPENDED = 'This account is suspended. Contact support to restore access.';

function invalidKey(): GatewayError {
  return new GatewayError(
    ErrorCode.InvalidApiKey,
    'Incorrect API key provided. You can find your API keys in the Conflux dashboard.',
  );
}
