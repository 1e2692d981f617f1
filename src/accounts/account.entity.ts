import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const ROLES = ['user', 'support', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const PLANS = ['free', 'power', 'pro'] as const;
export type Plan = (typeof PLANS)[number];
export const ACCOUNT_STATUSES = ['active', 'suspended', 'pending_deletion', 'deleted'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

@Entity('accounts')
export class Account {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column('text')
  email!: string;

  @Column('text', { name: 'password_hash' })
  passwordHash!: string;

  @Column('text')
  role!: Role;

  @Column('text')
  plan!: Plan;

  @Column('text')
  status!: AccountStatus;

  @Column('text', { name: 'stripe_customer_id', nullable: true })
  stripeCustomerId!: string | null;

  @Column('text', { name: 'stripe_subscription_id', nullable: true })
  stripeSubscriptionId!: string | null;

  @Column('timestamptz', { name: 'period_start' })
  periodStart!: Date;

  @Column('timestamptz', { name: 'period_end' })
  periodEnd!: Date;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'past_due_since', nullable: true })
  pastDueSince!: Date | null;

  @Column('timestamptz', { name: 'deletion_requested_at', nullable: true })
  deletionRequestedAt!: Date | null;

  /** When the purge job may erase the account's data (30 days after the deletion request). */
  @Column('timestamptz', { name: 'purge_after', nullable: true })
  purgeAfter!: Date | null;

  @Column('timestamptz', { name: 'purged_at', nullable: true })
  purgedAt!: Date | null;

  /** When the owner proved the address theirs (the verification link); null until then. */
  @Column('timestamptz', { name: 'email_verified_at', nullable: true })
  emailVerifiedAt!: Date | null;

  /** Sessions carry the epoch they were issued in: bumping it ends them all. */
  @Column('integer', { name: 'session_epoch' })
  sessionEpoch!: number;
}
