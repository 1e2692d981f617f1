import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { LedgerEntryView, AdjustmentResult } from '../billing/adjustments.service.js';
import { ErrorCode } from '../common/errors.js';
import { ApiErrors, BODY_ERRORS, SERVER_ERRORS, SESSION_AUTH, type ErrorExample } from '../common/openapi.js';
import type { KeyView } from '../keys/keys.service.js';
import { KeyDto } from '../keys/keys.dto.js';
import {
  AccountDetailDto,
  AccountListDto,
  AccountSummaryDto,
  AdjustmentDto,
  AuditListDto,
  AuditQueryDto,
  CreditsBodyDto,
  LedgerListDto,
  LedgerQueryDto,
  PlanBodyDto,
  PlanChangedDto,
  ProviderAdminDto,
  ProviderListDto,
  ReasonDto,
  SearchQueryDto,
  StaffCreateDto,
  StaffRoleDto,
} from './admin.dto.js';
import {
  AdminService,
  type AccountDetail,
  type AccountSummary,
  type Page,
  type ProviderAdminView,
} from './admin.service.js';
import type { Actor, AuditEntryView } from './audit.js';
import { CurrentActor, RequiresRole, StaffGuard } from './staff.guard.js';

const DEFAULT_LIMIT = 20;

/** What every admin route answers before it runs: the staff guard. */
export const ADMIN_ERRORS: ErrorExample[] = [
  {
    error: ErrorCode.InvalidApiKey,
    name: 'missing_token',
    message:
      "You didn't provide an API key. Send it in the Authorization header: `Authorization: Bearer cf_live_…`.",
    when: 'No `Authorization: Bearer <staff session token>` header.',
  },
  {
    error: ErrorCode.InvalidApiKey,
    name: 'invalid_session',
    message: 'The session is invalid or has expired. Log in again.',
    when: 'A session token that is invalid, expired or ended (deletion, suspension).',
  },
  {
    error: ErrorCode.PermissionDenied,
    name: 'api_key',
    message: 'The admin API takes a staff session token, not an API key.',
    when: 'An API key (live or test): the admin API takes staff session tokens only.',
  },
  {
    error: ErrorCode.PermissionDenied,
    name: 'not_staff',
    message: 'The admin API is for support staff.',
    when: "A customer's session.",
  },
];

const ADMIN_ONLY: ErrorExample = {
  error: ErrorCode.PermissionDenied,
  name: 'admin_only',
  message: 'This action needs the admin role.',
  when: 'A support session on an admin-only route (staff, providers).',
};

const NO_ACCOUNT: ErrorExample = {
  error: ErrorCode.NotFound,
  message: 'No account with id 5fb46200-117e-4d28-bc94-d800cf77a089.',
  param: 'id',
  when: 'No account with this id.',
};

const CONFLICT_STATUS: ErrorExample = {
  error: ErrorCode.Conflict,
  message: 'This account is pending deletion.',
  when: 'The account is not in a state this action applies to.',
};

const BAD_QUERY: ErrorExample = {
  error: ErrorCode.InvalidRequest,
  name: 'invalid_query',
  message: 'limit must not be greater than 100',
  param: 'limit',
  when: 'A query parameter out of range.',
};

const BAD_REASON: ErrorExample = {
  error: ErrorCode.InvalidRequest,
  name: 'reason',
  message: 'reason must say why (at least 3 characters)',
  param: 'reason',
  when: 'No reason: every action records why.',
};

@ApiTags('admin')
@ApiBearerAuth(SESSION_AUTH)
@UseGuards(StaffGuard)
@Controller('admin/accounts')
export class AdminAccountsController {
  constructor(private readonly admin: AdminService) {}

  @Get()
  @ApiOperation({ summary: 'Search accounts by email, account id, key id or prefix, or Stripe customer id' })
  @ApiResponse({ status: 200, type: AccountListDto })
  @ApiErrors(...ADMIN_ERRORS, BAD_QUERY, ...SERVER_ERRORS)
  search(@Query() query: SearchQueryDto): Promise<Page<AccountSummary>> {
    return this.admin.search(query.q ?? '', query.limit ?? DEFAULT_LIMIT, query.offset ?? 0);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One account: plan, status, balance, period, keys with last use, usage this period',
  })
  @ApiResponse({ status: 200, type: AccountDetailDto })
  @ApiErrors(...ADMIN_ERRORS, NO_ACCOUNT, ...SERVER_ERRORS)
  account(@Param('id') id: string): Promise<AccountDetail> {
    return this.admin.account(id);
  }

  @Post(':id/suspend')
  @HttpCode(200)
  @ApiOperation({ summary: 'Suspend: its keys get 403, its sessions and log-in are refused' })
  @ApiResponse({ status: 200, type: AccountSummaryDto })
  @ApiErrors(...ADMIN_ERRORS, NO_ACCOUNT, CONFLICT_STATUS, BAD_REASON, ...BODY_ERRORS, ...SERVER_ERRORS)
  suspend(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: ReasonDto,
  ): Promise<AccountSummary> {
    return this.admin.suspend(actor, id, body.reason);
  }

  @Post(':id/reactivate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Reactivate a suspended account' })
  @ApiResponse({ status: 200, type: AccountSummaryDto })
  @ApiErrors(...ADMIN_ERRORS, NO_ACCOUNT, CONFLICT_STATUS, BAD_REASON, ...BODY_ERRORS, ...SERVER_ERRORS)
  reactivate(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: ReasonDto,
  ): Promise<AccountSummary> {
    return this.admin.reactivate(actor, id, body.reason);
  }

  @Post(':id/credits')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Grant (positive) or deduct (negative) credits: an `adjustment` ledger entry, once per Idempotency-Key',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: true,
    description:
      'Any unique string (a ticket id and a counter): a retry with the same key applies the credits once.',
  })
  @ApiResponse({ status: 200, type: AdjustmentDto })
  @ApiErrors(
    ...ADMIN_ERRORS,
    NO_ACCOUNT,
    BAD_REASON,
    {
      error: ErrorCode.InvalidRequest,
      name: 'balance_below_zero',
      code: 'balance_below_zero',
      param: 'credits',
      message:
        'This deduction would take the Free account\'s balance below zero (-20 credits). Send "force": true to ' +
        'deduct anyway.',
      when: 'A deduction that would take a Free account below zero, without `force`.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'idempotency_key',
      param: 'Idempotency-Key',
      message:
        'An Idempotency-Key header (1 to 255 characters) is required: a retry with the same key applies the ' +
        'adjustment once.',
      when: 'No Idempotency-Key header.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'idempotency_key_reused',
      code: 'idempotency_key_reused',
      param: 'Idempotency-Key',
      message: 'This Idempotency-Key was already used with a different adjustment.',
      when: 'The same Idempotency-Key with another amount.',
    },
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  credits(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: CreditsBodyDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ): Promise<AdjustmentResult> {
    return this.admin.grant(actor, id, body, idempotencyKey);
  }

  @Get(':id/ledger')
  @ApiOperation({ summary: "The account's ledger, newest first (paginated with `before`)" })
  @ApiResponse({ status: 200, type: LedgerListDto })
  @ApiErrors(...ADMIN_ERRORS, NO_ACCOUNT, BAD_QUERY, ...SERVER_ERRORS)
  ledger(@Param('id') id: string, @Query() query: LedgerQueryDto): Promise<Page<LedgerEntryView>> {
    return this.admin.ledger(id, query.limit ?? DEFAULT_LIMIT, query.before);
  }

  @Post(':id/plan')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Comp or change the plan (through Stripe when the account has a subscription)',
    description:
      'Without a subscription the plan changes at once and the period is kept: the balance moves by the new ' +
      "plan's allocation minus the old one's (an `adjustment`); a downgrade never takes it below zero.",
  })
  @ApiResponse({ status: 200, type: PlanChangedDto })
  @ApiErrors(
    ...ADMIN_ERRORS,
    NO_ACCOUNT,
    BAD_REASON,
    { ...CONFLICT_STATUS, message: 'This account is deleted.' },
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  plan(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: PlanBodyDto) {
    return this.admin.changePlan(actor, id, body.plan, body.reason);
  }

  @Post(':id/deletion')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Delete: keys revoked at once, sessions ended, log-in refused, subscription cancelled, purge in 30 days',
  })
  @ApiResponse({ status: 200, type: AccountSummaryDto })
  @ApiErrors(...ADMIN_ERRORS, NO_ACCOUNT, BAD_REASON, ...BODY_ERRORS, ...SERVER_ERRORS)
  requestDeletion(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: ReasonDto,
  ): Promise<AccountSummary> {
    return this.admin.requestDeletion(actor, id, body.reason);
  }

  @Delete(':id/deletion')
  @ApiOperation({ summary: 'Cancel a scheduled deletion (before the purge): the account is active again' })
  @ApiResponse({ status: 200, type: AccountSummaryDto })
  @ApiErrors(
    ...ADMIN_ERRORS,
    NO_ACCOUNT,
    BAD_REASON,
    { ...CONFLICT_STATUS, message: 'No deletion is scheduled for this account.' },
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  cancelDeletion(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: ReasonDto,
  ): Promise<AccountSummary> {
    return this.admin.cancelDeletion(actor, id, body.reason);
  }
}

@ApiTags('admin')
@ApiBearerAuth(SESSION_AUTH)
@UseGuards(StaffGuard)
@Controller('admin/keys')
export class AdminKeysController {
  constructor(private readonly admin: AdminService) {}

  @Delete(':key_id')
  @ApiOperation({ summary: 'Revoke any key: every instance refuses it within a second' })
  @ApiQuery({ name: 'reason', required: false, description: 'Why: recorded in the audit log.' })
  @ApiResponse({ status: 200, type: KeyDto })
  @ApiErrors(...ADMIN_ERRORS, ...SERVER_ERRORS, {
    error: ErrorCode.NotFound,
    message: 'No API key with id key_3AYGBYcR3pmssam8xKLX3bVJ.',
    param: 'key_id',
    when: 'No key with this id.',
  })
  revoke(
    @CurrentActor() actor: Actor,
    @Param('key_id') keyId: string,
    @Query('reason') reason: string | undefined,
  ): Promise<KeyView> {
    return this.admin.revokeKey(actor, keyId, reason?.slice(0, 500));
  }
}

const NO_PROVIDER: ErrorExample = {
  error: ErrorCode.NotFound,
  message: 'No provider nope. Providers: openai, anthropic, gemini, cerebras, groq.',
  param: 'provider',
  when: 'No provider with this id.',
};

@ApiTags('admin')
@ApiBearerAuth(SESSION_AUTH)
@UseGuards(StaffGuard)
@Controller('admin/providers')
export class AdminProvidersController {
  constructor(private readonly admin: AdminService) {}

  @Get()
  @ApiOperation({ summary: 'Provider health as this instance routes by it, and drains' })
  @ApiResponse({ status: 200, type: ProviderListDto })
  @ApiErrors(...ADMIN_ERRORS, ...SERVER_ERRORS)
  list(): Promise<Page<ProviderAdminView>> {
    return this.admin.providers();
  }

  @Post(':provider/drain')
  @HttpCode(200)
  @RequiresRole('admin')
  @ApiOperation({ summary: 'Drain a provider: routing on every instance skips it within seconds' })
  @ApiResponse({ status: 200, type: ProviderAdminDto })
  @ApiErrors(...ADMIN_ERRORS, ADMIN_ONLY, NO_PROVIDER, BAD_REASON, ...BODY_ERRORS, ...SERVER_ERRORS)
  drain(
    @CurrentActor() actor: Actor,
    @Param('provider') provider: string,
    @Body() body: ReasonDto,
  ): Promise<ProviderAdminView> {
    return this.admin.drain(actor, provider, body.reason);
  }

  @Post(':provider/restore')
  @HttpCode(200)
  @RequiresRole('admin')
  @ApiOperation({ summary: 'Restore a drained provider to routing' })
  @ApiResponse({ status: 200, type: ProviderAdminDto })
  @ApiErrors(...ADMIN_ERRORS, ADMIN_ONLY, NO_PROVIDER, BAD_REASON, ...BODY_ERRORS, ...SERVER_ERRORS)
  restore(
    @CurrentActor() actor: Actor,
    @Param('provider') provider: string,
    @Body() body: ReasonDto,
  ): Promise<ProviderAdminView> {
    return this.admin.restore(actor, provider, body.reason);
  }
}

@ApiTags('admin')
@ApiBearerAuth(SESSION_AUTH)
@UseGuards(StaffGuard)
@RequiresRole('admin')
@Controller('admin/staff')
export class AdminStaffController {
  constructor(private readonly admin: AdminService) {}

  @Get()
  @ApiOperation({ summary: 'Support and admin accounts' })
  @ApiResponse({ status: 200, type: AccountListDto })
  @ApiErrors(...ADMIN_ERRORS, ADMIN_ONLY, ...SERVER_ERRORS)
  list(): Promise<Page<AccountSummary>> {
    return this.admin.staff();
  }

  @Post()
  @ApiOperation({ summary: 'Create a support or admin account' })
  @ApiResponse({ status: 201, type: AccountSummaryDto })
  @ApiErrors(
    ...ADMIN_ERRORS,
    ADMIN_ONLY,
    { error: ErrorCode.InvalidRequest, message: 'role must be support or admin', param: 'role' },
    {
      error: ErrorCode.Conflict,
      message: 'An account with this email already exists.',
      param: 'email',
      code: 'email_taken',
      when: 'The email is registered already: change that account’s role instead.',
    },
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  create(@CurrentActor() actor: Actor, @Body() body: StaffCreateDto): Promise<AccountSummary> {
    return this.admin.createStaff(actor, body);
  }

  @Patch(':id')
  @ApiOperation({ summary: "Change an account's role (the last admin cannot be demoted)" })
  @ApiResponse({ status: 200, type: AccountSummaryDto })
  @ApiErrors(
    ...ADMIN_ERRORS,
    ADMIN_ONLY,
    NO_ACCOUNT,
    { error: ErrorCode.InvalidRequest, message: 'role must be one of user, support, admin', param: 'role' },
    {
      error: ErrorCode.Conflict,
      message: 'This is the last active admin: make another account admin first.',
      param: 'role',
      code: 'last_admin',
      when: 'Demoting the last active admin.',
    },
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  setRole(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: StaffRoleDto,
  ): Promise<AccountSummary> {
    return this.admin.setRole(actor, id, body.role);
  }
}

@ApiTags('admin')
@ApiBearerAuth(SESSION_AUTH)
@UseGuards(StaffGuard)
@Controller('admin/audit')
export class AdminAuditController {
  constructor(private readonly admin: AdminService) {}

  @Get()
  @ApiOperation({ summary: 'The audit log, newest first, with filters (actor, target, action, time)' })
  @ApiResponse({ status: 200, type: AuditListDto })
  @ApiErrors(...ADMIN_ERRORS, BAD_QUERY, ...SERVER_ERRORS)
  list(@Query() query: AuditQueryDto): Promise<Page<AuditEntryView>> {
    return this.admin.auditLog({
      actor: query.actor,
      target: query.target,
      action: query.action,
      since: query.since,
      until: query.until,
      before: query.before,
      limit: query.limit ?? DEFAULT_LIMIT,
    });
  }
}
