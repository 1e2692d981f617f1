import {
  type CanActivate,
  createParamDecorator,
  type ExecutionContext,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AccountsService } from '../accounts/accounts.service.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { bearer } from '../keys/guards.js';
import { KeysService } from '../keys/keys.service.js';
import type { Actor } from './audit.js';

export type StaffRole = 'support' | 'admin';
const STAFF_ROLE = 'conflux:staff-role';

/** The role a route needs (`support` by default: support reads and does everyday actions; admins do everything). */
export const RequiresRole = (role: StaffRole) => SetMetadata(STAFF_ROLE, role);

/** The role an admin route needs, read the way the guard reads it (the route × role test uses it too). */
export function requiredRole(
  reflector: Reflector,
  context: Pick<ExecutionContext, 'getHandler' | 'getClass'>,
) {
  return (
    reflector.getAllAndOverride<StaffRole | undefined>(STAFF_ROLE, [
      context.getHandler(),
      context.getClass(),
    ]) ?? 'support'
  );
}

/**
 * Every `/admin` route: a staff session token (401 without a valid one), of an account whose role the route allows
 * (403 otherwise). API keys, live or test, never reach the admin API (403): a key that leaks must not be a way in.
 */
@Injectable()
export class StaffGuard implements CanActivate {
  constructor(
    private readonly accounts: AccountsService,
    private readonly keys: KeysService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = bearer(request);
    if (token.startsWith('cf_')) {
      await this.keys.authenticate(token); // an unknown or revoked key is still a 401
      throw new GatewayError(
        ErrorCode.PermissionDenied,
        'The admin API takes a staff session token, not an API key.',
      );
    }
    const account = await this.accounts.verifySession(token);
    const needed = requiredRole(this.reflector, context);
    if (account.role === 'user') {
      throw new GatewayError(ErrorCode.PermissionDenied, 'The admin API is for support staff.');
    }
    if (needed === 'admin' && account.role !== 'admin') {
      throw new GatewayError(ErrorCode.PermissionDenied, 'This action needs the admin role.');
    }
    request.auth = { accountId: account.id, plan: account.plan, role: account.role, via: 'session' };
    return true;
  }
}

/** The staff member acting, with the request id the audit log records. */
export const CurrentActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  if (!request.auth) {
    throw new Error('CurrentActor used on a route without the staff guard');
  }
  return { accountId: request.auth.accountId, role: request.auth.role, requestId: request.id };
});
