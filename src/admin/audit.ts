import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Role } from '../accounts/account.entity.js';
import { Clock } from '../common/clock.js';

/** Who acts, as the staff guard resolved them, and the request they act in. */
export interface Actor {
  accountId: string;
  role: Role;
  requestId: string;
}

export type AuditTarget = 'account' | 'key' | 'provider' | 'staff';

export interface AuditEvent {
  action: string;
  targetType: AuditTarget;
  targetId: string;
  reason?: string | null;
  /** What changed, before and after: states, plans, amounts — never an email, a password or a key. */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

export interface AuditEntryView {
  id: string;
  object: 'audit_entry';
  at: string;
  actor_id: string;
  actor_role: string;
  action: string;
  target_type: string;
  target_id: string;
  reason: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  request_id: string | null;
}

export interface AuditFilter {
  actor?: string;
  target?: string;
  action?: string;
  since?: Date;
  until?: Date;
  /** The id of the last entry of the previous page. */
  before?: string;
  limit: number;
}

/**
 * `audit_log`: one row per admin action, appended (the database refuses UPDATE, DELETE and TRUNCATE). Written in
 * the action's own transaction where it has one (credits, plans), so an action and its record stand or fall
 * together.
 */
@Injectable()
export class AuditLog {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  async record(actor: Actor, event: AuditEvent, m?: EntityManager): Promise<void> {
    await (m ?? this.dataSource).query(
      `INSERT INTO audit_log (at, actor_id, actor_role, action, target_type, target_id, reason, before, after,
                              request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        this.clock.date(),
        actor.accountId,
        actor.role,
        event.action,
        event.targetType,
        event.targetId,
        event.reason ?? null,
        event.before ? JSON.stringify(event.before) : null,
        event.after ? JSON.stringify(event.after) : null,
        actor.requestId,
      ],
    );
  }

  async list(filter: AuditFilter): Promise<AuditEntryView[]> {
    const rows = (await this.dataSource.query(
      `SELECT id::text AS id, at, actor_id, actor_role, action, target_type, target_id, reason, before, after,
              request_id
         FROM audit_log
        WHERE ($1::uuid IS NULL OR actor_id = $1::uuid)
          AND ($2::text IS NULL OR target_id = $2)
          AND ($3::text IS NULL OR action = $3)
          AND ($4::timestamptz IS NULL OR at >= $4)
          AND ($5::timestamptz IS NULL OR at < $5)
          AND ($6::bigint IS NULL OR id < $6::bigint)
        ORDER BY id DESC LIMIT $7`,
      [
        filter.actor ?? null,
        filter.target ?? null,
        filter.action ?? null,
        filter.since ?? null,
        filter.until ?? null,
        filter.before ?? null,
        filter.limit,
      ],
    )) as Array<{
      id: string;
      at: Date | string;
      actor_id: string;
      actor_role: string;
      action: string;
      target_type: string;
      target_id: string;
      reason: string | null;
      before: Record<string, unknown> | string | null;
      after: Record<string, unknown> | string | null;
      request_id: string | null;
    }>;
    const json = (v: Record<string, unknown> | string | null) =>
      typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : v;
    return rows.map((r) => ({
      id: r.id,
      object: 'audit_entry',
      at: new Date(r.at).toISOString(),
      actor_id: r.actor_id,
      actor_role: r.actor_role,
      action: r.action,
      target_type: r.target_type,
      target_id: r.target_id,
      reason: r.reason,
      before: json(r.before),
      after: json(r.after),
      request_id: r.request_id,
    }));
  }
}
