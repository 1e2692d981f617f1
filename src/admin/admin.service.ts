import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Account, AccountStatus, Plan, Role } from '../accounts/account.entity.js';
import { AccountsService } from '../accounts/accounts.service.js';
import {
  AdjustmentsService,
  parseCredits,
  type AdjustmentResult,
  type LedgerEntryView,
} from '../billing/adjustments.service.js';
import { CreditsService, type CreditsView } from '../billing/credits.service.js';
import { formatCredits } from '../catalog/credits.js';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';
import { CONFIG, type Config } from '../config/config.js';
import { ProviderDrains } from '../health/drains.js';
import { HealthService } from '../health/health.service.js';
import type { AuthContext } from '../keys/auth-context.js';
import { KeysService, type KeyView } from '../keys/keys.service.js';
import { AuditLog, type Actor, type AuditEntryView, type AuditFilter } from './audit.js';
import { SubscriptionPort } from './subscription.port.js';

/** A deleted account's data is purged this long after the request (the product's promise: within 30 days). */
export const PURGE_AFTER_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AccountSummary {
  id: string;
  object: 'account';
  email: string;
  role: Role;
  plan: Plan;
  status: AccountStatus;
  created_at: string;
  deletion_requested_at: string | null;
  purge_after: string | null;
}

export interface AccountDetail extends AccountSummary {
  subscription: boolean;
  credits: CreditsView;
  keys: KeyView[];
}

export interface Page<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export interface ProviderAdminView {
  id: ProviderId;
  object: 'provider';
  enabled: boolean;
  state: string;
  circuit: string;
  drained: boolean;
  drained_at: string | null;
  drain_reason: string | null;
}

export interface CreditGrant {
  credits: string;
  reason: string;
  force?: boolean;
}

/**
 * What support staff do (accounts, credits, keys, plans, deletion, providers, staff), each action recorded in the
 * audit log. Money goes through billing (`AdjustmentsService`), keys through `KeysService` (revocations reach every
 * instance within a second), drains through health; Stripe only through `SubscriptionPort`.
 */
@Injectable()
export class AdminService {
  private readonly logger = new Logger(AdminService.name);

  constructor(
    private readonly accounts: AccountsService,
    private readonly keys: KeysService,
    private readonly adjustments: AdjustmentsService,
    private readonly credits: CreditsService,
    private readonly subscriptions: SubscriptionPort,
    private readonly health: HealthService,
    private readonly drains: ProviderDrains,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** By account id, key id or prefix (`key_…`, `cf_live_…`), Stripe customer id (`cus_…`) or part of the email. */
  async search(q: string, limit: number, offset: number): Promise<Page<AccountSummary>> {
    const text = q.trim();
    let found: Account[];
    if (UUID.test(text)) {
      found = await this.accounts.findByIds([text]);
    } else if (text.startsWith('cus_')) {
      const id = await this.subscriptions.findAccountByCustomer(text);
      found = id ? await this.accounts.findByIds([id]) : [];
    } else if (text.startsWith('key_') || text.startsWith('cf_')) {
      found = await this.accounts.findByIds(await this.keys.accountsByKey(text));
    } else {
      const rows = await this.accounts.searchByEmail(text, limit + 1, offset);
      return { object: 'list', data: rows.slice(0, limit).map(summary), has_more: rows.length > limit };
    }
    const page = found.slice(offset, offset + limit);
    return { object: 'list', data: page.map(summary), has_more: found.length > offset + limit };
  }

  async account(id: string): Promise<AccountDetail> {
    const account = await this.find(id);
    const [credits, keys, subscription] = await Promise.all([
      this.credits.credits(id),
      this.keys.list(id),
      this.subscriptions.hasSubscription(id),
    ]);
    return { ...summary(account), subscription, credits, keys };
  }

  suspend(actor: Actor, id: string, reason: string): Promise<AccountSummary> {
    return this.transition(actor, id, 'active', 'suspended', 'account.suspend', reason);
  }

  reactivate(actor: Actor, id: string, reason: string): Promise<AccountSummary> {
    return this.transition(actor, id, 'suspended', 'active', 'account.reactivate', reason);
  }

  /** Grants (positive) or deducts (negative) credits: an `adjustment`, applied once per Idempotency-Key. */
  async grant(
    actor: Actor,
    id: string,
    input: CreditGrant,
    idempotencyKey: string | undefined,
  ): Promise<AdjustmentResult> {
    if (!idempotencyKey || idempotencyKey.length > 255) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        'An Idempotency-Key header (1 to 255 characters) is required: a retry with the same key applies the ' +
          'adjustment once.',
        { param: 'Idempotency-Key' },
      );
    }
    const amount = parseCredits(input.credits);
    if (amount === null || amount === 0n) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        'credits must be a non-zero decimal number of credits with at most 6 decimals, e.g. "250" or "-12.5".',
        { param: 'credits' },
      );
    }
    await this.find(id);
    const reference = `admin:${id}:${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}`;
    return this.adjustments.adjust(
      { accountId: id, amountMicro: amount, reference, note: input.reason, force: input.force === true },
      (m, result) =>
        this.audit.record(
          actor,
          {
            action: amount > 0n ? 'credits.grant' : 'credits.deduct',
            targetType: 'account',
            targetId: id,
            reason: input.reason,
            before: { balance: formatCredits(parseCredits(result.balance)! - amount) },
            after: { balance: result.balance, credits: result.entry.credits, ledger_entry: result.entry.id },
          },
          m,
        ),
    );
  }

  async ledger(id: string, limit: number, before?: string): Promise<Page<LedgerEntryView>> {
    await this.find(id);
    if (before !== undefined && !/^\d{1,18}$/.test(before)) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'before must be a ledger entry id.', {
        param: 'before',
      });
    }
    const rows = await this.adjustments.ledgerPage(id, limit + 1, before);
    return { object: 'list', data: rows.slice(0, limit), has_more: rows.length > limit };
  }

  async revokeKey(actor: Actor, keyId: string, reason: string | undefined): Promise<KeyView> {
    const revoked = await this.keys.revokeAny(keyId);
    if (!revoked) {
      throw new GatewayError(ErrorCode.NotFound, `No API key with id ${keyId}.`, { param: 'key_id' });
    }
    if (!revoked.wasRevoked) {
      await this.audit.record(actor, {
        action: 'key.revoke',
        targetType: 'key',
        targetId: keyId,
        reason,
        before: { account_id: revoked.accountId, revoked: false },
        after: { account_id: revoked.accountId, revoked: true },
      });
    }
    return revoked.view;
  }

  /**
   * Comps or changes the plan. With a Stripe subscription the change goes through Stripe (the plan follows from
   * its webhook); without one it is written at once with the allocation rule of `planChangeDelta`.
   */
  async changePlan(
    actor: Actor,
    id: string,
    plan: Plan,
    reason: string,
  ): Promise<AccountSummary & { via: 'stripe' | 'direct'; credits_moved: string }> {
    const account = await this.find(id);
    if (account.status === 'deleted') {
      throw new GatewayError(ErrorCode.Conflict, 'This account is deleted.');
    }
    if (await this.subscriptions.hasSubscription(id)) {
      await this.subscriptions.changePlan(id, plan);
      await this.audit.record(actor, {
        action: 'plan.change',
        targetType: 'account',
        targetId: id,
        reason,
        before: { plan: account.plan },
        after: { plan, via: 'stripe' },
      });
      return { ...summary(account), via: 'stripe', credits_moved: '0' };
    }
    const change = await this.adjustments.changePlan(
      id,
      plan,
      `plan:${id}:${randomUUID()}`,
      `plan ${account.plan} → ${plan}: ${reason}`,
      (m, c) =>
        this.audit.record(
          actor,
          {
            action: 'plan.change',
            targetType: 'account',
            targetId: id,
            reason,
            before: { plan: c.before },
            after: { plan: c.after, via: 'direct', credits_moved: formatCredits(c.deltaMicro) },
          },
          m,
        ),
    );
    await this.keys.accountChanged(id); // cached lookups carry the plan (its rate limit)
    return {
      ...summary(await this.find(id)),
      via: 'direct',
      credits_moved: formatCredits(change.deltaMicro),
    };
  }

  /** Staff-initiated deletion. */
  requestDeletion(actor: Actor, id: string, reason: string): Promise<AccountSummary> {
    return this.deleteAccount(actor, id, reason);
  }

  /** The owner's own deletion (`DELETE /v1/account`), confirmed with the password. */
  async deleteOwnAccount(auth: AuthContext, password: string, requestId: string): Promise<AccountSummary> {
    const account = await this.find(auth.accountId);
    if (!(await this.accounts.checkPassword(account, password))) {
      throw new GatewayError(ErrorCode.InvalidCredentials, 'The password is wrong.');
    }
    return this.deleteAccount(
      { accountId: auth.accountId, role: auth.role, requestId },
      auth.accountId,
      'requested by the account owner',
    );
  }

  async cancelDeletion(actor: Actor, id: string, reason: string): Promise<AccountSummary> {
    const before = await this.find(id);
    const account = await this.accounts.cancelDeletion(id);
    if (!account) {
      throw new GatewayError(
        ErrorCode.Conflict,
        before.status === 'deleted'
          ? 'This account was purged already: its deletion cannot be cancelled.'
          : 'No deletion is scheduled for this account.',
      );
    }
    await this.keys.accountChanged(id);
    await this.audit.record(actor, {
      action: 'account.deletion_cancel',
      targetType: 'account',
      targetId: id,
      reason,
      before: { status: before.status, purge_after: before.purgeAfter?.toISOString() ?? null },
      after: { status: account.status },
    });
    return summary(account);
  }

  async providers(): Promise<Page<ProviderAdminView>> {
    return { object: 'list', data: PROVIDER_IDS.map((p) => this.providerView(p)), has_more: false };
  }

  async drain(actor: Actor, provider: string, reason: string): Promise<ProviderAdminView> {
    const id = this.provider(provider);
    const { changed } = await this.drains.drain(id, reason);
    if (changed) {
      this.logger.warn({ provider: id }, `provider ${id} drained by staff: routing skips it`);
      await this.audit.record(actor, {
        action: 'provider.drain',
        targetType: 'provider',
        targetId: id,
        reason,
        before: { drained: false },
        after: { drained: true },
      });
    }
    return this.providerView(id);
  }

  async restore(actor: Actor, provider: string, reason: string): Promise<ProviderAdminView> {
    const id = this.provider(provider);
    if (await this.drains.restore(id)) {
      this.logger.log({ provider: id }, `provider ${id} restored by staff`);
      await this.audit.record(actor, {
        action: 'provider.restore',
        targetType: 'provider',
        targetId: id,
        reason,
        before: { drained: true },
        after: { drained: false },
      });
    }
    return this.providerView(id);
  }

  async staff(): Promise<Page<AccountSummary>> {
    return { object: 'list', data: (await this.accounts.listStaff()).map(summary), has_more: false };
  }

  async createStaff(
    actor: Actor,
    input: { email: string; password: string; role: Role },
  ): Promise<AccountSummary> {
    const account = await this.accounts.createWithRole(input.email, input.password, input.role);
    if (!account) {
      throw new GatewayError(ErrorCode.Conflict, 'An account with this email already exists.', {
        param: 'email',
        code: 'email_taken',
      });
    }
    await this.audit.record(actor, {
      action: 'staff.create',
      targetType: 'staff',
      targetId: account.id,
      after: { role: account.role },
    });
    return summary(account);
  }

  async setRole(actor: Actor, id: string, role: Role): Promise<AccountSummary> {
    const before = await this.find(id);
    const outcome = await this.accounts.setRole(id, role);
    if (outcome === 'not_found') {
      throw notFound(id);
    }
    if (outcome === 'last_admin') {
      throw new GatewayError(
        ErrorCode.Conflict,
        'This is the last active admin: make another account admin first.',
        { param: 'role', code: 'last_admin' },
      );
    }
    await this.keys.accountChanged(id);
    if (before.role !== role) {
      await this.audit.record(actor, {
        action: 'staff.role',
        targetType: 'staff',
        targetId: id,
        before: { role: before.role },
        after: { role },
      });
    }
    return summary(await this.find(id));
  }

  auditLog(filter: AuditFilter): Promise<Page<AuditEntryView>> {
    return this.audit.list({ ...filter, limit: filter.limit + 1 }).then((rows) => ({
      object: 'list',
      data: rows.slice(0, filter.limit),
      has_more: rows.length > filter.limit,
    }));
  }

  /**
   * Pending deletion, every session ended, every key revoked on every instance, the Stripe subscription cancelled,
   * the purge scheduled. A second request (or a retry after a failure half-way) repeats the revocations and the
   * cancellation, which are no-ops by then, and keeps the first schedule.
   */
  private async deleteAccount(actor: Actor, id: string, reason: string): Promise<AccountSummary> {
    const before = await this.find(id);
    const now = this.clock.date();
    const scheduled = await this.accounts.requestDeletion(
      id,
      now,
      new Date(now.getTime() + PURGE_AFTER_DAYS * DAY_MS),
    );
    await this.keys.revokeAll(id);
    if (await this.subscriptions.hasSubscription(id)) {
      await this.subscriptions.cancel(id);
    }
    if (scheduled) {
      await this.audit.record(actor, {
        action: 'account.deletion_request',
        targetType: 'account',
        targetId: id,
        reason,
        before: { status: before.status },
        after: { status: scheduled.status, purge_after: scheduled.purgeAfter?.toISOString() ?? null },
      });
    }
    return summary(scheduled ?? (await this.find(id)));
  }

  private async transition(
    actor: Actor,
    id: string,
    from: AccountStatus,
    to: AccountStatus,
    action: string,
    reason: string,
  ): Promise<AccountSummary> {
    const before = await this.find(id);
    if (before.status === to) {
      return summary(before); // already there: nothing to do, nothing to record
    }
    const account = await this.accounts.transition(id, [from], to);
    if (!account) {
      throw new GatewayError(ErrorCode.Conflict, `This account is ${before.status.replace('_', ' ')}.`);
    }
    await this.keys.accountChanged(id); // every instance drops the cached status at once
    await this.audit.record(actor, {
      action,
      targetType: 'account',
      targetId: id,
      reason,
      before: { status: before.status },
      after: { status: to },
    });
    return summary(account);
  }

  private providerView(id: ProviderId): ProviderAdminView {
    const view = this.health.view(id);
    const drain = this.drains.get(id);
    return {
      id,
      object: 'provider',
      enabled: this.config.providers[id].enabled,
      state: this.health.stateOf(id),
      circuit: view.circuit,
      drained: drain !== undefined,
      drained_at: drain?.drainedAt.toISOString() ?? null,
      drain_reason: drain?.reason ?? null,
    };
  }

  private provider(name: string): ProviderId {
    const id = PROVIDER_IDS.find((p) => p === name);
    if (!id) {
      throw new GatewayError(
        ErrorCode.NotFound,
        `No provider ${name}. Providers: ${PROVIDER_IDS.join(', ')}.`,
        {
          param: 'provider',
        },
      );
    }
    return id;
  }

  private async find(id: string): Promise<Account> {
    const account = UUID.test(id) ? await this.accounts.findById(id) : null;
    if (!account) {
      throw notFound(id);
    }
    return account;
  }
}

function notFound(id: string): GatewayError {
  return new GatewayError(ErrorCode.NotFound, `No account with id ${id}.`, { param: 'id' });
}

function summary(account: Account): AccountSummary {
  return {
    id: account.id,
    object: 'account',
    email: account.email,
    role: account.role,
    plan: account.plan,
    status: account.status,
    created_at: account.createdAt.toISOString(),
    deletion_requested_at: account.deletionRequestedAt?.toISOString() ?? null,
    purge_after: account.purgeAfter?.toISOString() ?? null,
  };
}
