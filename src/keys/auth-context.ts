import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Plan, Role } from '../accounts/account.entity.js';
import type { KeyKind } from './api-key.entity.js';

/** Who is calling, set by the auth guards and passed explicitly to services (nothing request-scoped). */
export interface AuthContext {
  accountId: string;
  plan: Plan;
  role: Role;
  via: 'key' | 'session';
  /** When the account's subscription payment started failing (ms since the epoch), if it is failing. */
  pastDueSince?: number | null;
  /** The session's id, when the caller used a dashboard session (log-out ends it). */
  sessionId?: string;
  /** Present when the caller used an API key. */
  key?: {
    id: string;
    publicId: string;
    kind: KeyKind;
    /** The key has a credit limit: its live requests hold against it (exactly, in the database). */
    creditLimited?: boolean;
    /** Catalog model ids it may be served by (null or absent: every model). */
    allowedModels?: readonly string[] | null;
    /** Its own requests-per-minute limit, below the plan's (null or absent: the plan's). */
    rateLimitRpm?: number | null;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthContext;
  }
}

export const Auth = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const request = ctx.switchToHttp().getRequest<{ auth?: AuthContext }>();
  if (!request.auth) {
    throw new Error('Auth used on a route without an auth guard');
  }
  return request.auth;
});
