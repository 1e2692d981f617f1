import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AccountsService } from '../accounts/accounts.service.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { KeysService } from './keys.service.js';

export function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    throw new GatewayError(
      ErrorCode.InvalidApiKey,
      "You didn't provide an API key. Send it in the Authorization header: `Authorization: Bearer cf_live_…`.",
    );
  }
  return match[1];
}

/** `/v1/*` gateway routes: a live or test API key. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly keys: KeysService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    request.auth = await this.keys.authenticate(bearer(request));
    return true;
  }
}

/**
 * Account routes (keys, usage, credits): a dashboard session token or a live key of the account. A test key can
 * only exercise the gateway: here it gets 403.
 */
@Injectable()
export class AccountAuthGuard implements CanActivate {
  constructor(
    private readonly keys: KeysService,
    private readonly accounts: AccountsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = bearer(request);
    if (token.startsWith('cf_')) {
      const auth = await this.keys.authenticate(token);
      if (auth.key?.kind !== 'live') {
        throw new GatewayError(
          ErrorCode.PermissionDenied,
          'Test keys cannot manage the account. Use a live key.',
        );
      }
      request.auth = auth;
      return true;
    }
    const account = await this.accounts.verifySession(token);
    request.auth = { accountId: account.id, plan: account.plan, role: account.role, via: 'session' };
    return true;
  }
}
