import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsDate,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { PLANS, ROLES } from '../accounts/account.entity.js';
import { CredentialsDto } from '../accounts/auth.dto.js';
import { CreditsDto } from '../billing/credits.dto.js';
import { PROVIDER_IDS } from '../common/provider-ids.js';
import { KeyDto } from '../keys/keys.dto.js';

const STATUSES = ['active', 'suspended', 'pending_deletion', 'deleted'];

// ——— requests ———

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class SearchQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    description:
      'An account id, an email (or part of one), a key id (`key_…`) or prefix (`cf_live_AbCd`), or a Stripe ' +
      'customer id (`cus_…`). Empty: every account, newest first.',
    example: 'dev@example.com',
  })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  q?: string;

  @ApiPropertyOptional({ minimum: 0, default: 0, description: 'How many results to skip (pagination).' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100_000)
  offset?: number;
}

export class LedgerQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'The id of the last entry of the previous page.', example: '1042' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'before must be a ledger entry id' })
  before?: string;
}

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only actions of this staff member.' })
  @IsOptional()
  @IsUUID()
  actor?: string;

  @ApiPropertyOptional({ description: 'Only actions on this target (account id, key id, provider).' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  target?: string;

  @ApiPropertyOptional({ description: 'Only this action, e.g. `credits.grant`.', example: 'credits.grant' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'since must be a date-time' })
  since?: Date;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'until must be a date-time' })
  until?: Date;

  @ApiPropertyOptional({ description: 'The id of the last entry of the previous page.' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'before must be an audit entry id' })
  before?: string;
}

export class ReasonDto {
  @ApiProperty({
    description: 'Why: recorded in the audit log.',
    example: 'Ticket #4821: chargeback dispute',
  })
  @IsString()
  @MinLength(3, { message: 'reason must say why (at least 3 characters)' })
  @MaxLength(500)
  reason!: string;
}

export class CreditsBodyDto extends ReasonDto {
  @ApiProperty({
    description: 'Credits to grant (positive) or deduct (negative), an exact decimal with up to 6 places.',
    example: '250',
  })
  @IsString({ message: 'credits must be a string such as "250" or "-12.5"' })
  @MaxLength(24)
  credits!: string;

  @ApiPropertyOptional({
    description: 'Deduct even below zero on a Free account (refused otherwise, 400 `balance_below_zero`).',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

export class PlanBodyDto extends ReasonDto {
  @ApiProperty({ enum: PLANS, example: 'pro' })
  @IsIn(PLANS, { message: `plan must be one of ${PLANS.join(', ')}` })
  plan!: (typeof PLANS)[number];
}

export class StaffCreateDto extends CredentialsDto {
  @ApiProperty({ enum: ['support', 'admin'] })
  @IsIn(['support', 'admin'], { message: 'role must be support or admin' })
  role!: 'support' | 'admin';
}

export class StaffRoleDto {
  @ApiProperty({ enum: ROLES, description: '`user` takes the account out of the staff.' })
  @IsIn(ROLES, { message: `role must be one of ${ROLES.join(', ')}` })
  role!: (typeof ROLES)[number];
}

export class PasswordDto {
  @ApiProperty({ description: "The account's password, to confirm." })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  password!: string;
}

// ——— answers ———

export class AccountSummaryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['account'] }) object!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty({ enum: PLANS }) plan!: string;
  @ApiProperty({ enum: STATUSES }) status!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deletion_requested_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the purge may run.' })
  purge_after!: string | null;
}

export class AccountListDto {
  @ApiProperty({ enum: ['list'] }) object!: string;
  @ApiProperty({ type: [AccountSummaryDto] }) data!: AccountSummaryDto[];
  @ApiProperty() has_more!: boolean;
}

export class AccountDetailDto extends AccountSummaryDto {
  @ApiProperty({ description: 'Whether the account pays through a Stripe subscription.' })
  subscription!: boolean;
  @ApiProperty({
    type: CreditsDto,
    description: 'Balance, period, allocation and use this period, by model.',
  })
  credits!: CreditsDto;
  @ApiProperty({ type: [KeyDto], description: 'Every key, with its last use (never the raw key).' })
  keys!: KeyDto[];
}

export class PlanChangedDto extends AccountSummaryDto {
  @ApiProperty({ enum: ['stripe', 'direct'], description: '`stripe`: the subscription was changed.' })
  via!: string;
  @ApiProperty({ description: 'Credits the plan change moved (the allocation rule).', example: '29500' })
  credits_moved!: string;
}

export class LedgerEntryDto {
  @ApiProperty({ example: '1042' }) id!: string;
  @ApiProperty({ enum: ['ledger_entry'] }) object!: string;
  @ApiProperty({ enum: ['grant', 'usage', 'adjustment', 'reset', 'refund'] }) kind!: string;
  @ApiProperty({ description: 'Signed credits.', example: '250' }) credits!: string;
  @ApiProperty() reference!: string;
  @ApiProperty({ type: String, nullable: true }) note!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class LedgerListDto {
  @ApiProperty({ enum: ['list'] }) object!: string;
  @ApiProperty({ type: [LedgerEntryDto] }) data!: LedgerEntryDto[];
  @ApiProperty() has_more!: boolean;
}

export class AdjustmentDto {
  @ApiProperty({ description: 'False: this Idempotency-Key was applied before; nothing was written again.' })
  applied!: boolean;
  @ApiProperty({ type: LedgerEntryDto }) entry!: LedgerEntryDto;
  @ApiProperty({ description: 'The balance after it, in credits.' }) balance!: string;
}

export class ProviderAdminDto {
  @ApiProperty({ enum: PROVIDER_IDS }) id!: string;
  @ApiProperty({ enum: ['provider'] }) object!: string;
  @ApiProperty({ description: 'Configured (it has an API key).' }) enabled!: boolean;
  @ApiProperty({ enum: ['healthy', 'degraded', 'down', 'unknown'] }) state!: string;
  @ApiProperty({ enum: ['closed', 'open', 'half_open'] }) circuit!: string;
  @ApiProperty({ description: 'Drained by staff: routing skips it.' }) drained!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) drained_at!: string | null;
  @ApiProperty({ type: String, nullable: true }) drain_reason!: string | null;
}

export class ProviderListDto {
  @ApiProperty({ enum: ['list'] }) object!: string;
  @ApiProperty({ type: [ProviderAdminDto] }) data!: ProviderAdminDto[];
  @ApiProperty() has_more!: boolean;
}

export class AuditEntryDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['audit_entry'] }) object!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ format: 'uuid' }) actor_id!: string;
  @ApiProperty({ enum: ROLES }) actor_role!: string;
  @ApiProperty({ example: 'credits.grant' }) action!: string;
  @ApiProperty({ enum: ['account', 'key', 'provider', 'staff'] }) target_type!: string;
  @ApiProperty() target_id!: string;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) before!: object | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) after!: object | null;
  @ApiProperty({ type: String, nullable: true }) request_id!: string | null;
}

export class AuditListDto {
  @ApiProperty({ enum: ['list'] }) object!: string;
  @ApiProperty({ type: [AuditEntryDto] }) data!: AuditEntryDto[];
  @ApiProperty() has_more!: boolean;
}
