import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import { formatCredits } from '../../catalog/credits.js';
import { Clock } from '../../common/clock.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import { CONFIG, type Config } from '../../config/config.js';
import { includedMicro } from '../plans.js';
import { UsagePublisher } from '../../usage/usage.publisher.js';
import {
  ACCOUNT_THRESHOLDS,
  AlertsRepository,
  type AccountState,
  type AlertSettings,
  type AlertSwitch,
  type KeyState,
} from './alerts.repository.js';
import { AlertMailer, type AlertMail } from './alert-mailer.js';
import { newWebhookSecret, SIGNATURE_HEADER, signatureHeader } from './signature.js';
import { webhookDispatcher, webhookUrlProblem } from './webhook-url.js';

/** Deliveries sent per round, and how long a claimed one is kept from other instances. */
const BATCH = 50;
const CLAIM_MS = 60_000;
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 3_600_000;
/** A delivery still failing after this many attempts (about a day of backoff) is given up. */
const MAX_ATTEMPTS = 30;
/** The full scan (the safety net behind the per-settlement check) runs every this many scan rounds. */
const FULL_SCAN_EVERY = 60;

export interface AlertSettingsView {
  object: 'alert_settings';
  thresholds: Record<AlertSwitch, boolean>;
  alert_webhook_url: string | null;
  /** Signs every webhook (`Conflux-Signature`): only the account's owner sees it. */
  webhook_secret: string;
}

export interface AlertSettingsInput {
  thresholds?: Partial<Record<string, unknown>>;
  alert_webhook_url?: string | null;
}

/** One alert as webhooks receive it (and mails say in words). */
export interface AlertEvent {
  id: string;
  object: 'event';
  type: 'credits.threshold' | 'credits.overage' | 'key.credit_limit_threshold';
  created: number;
  account_id: string;
  period: { start: string; end: string };
  data: Record<string, unknown>;
}

/**
 * Alerts before money runs out: 80 %, 95 %, 100 % of a Free account's allocation, a paid account entering overage,
 * a key at 90 % of its credit limit. Each alert once per period, on whichever instance sees it first (a row in
 * `alerts_sent`), then delivered through an outbox (a signed webhook, a mail) with retries. The hot path only adds
 * the settled accounts to an in-memory set; a timer looks at them.
 */
@Injectable()
export class AlertsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AlertsService.name);
  private dirty = new Set<string>();
  private scanTimer?: NodeJS.Timeout;
  private deliverTimer?: NodeJS.Timeout;
  private rounds = 0;
  private scanning: Promise<number> | null = null;
  private delivering: Promise<number> | null = null;
  private readonly dispatcher: Dispatcher;

  constructor(
    private readonly alerts: AlertsRepository,
    private readonly mailer: AlertMailer,
    private readonly clock: Clock,
    publisher: UsagePublisher,
    @Inject(CONFIG) private readonly config: Config,
  ) {
    publisher.onLanded((accounts) => accounts.forEach((id) => this.dirty.add(id)));
    this.dispatcher = webhookDispatcher(config.alerts.webhookAllowPrivate, config.alerts.webhookTimeoutMs);
  }

  onModuleInit(): void {
    this.scanTimer = setInterval(
      () => void this.scan().catch(() => undefined),
      this.config.alerts.scanIntervalMs,
    );
    this.scanTimer.unref();
    this.deliverTimer = setInterval(
      () => void this.deliver().catch(() => undefined),
      this.config.alerts.deliverIntervalMs,
    );
    this.deliverTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.scanTimer);
    clearInterval(this.deliverTimer);
    await this.dispatcher.close();
  }

  async settings(accountId: string): Promise<AlertSettingsView> {
    return view(await this.alerts.settings(accountId, newWebhookSecret()));
  }

  async update(accountId: string, input: AlertSettingsInput): Promise<AlertSettingsView> {
    const switches: Partial<Record<AlertSwitch, boolean>> = {};
    if (input.thresholds !== undefined) {
      if (
        input.thresholds === null ||
        typeof input.thresholds !== 'object' ||
        Array.isArray(input.thresholds)
      ) {
        throw invalid('thresholds must be an object such as {"usage_80": false}.', 'thresholds');
      }
      for (const [name, on] of Object.entries(input.thresholds)) {
        if (!(ACCOUNT_THRESHOLDS as readonly string[]).includes(name)) {
          throw invalid(
            `thresholds.${name} is not an alert: use ${ACCOUNT_THRESHOLDS.join(', ')}.`,
            `thresholds.${name}`,
          );
        }
        if (typeof on !== 'boolean') {
          throw invalid(`thresholds.${name} must be true or false.`, `thresholds.${name}`);
        }
        switches[name as AlertSwitch] = on;
      }
    }
    let webhookUrl: string | null | undefined;
    if (input.alert_webhook_url !== undefined) {
      if (input.alert_webhook_url !== null) {
        const problem =
          typeof input.alert_webhook_url !== 'string' || input.alert_webhook_url.length > 2000
            ? 'alert_webhook_url must be a URL of at most 2000 characters.'
            : webhookUrlProblem(input.alert_webhook_url, this.config.alerts.webhookAllowPrivate);
        if (problem) {
          throw invalid(problem, 'alert_webhook_url');
        }
      }
      webhookUrl = input.alert_webhook_url;
    }
    await this.alerts.settings(accountId, newWebhookSecret());
    await this.alerts.update(accountId, { switches, webhookUrl });
    return this.settings(accountId);
  }

  /** Erases the account's alert settings, record and deliveries (the purge of a deleted account), in its transaction. */
  forget(m: EntityManager, accountId: string): Promise<void> {
    return this.alerts.forget(m, accountId);
  }

  /** A new webhook secret; the old one stops signing at once. */
  async rollSecret(accountId: string): Promise<AlertSettingsView> {
    await this.alerts.settings(accountId, newWebhookSecret());
    await this.alerts.update(accountId, { switches: {}, webhookSecret: newWebhookSecret() });
    return this.settings(accountId);
  }

  /**
   * Looks at the accounts settled since the last round (every round) and at every account that may owe an alert
   * (every `FULL_SCAN_EVERY` rounds, and when `all` is set); fires each alert due. Returns how many fired.
   */
  scan(all = false): Promise<number> {
    this.scanning ??= this.scanRound(all).finally(() => (this.scanning = null));
    return this.scanning;
  }

  private async scanRound(all: boolean): Promise<number> {
    const ids = new Set(this.dirty);
    this.dirty = new Set();
    try {
      if (all || ++this.rounds % FULL_SCAN_EVERY === 0) {
        (await this.alerts.candidates(1000)).forEach((id) => ids.add(id));
      }
      if (ids.size === 0) {
        return 0;
      }
      const list = [...ids];
      const [accounts, keys] = await Promise.all([
        this.alerts.accounts(list),
        this.alerts.keysNearLimit(list),
      ]);
      let fired = 0;
      for (const account of accounts) {
        for (const event of this.due(
          account,
          keys.filter((k) => k.accountId === account.id),
        )) {
          fired += (await this.fire(account, event)) ? 1 : 0;
        }
      }
      return fired;
    } catch (error) {
      ids.forEach((id) => this.dirty.add(id)); // looked at again next round
      this.logger.warn(`alerts: ${(error as Error).message}`);
      throw error;
    }
  }

  /** The alerts the account's state calls for now (each is sent once per period whatever this returns later). */
  private due(account: AccountState, keys: KeyState[]): Array<{ name: string; event: AlertEvent }> {
    const on = account.settings.switches;
    const out: Array<{ name: string; event: AlertEvent }> = [];
    const base = (name: string, type: AlertEvent['type'], data: Record<string, unknown>) => ({
      name,
      event: {
        id: `evt_${createHash('sha256').update(`${account.id}:${account.periodStart.toISOString()}:${name}`).digest('hex').slice(0, 24)}`,
        object: 'event' as const,
        type,
        created: Math.floor(this.clock.now() / 1000),
        account_id: account.id,
        period: { start: account.periodStart.toISOString(), end: account.periodEnd.toISOString() },
        data,
      },
    });
    const included = includedMicro(account.plan);
    if (account.plan === 'free') {
      // The allocation is spent before pack credits: what is left of it is the balance beyond the packs.
      const left = account.balanceMicro - account.purchasedMicro;
      const used = included - (left > 0n ? left : 0n);
      for (const pct of [80, 95, 100] as const) {
        if (on[`usage_${pct}`] && used * 100n >= included * BigInt(pct)) {
          out.push(
            base(`usage_${pct}`, 'credits.threshold', {
              threshold_percent: pct,
              used_credits: formatCredits(used),
              included_credits: formatCredits(included),
              balance_credits: formatCredits(account.balanceMicro),
            }),
          );
        }
      }
    } else if (on.overage && account.balanceMicro < 0n) {
      out.push(
        base('overage', 'credits.overage', {
          included_credits: formatCredits(included),
          overage_credits: formatCredits(-account.balanceMicro),
        }),
      );
    }
    if (on.key_limit_90) {
      for (const key of keys) {
        out.push(
          base(`key_limit_90:${key.publicId}`, 'key.credit_limit_threshold', {
            threshold_percent: 90,
            key_id: key.publicId,
            key_name: key.name,
            credit_limit: formatCredits(key.limitMicro),
            spent_credits: formatCredits(key.spentMicro),
          }),
        );
      }
    }
    return out;
  }

  private async fire(
    account: AccountState,
    { name, event }: { name: string; event: AlertEvent },
  ): Promise<boolean> {
    const deliveries: Array<{ channel: 'webhook' | 'mail'; body: string }> = [];
    if (account.settings.webhookUrl) {
      deliveries.push({ channel: 'webhook', body: JSON.stringify(event) });
    }
    if (this.mailer.enabled) {
      deliveries.push({ channel: 'mail', body: JSON.stringify(alertMail(account.email, event)) });
    }
    const fired = await this.alerts.fire(
      account.id,
      account.periodStart,
      name,
      this.clock.date(),
      deliveries,
    );
    if (fired) {
      this.logger.log({ accountId: account.id, alert: name, eventId: event.id }, 'alert fired');
    }
    return fired;
  }

  /** Sends what the outbox holds that is due; a failure is retried with backoff. Returns how many were sent. */
  deliver(): Promise<number> {
    this.delivering ??= this.deliverRound().finally(() => (this.delivering = null));
    return this.delivering;
  }

  private async deliverRound(): Promise<number> {
    const now = this.clock.date();
    let sent = 0;
    for (const item of await this.alerts.claimDue(now, CLAIM_MS, BATCH)) {
      try {
        if (item.channel === 'webhook') {
          await this.post(item.accountId, item.body);
        } else {
          await this.mailer.send(JSON.parse(item.body) as AlertMail);
        }
        await this.alerts.delivered(item.id, this.clock.date());
        sent += 1;
      } catch (error) {
        const attempts = item.attempts + 1;
        const delay = Math.min(BACKOFF_BASE_MS * 2 ** (attempts - 1), BACKOFF_MAX_MS);
        const at = this.clock.now();
        const giveUp = attempts >= MAX_ATTEMPTS;
        const message = (error as Error).message;
        await this.alerts.retryLater(item.id, new Date(at + delay), message, giveUp ? new Date(at) : null);
        this.logger.warn(
          { accountId: item.accountId, channel: item.channel, attempts, err: message },
          giveUp ? 'alert delivery given up' : 'alert delivery failed; retried later',
        );
      }
    }
    return sent;
  }

  private async post(accountId: string, body: string): Promise<void> {
    const settings = await this.alerts.settings(accountId, newWebhookSecret());
    if (!settings.webhookUrl) {
      return; // the webhook was removed since: nothing to send
    }
    const problem = webhookUrlProblem(settings.webhookUrl, this.config.alerts.webhookAllowPrivate);
    if (problem) {
      throw new Error(problem);
    }
    const res = await request(settings.webhookUrl, {
      method: 'POST',
      dispatcher: this.dispatcher,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Conflux-Alerts/1',
        [SIGNATURE_HEADER]: signatureHeader(
          settings.webhookSecret,
          body,
          Math.floor(this.clock.now() / 1000),
        ),
      },
      body,
      headersTimeout: this.config.alerts.webhookTimeoutMs,
      bodyTimeout: this.config.alerts.webhookTimeoutMs,
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw new Error(`the webhook answered ${res.statusCode}`);
    }
  }
}

function view(settings: AlertSettings): AlertSettingsView {
  return {
    object: 'alert_settings',
    thresholds: settings.switches,
    alert_webhook_url: settings.webhookUrl,
    webhook_secret: settings.webhookSecret,
  };
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError(ErrorCode.InvalidRequest, message, { param });
}

/** The alert in words, for its mail (plain text and simple HTML). */
export function alertMail(to: string, event: AlertEvent): AlertMail {
  const d = event.data;
  let subject: string;
  let text: string;
  switch (event.type) {
    case 'credits.threshold':
      subject = `You have used ${String(d.threshold_percent)}% of your Conflux credits`;
      text =
        `Your account has used ${String(d.used_credits)} of the ${String(d.included_credits)} credits included ` +
        `this billing period (until ${event.period.end}). ` +
        (d.threshold_percent === 100
          ? 'Live requests now get 402 until the billing date: upgrade your plan or buy credits to continue.'
          : 'Upgrade your plan or buy credits before they run out.');
      break;
    case 'credits.overage':
      subject = 'Your Conflux account is now in overage';
      text =
        `Your account has used the ${String(d.included_credits)} credits included this billing period; further ` +
        'use is billed as overage at your plan’s price.';
      break;
    case 'key.credit_limit_threshold':
      subject = `API key "${String(d.key_name)}" has used 90% of its credit limit`;
      text =
        `The key ${String(d.key_id)} ("${String(d.key_name)}") has spent ${String(d.spent_credits)} of its ` +
        `${String(d.credit_limit)}-credit limit this billing period. Past the limit it gets 402 key_credit_limit.`;
      break;
  }
  const html = `<p>${escapeHtml(text)}</p><p>Change these alerts in the dashboard or with PATCH /v1/alerts.</p>`;
  return {
    to,
    subject,
    text: `${text}\n\nChange these alerts in the dashboard or with PATCH /v1/alerts.`,
    html,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
