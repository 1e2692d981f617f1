import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { bigintTransformer } from '../database/bigint.transformer.js';

export const KEY_KINDS = ['live', 'test'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/** An API key, stored only as its SHA-256, a display prefix and its last 4 characters. */
@Entity('api_keys')
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column('text', { name: 'public_id' })
  publicId!: string;

  @Column('uuid', { name: 'account_id' })
  accountId!: string;

  @Column('text')
  kind!: KeyKind;

  @Column('text')
  name!: string;

  @Column('text', { name: 'display_prefix' })
  displayPrefix!: string;

  @Column('text')
  last4!: string;

  @Column('char', { length: 64 })
  sha256!: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt!: Date | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt!: Date | null;

  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt!: Date | null;

  /** Credits (µcr) the key may spend per billing period of its account; null: only the account's balance. */
  @Column('bigint', { name: 'credit_limit_micro', nullable: true, transformer: bigintTransformer })
  creditLimitMicro!: bigint | null;

  /** Catalog model ids the key may be served by; null: every model. */
  @Column('text', { name: 'allowed_models', array: true, nullable: true })
  allowedModels!: string[] | null;

  /** Requests per minute, below the plan's; null: the plan's. */
  @Column('integer', { name: 'rate_limit_rpm', nullable: true })
  rateLimitRpm!: number | null;

  /** The secret before the last rotation: it keeps working until `previousValidUntil`. */
  @Column('char', { name: 'previous_sha256', length: 64, nullable: true })
  previousSha256!: string | null;

  @Column('timestamptz', { name: 'previous_valid_until', nullable: true })
  previousValidUntil!: Date | null;

  @Column('timestamptz', { name: 'rotated_at', nullable: true })
  rotatedAt!: Date | null;
}
