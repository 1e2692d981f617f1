import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

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
}
