import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Plan } from '../../accounts/account.entity.js';
import { includedMicro } from '../plans.js';
import { rowsOf } from '../sql.js';

export const ACCOUNT_THRESHOLDS = ['usage_80', 'usage_95', 'usage_100', 'overage', 'key_limit_90'] as const;
export type AlertSwitch = (typeof ACCOUNT_THRESHOLDS)[number];

export interface AlertSettings {
  switches: Record<AlertSwitch, boolean>;
  webhookUrl: string | null;
  webhookSecret: string;
}

/** An account's money state this period, and its alert settings (defaults when it has none yet). */
export interface AccountState {
  id: string;
  email: string;
  plan: Plan;
  balanceMicro: bigint;
  purchasedMicro: bigint;
  periodStart: Date;
  periodEnd: Date;
  settings: Omit<AlertSettings, 'webhookSecret'>;
}

export interface KeyState {
  accountId: string;
  publicId: string;
  name: string;
  limitMicro: bigint;
  spentMicro: bigint;
}

export interface OutboxItem {
  id: string;
  accountId: string;
  channel: 'webhook' | 'mail';
  body: string;
  attempts: number;
}

const DEFAULT_SWITCHES: Record<AlertSwitch, boolean> = {
  usage_80: true,
  usage_95: true,
  usage_100: true,
  overage: true,
  key_limit_90: true,
};

/** `alert_settings`, `alerts_sent` (one row per alert and period: the dedupe) and `alert_outbox`. */
@Injectable()
export class AlertsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The account's settings, created (with a new webhook secret) on first use. */
  async settings(accountId: string, newSecret: string): Promise<AlertSettings> {
    await this.dataSource.query(
      `INSERT INTO alert_settings (account_id, webhook_secret) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING`,
      [accountId, newSecret],
    );
    const [row] = (await this.dataSource.query(`SELECT * FROM alert_settings WHERE account_id = $1`, [
      accountId,
    ])) as Array<Record<AlertSwitch, boolean> & { webhook_url: string | null; webhook_secret: string }>;
    return {
      switches: Object.fromEntries(ACCOUNT_THRESHOLDS.map((s) => [s, row[s]])) as Record<
        AlertSwitch,
        boolean
      >,
      webhookUrl: row.webhook_url,
      webhookSecret: row.webhook_secret,
    };
  }

  async update(
    accountId: string,
    changes: {
      switches: Partial<Record<AlertSwitch, boolean>>;
      webhookUrl?: string | null;
      webhookSecret?: string;
    },
  ): Promise<void> {
    const sets: string[] = [];
    const values: unknown[] = [accountId];
    for (const [name, on] of Object.entries(changes.switches)) {
      values.push(on);
      sets.push(`${name} = $${values.length}`);
    }
    if (changes.webhookUrl !== undefined) {
      values.push(changes.webhookUrl);
      sets.push(`webhook_url = $${values.length}`);
    }
    if (changes.webhookSecret !== undefined) {
      values.push(changes.webhookSecret);
      sets.push(`webhook_secret = $${values.length}`);
    }
    if (sets.length > 0) {
      await this.dataSource.query(
        `UPDATE alert_settings SET ${sets.join(', ')} WHERE account_id = $1`,
        values,
      );
    }
  }

  /** The state of these accounts (active ones only). */
  async accounts(ids: readonly string[]): Promise<AccountState[]> {
    const rows = (await this.dataSource.query(
      `SELECT a.id, a.email, a.plan, a.balance_micro::text AS balance, a.purchased_micro::text AS purchased,
              a.period_start, a.period_end, s.usage_80, s.usage_95, s.usage_100, s.overage, s.key_limit_90,
              s.webhook_url
         FROM accounts a LEFT JOIN alert_settings s ON s.account_id = a.id
        WHERE a.id = ANY ($1::uuid[]) AND a.status = 'active'`,
      [ids],
    )) as Array<
      Partial<Record<AlertSwitch, boolean | null>> & {
        id: string;
        email: string;
        plan: Plan;
        balance: string;
        purchased: string;
        period_start: Date;
        period_end: Date;
        webhook_url: string | null;
      }
    >;
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      plan: r.plan,
      balanceMicro: BigInt(r.balance),
      purchasedMicro: BigInt(r.purchased),
      periodStart: new Date(r.period_start),
      periodEnd: new Date(r.period_end),
      settings: {
        switches: Object.fromEntries(
          ACCOUNT_THRESHOLDS.map((s) => [s, r[s] ?? DEFAULT_SWITCHES[s]]),
        ) as Record<AlertSwitch, boolean>,
        webhookUrl: r.webhook_url,
      },
    }));
  }

  /** Keys of these accounts at 90 % or more of their credit limit this period. */
  async keysNearLimit(accountIds: readonly string[]): Promise<KeyState[]> {
    const rows = (await this.dataSource.query(
      `SELECT k.account_id, k.public_id, k.name, k.credit_limit_micro::text AS lim, s.spent_micro::text AS spent
         FROM api_keys k JOIN key_spend s ON s.key_id = k.id JOIN accounts a ON a.id = k.account_id
        WHERE k.account_id = ANY ($1::uuid[]) AND k.credit_limit_micro IS NOT NULL AND k.revoked_at IS NULL
          AND s.period_start = a.period_start AND s.spent_micro * 10 >= k.credit_limit_micro * 9`,
      [accountIds],
    )) as Array<{ account_id: string; public_id: string; name: string; lim: string; spent: string }>;
    return rows.map((r) => ({
      accountId: r.account_id,
      publicId: r.public_id,
      name: r.name,
      limitMicro: BigInt(r.lim),
      spentMicro: BigInt(r.spent),
    }));
  }

  /**
   * Accounts that may owe an alert not sent yet (the periodic safety net behind the per-settlement check): Free
   * accounts past 80 % of their allocation, paid ones in overage, and owners of keys at 90 % of their limit.
   */
  async candidates(limit: number): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT a.id FROM accounts a
        WHERE a.status = 'active' AND (
          (a.plan = 'free' AND a.balance_micro - a.purchased_micro <= $1::bigint
             AND NOT EXISTS (SELECT 1 FROM alerts_sent x WHERE x.account_id = a.id AND x.period_start = a.period_start
                               AND x.alert = 'usage_100'))
          OR (a.plan <> 'free' AND a.balance_micro < 0
             AND NOT EXISTS (SELECT 1 FROM alerts_sent x WHERE x.account_id = a.id AND x.period_start = a.period_start
                               AND x.alert = 'overage'))
          OR EXISTS (SELECT 1 FROM api_keys k JOIN key_spend s ON s.key_id = k.id
                      WHERE k.account_id = a.id AND k.credit_limit_micro IS NOT NULL AND k.revoked_at IS NULL
                        AND s.period_start = a.period_start AND s.spent_micro * 10 >= k.credit_limit_micro * 9
                        AND NOT EXISTS (SELECT 1 FROM alerts_sent x WHERE x.account_id = a.id
                                          AND x.period_start = a.period_start AND x.alert = 'key_limit_90:' || k.public_id)))
        LIMIT $2`,
      // 20 % of the Free allocation left at most: the 80 % threshold
      [(includedMicro('free') / 5n).toString(), limit],
    )) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  /**
   * Records the alert for the period and queues its deliveries, in one transaction: only the first caller (on any
   * instance) gets true and queues anything.
   */
  async fire(
    accountId: string,
    periodStart: Date,
    alert: string,
    now: Date,
    deliveries: Array<{ channel: 'webhook' | 'mail'; body: string }>,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const inserted = rowsOf(
        await m.query(
          `INSERT INTO alerts_sent (account_id, period_start, alert, sent_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING alert`,
          [accountId, periodStart, alert, now],
        ),
      );
      if (inserted.length === 0) {
        return false;
      }
      for (const d of deliveries) {
        await m.query(
          `INSERT INTO alert_outbox (account_id, channel, body, next_attempt_at) VALUES ($1, $2, $3, $4)`,
          [accountId, d.channel, d.body, now],
        );
      }
      return true;
    });
  }

  async forget(m: EntityManager, accountId: string): Promise<void> {
    for (const table of ['alert_outbox', 'alerts_sent', 'alert_settings']) {
      await m.query(`DELETE FROM ${table} WHERE account_id = $1`, [accountId]);
    }
  }

  /** Takes up to `limit` due deliveries for `claimMs` (another instance does not send them meanwhile). */
  async claimDue(now: Date, claimMs: number, limit: number): Promise<OutboxItem[]> {
    return this.dataSource.transaction(async (m) => {
      const rows = (await m.query(
        `SELECT id::text AS id, account_id, channel, body, attempts FROM alert_outbox
          WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
          ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [now, limit],
      )) as Array<{
        id: string;
        account_id: string;
        channel: 'webhook' | 'mail';
        body: string;
        attempts: number;
      }>;
      if (rows.length > 0) {
        await m.query(`UPDATE alert_outbox SET next_attempt_at = $2 WHERE id = ANY ($1::bigint[])`, [
          rows.map((r) => r.id),
          new Date(now.getTime() + claimMs),
        ]);
      }
      return rows.map((r) => ({
        id: r.id,
        accountId: r.account_id,
        channel: r.channel,
        body: r.body,
        attempts: r.attempts,
      }));
    });
  }

  async delivered(id: string, at: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE alert_outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1`,
      [id, at],
    );
  }

  async retryLater(id: string, next: Date, error: string, failedAt: Date | null): Promise<void> {
    await this.dataSource.query(
      `UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, failed_at = $4
        WHERE id = $1`,
      [id, next, error.slice(0, 500), failedAt],
    );
  }
}
