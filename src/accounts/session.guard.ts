import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { AccountsService } from './accounts.service.js';

/** Routes about the session itself (log-out, password change, verification mail): a dashboard session only. */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(private readonly accounts: AccountsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers.authorization;
    const token = header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    if (!token) {
      throw new GatewayError(
        ErrorCode.InvalidApiKey,
        'Log in first: send the session token as `Authorization: Bearer <token>`.',
      );
    }
    if (token.startsWith('cf_')) {
      throw new GatewayError(
        ErrorCode.PermissionDenied,
        'This route takes a dashboard session (POST /auth/login), not an API key.',
      );
    }
    const { account, sessionId } = await this.accounts.authenticateSession(token);
    request.auth = {
      accountId: account.id,
      plan: account.plan,
      role: account.role,
      via: 'session',
      sessionId,
    };
    return true;
  }
}
