import { Inject, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import * as argon2 from 'argon2';
import type { EntityManager } from 'typeorm';
import { CONFIG, type Config } from '../config/config.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { includedMicro } from '../billing/plans.js';
import type { Account, Role } from './account.entity.js';
import { AccountsRepository } from './accounts.repository.js';

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
  created_at: string;
}

export interface SessionClaims {
  sub: string;
  role: Role;
  /** The account's session epoch when the token was issued: a token of an older epoch is refused. */
  ep?: number;
}

@Injectable()
export class AccountsService {
  private readonly logger = new Logger(AccountsService.name);

  constructor(
    private readonly accounts: AccountsRepository,
    private readonly jwt: JwtService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async signup(email: string, password: string): Promise<Session> {
    const account = await this.create(email, password, 'user');
    if (!account) {
      throw new GatewayError(ErrorCode.Conflict, 'An account with this email already exists.', {
        param: 'email',
        code: 'email_taken',
      });
    }
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
    let claims: SessionClaims;
    try {
      claims = await this.jwt.verifyAsync<SessionClaims>(token);
    } catch {
      throw new GatewayError(ErrorCode.InvalidApiKey, 'The session is invalid or has expired. Log in again.');
    }
    const account = await this.accounts.findById(claims.sub);
    if (!account || account.status !== 'active' || (claims.ep ?? 0) !== account.sessionEpoch) {
      throw new GatewayError(ErrorCode.InvalidApiKey, 'The session is invalid or has expired. Log in again.');
    }
    return account;
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
    const created = await this.create(adminEmail, adminPassword, 'admin');
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
    return this.create(email, password, role);
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
      created_at: account.createdAt.toISOString(),
    };
  }

  private async create(email: string, password: string, role: Role): Promise<Account | null> {
    const passwordHash = await argon2.hash(password, { type: argon2.argon2id });
    return this.accounts.create({
      email: email.trim().toLowerCase(),
      passwordHash,
      role,
      plan: 'free',
      grantMicro: includedMicro('free'),
    });
  }

  private async session(account: Account): Promise<Session> {
    const claims: SessionClaims = { sub: account.id, role: account.role, ep: account.sessionEpoch };
    const token = await this.jwt.signAsync(claims, { expiresIn: this.config.auth.sessionTtlSeconds });
    return { token, expires_in: this.config.auth.sessionTtlSeconds, account: this.toView(account) };
  }
}

const DUMMY_HASH =
  '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$ZsHVCJ2rMD6lGd3NFXHDmtzxxgeRlBGE0JbLSkqb+Ms';
