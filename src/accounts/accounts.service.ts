import { Inject, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import * as argon2 from 'argon2';
import type { EntityManager } from 'typeorm';
import { AuditLog } from '../admin/audit.js';
import { includedMicro } from '../billing/plans.js';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';
import type { AuthContext } from '../keys/auth-context.js';
import type { Account, Role } from './account.entity.js';
import { AccountsRepository } from './accounts.repository.js';
import { addressKey } from './email-address.js';
import { SessionsRepository } from './sessions.repository.js';
import { VerificationService } from './verification.service.js';

export interface Session {
  token: string;
  expires_in: number;
  account: AccountView;
}

export interface AccountView {
  id: string;
  email: string;
  role: Role;
  plan: Account['plan'];
  status: Account['status'];
  /** Whether the address is verified (live keys wait for it when verification is required). */
  email_verified: boolean;
  created_at: string;
}

export interface LogoutAllResult {
  object: 'logout';
  sessions_ended: number;
}

export interface SessionClaims {
  sub: string;
  role: Role;
  /** The account's session epoch when the token was issued: a token of an older epoch is refused. */
  ep?: number;
  /** The session's row: a token whose session ended (log-out, password change) is refused. */
  sid?: string;
}

const INVALID_SESSION = 'The session is invalid or has expired. Log in again.';

@Injectable()
export class AccountsService {
  private readonly logger = new Logger(AccountsService.name);

  constructor(
    private readonly accounts: AccountsRepository,
    private readonly sessions: SessionsRepository,
    private readonly verification: VerificationService,
    private readonly audit: AuditLog,
    private readonly jwt: JwtService,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /**
   * A new Free account and its first session. The verification mail goes out when mail is on; the free credits
   * come now, or at verification when it is required (once per normalised address either way).
   */
  async signup(email: string, password: string): Promise<Session> {
    const account = await this.create(email, password, 'user', false);
    if (!account) {
      throw new GatewayError(ErrorCode.Conflict, 'An account with this email already exists.', {
        param: 'email',
        code: 'email_taken',
      });
    }
    await this.verification.afterSignup(account);
    return this.session(account);
  }

  async login(email: string, password: string): Promise<Session> {
    const account = await this.accounts.findByEmail(email);
    // Verify against a dummy hash when the account is unknown, so timing does not reveal which emails exist.
    const ok = await argon2.verify(account?.passwordHash ?? DUMMY_HASH, password).catch(() => false);
    if (!account || !ok) {
      throw new GatewayError(ErrorCode.InvalidCredentials);
    }
    if (account.status !== 'active') {
      throw new GatewayError(
        ErrorCode.PermissionDenied,
        `This account is ${account.status.replace('_', ' ')}.`,
      );
    }
    return this.session(account);
  }

  /** Resolves a session token to its active account, or throws 401. */
  async verifySession(token: string): Promise<Account> {
    return (await this.authenticateSession(token)).account;
  }

  /**
   * Resolves a session token to its account and session id, or throws 401: the signature and expiry, then the
   * session's row (not ended) and the account (active, same epoch), read in one query at every request, so a
   * log-out on one instance holds on every other at once.
   */
  async authenticateSession(token: string): Promise<{ account: Account; sessionId: string }> {
    let claims: SessionClaims;
    try {
      claims = await this.jwt.verifyAsync<SessionClaims>(token);
    } catch {
      throw new GatewayError(ErrorCode.InvalidApiKey, INVALID_SESSION);
    }
    const account = claims.sid ? await this.sessions.findActive(claims.sid) : null;
    if (
      !account ||
      account.id !== claims.sub ||
      account.status !== 'active' ||
      (claims.ep ?? 0) !== account.sessionEpoch
    ) {
      throw new GatewayError(ErrorCode.InvalidApiKey, INVALID_SESSION);
    }
    return { account, sessionId: claims.sid! };
  }

  /** `POST /auth/logout`: ends this session only. */
  async logout(auth: AuthContext, requestId: string): Promise<LogoutAllResult> {
    const ended = auth.sessionId
      ? await this.sessions.revoke(auth.accountId, auth.sessionId, this.clock.date())
      : 0;
    await this.audit.record(
      { accountId: auth.accountId, role: auth.role, requestId },
      { action: 'account.logout', targetType: 'account', targetId: auth.accountId },
    );
    return { object: 'logout', sessions_ended: ended };
  }

  /** `POST /auth/logout-all`: ends every session of the account, this one included. */
  async logoutAll(auth: AuthContext, requestId: string): Promise<LogoutAllResult> {
    const ended = await this.sessions.revokeAll(auth.accountId, this.clock.date());
    await this.accounts.endSessions(auth.accountId);
    await this.audit.record(
      { accountId: auth.accountId, role: auth.role, requestId },
      {
        action: 'account.logout_all',
        targetType: 'account',
        targetId: auth.accountId,
        after: { sessions_ended: ended },
      },
    );
    return { object: 'logout', sessions_ended: ended };
  }

  findById(id: string): Promise<Account | null> {
    return this.accounts.findById(id);
  }

  countAccounts(): Promise<number> {
    return this.accounts.count();
  }

  /** Creates the first admin from ADMIN_EMAIL/ADMIN_PASSWORD when no admin exists yet. */
  async ensureAdmin(): Promise<void> {
    const { adminEmail, adminPassword } = this.config.auth;
    if (!adminEmail || !adminPassword || (await this.accounts.adminExists())) {
      return;
    }
    const created = await this.create(adminEmail, adminPassword, 'admin', true);
    if (created) {
      this.logger.log(`created the first admin account (${created.id})`);
    } else {
      this.logger.warn('ADMIN_EMAIL belongs to an existing non-admin account; no admin was created');
    }
  }

  /** Whether `password` is the account's (for actions the owner confirms with it, such as deletion). */
  async checkPassword(account: Account, password: string): Promise<boolean> {
    return argon2.verify(account.passwordHash, password).catch(() => false);
  }

  findByIds(ids: string[]): Promise<Account[]> {
    return this.accounts.findByIds(ids);
  }

  searchByEmail(text: string, limit: number, offset: number): Promise<Account[]> {
    return this.accounts.searchByEmail(text, limit, offset);
  }

  listStaff(): Promise<Account[]> {
    return this.accounts.listStaff();
  }

  /** Creates a staff account (or any role); null when the email is taken. */
  createWithRole(email: string, password: string, role: Role): Promise<Account | null> {
    return this.create(email, password, role, true);
  }

  transition(id: string, from: Account['status'][], to: Account['status']): Promise<Account | null> {
    return this.accounts.transition(id, from, to);
  }

  requestDeletion(id: string, at: Date, purgeAfter: Date): Promise<Account | null> {
    return this.accounts.requestDeletion(id, at, purgeAfter);
  }

  cancelDeletion(id: string): Promise<Account | null> {
    return this.accounts.cancelDeletion(id);
  }

  /** Ends every session of the account (its tokens are refused from the next request on). */
  endSessions(id: string): Promise<void> {
    return this.accounts.endSessions(id);
  }

  setRole(id: string, role: Role): Promise<'changed' | 'last_admin' | 'not_found'> {
    return this.accounts.setRole(id, role);
  }

  dueForPurge(m: EntityManager, now: Date, limit: number): Promise<string[]> {
    return this.accounts.dueForPurge(m, now, limit);
  }

  tombstone(m: EntityManager, id: string, now: Date): Promise<void> {
    return this.accounts.tombstone(m, id, now);
  }

  toView(account: Account): AccountView {
    return {
      id: account.id,
      email: account.email,
      role: account.role,
      plan: account.plan,
      status: account.status,
      email_verified: account.emailVerifiedAt !== null,
      created_at: account.createdAt.toISOString(),
    };
  }

  /**
   * `verified`: the address counts as verified from the start (staff an admin creates, the first admin). The free
   * grant is posted now unless it waits for the verification of the address.
   */
  private async create(
    email: string,
    password: string,
    role: Role,
    verified: boolean,
  ): Promise<Account | null> {
    const passwordHash = await argon2.hash(password, { type: argon2.argon2id });
    const now = this.clock.date();
    const address = email.trim().toLowerCase();
    const grantNow = verified || !this.verification.grantAtVerification;
    return this.accounts.create({
      email: address,
      passwordHash,
      role,
      plan: 'free',
      verifiedAt: verified ? now : null,
      grant: grantNow ? { addressKey: addressKey(address), micro: includedMicro('free'), at: now } : null,
    });
  }

  private async session(account: Account): Promise<Session> {
    const ttl = this.config.auth.sessionTtlSeconds;
    const now = this.clock.now();
    // Sessions ended or expired a day ago are of no use any more: each log-in clears its account's.
    await this.sessions.prune(account.id, new Date(now - 24 * 3600_000));
    const sid = await this.sessions.create(account.id, new Date(now), new Date(now + ttl * 1000));
    const claims: SessionClaims = { sub: account.id, role: account.role, ep: account.sessionEpoch, sid };
    const token = await this.jwt.signAsync(claims, { expiresIn: ttl });
    return { token, expires_in: ttl, account: this.toView(account) };
  }
}

const DUMMY_HASH =
  '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$ZsHVCJ2rMD6lGd3NFXHDmtzxxgeRlBGE0JbLSkqb+Ms';
