import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import * as argon2 from 'argon2';
import { AuditLog } from '../admin/audit.js';
import { includedMicro } from '../billing/plans.js';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';
import type { AuthContext } from '../keys/auth-context.js';
import { MailService } from '../mail/mail.service.js';
import { AccountsRepository } from './accounts.repository.js';
import { addressKey } from './email-address.js';
import { hashMailToken, newMailToken } from './mail-token.js';
import { resetMail } from './mails.js';
import { SessionsRepository } from './sessions.repository.js';
import { TokensRepository } from './tokens.repository.js';
import { mailUnavailable } from './verification.service.js';

const HOUR_MS = 3600_000;
/** A reset link works for an hour. */
const RESET_TTL_MS = HOUR_MS;
/** Reset mails asked for, per hour: for one address, and from one client address. */
const FORGOT_PER_ADDRESS = 3;
const FORGOT_PER_CLIENT = 10;

export interface ForgotResult {
  object: 'password_reset_request';
  message: string;
}

export interface PasswordResult {
  object: 'password_change';
  changed: true;
  /** Sessions ended by the change (every other one; a reset ends them all). */
  sessions_ended: number;
}

const FORGOT_ANSWER: ForgotResult = {
  object: 'password_reset_request',
  message:
    'If an account uses this address, a link to reset its password is on its way. It works for 1 hour.',
};

/** Passwords: changed by their owner (other sessions end), or reset through a mailed link (every session ends). */
@Injectable()
export class PasswordService {
  private readonly logger = new Logger(PasswordService.name);

  constructor(
    private readonly accounts: AccountsRepository,
    private readonly tokens: TokensRepository,
    private readonly sessions: SessionsRepository,
    private readonly mail: MailService,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** `POST /auth/password/change`: the current password confirms it; every other session ends. */
  async change(
    auth: AuthContext,
    current: string,
    password: string,
    requestId: string,
  ): Promise<PasswordResult> {
    const account = await this.accounts.findById(auth.accountId);
    const ok = account ? await argon2.verify(account.passwordHash, current).catch(() => false) : false;
    if (!account || !ok) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'The current password is not right.', {
        param: 'current_password',
        code: 'incorrect_password',
      });
    }
    const hash = await argon2.hash(password, { type: argon2.argon2id });
    const now = this.clock.date();
    await this.accounts.setPassword(undefined, account.id, hash, false);
    const ended = await this.sessions.revokeAll(account.id, now, auth.sessionId);
    await this.audit.record(
      { accountId: account.id, role: account.role, requestId },
      {
        action: 'account.password_changed',
        targetType: 'account',
        targetId: account.id,
        after: { sessions_ended: ended },
      },
    );
    return { object: 'password_change', changed: true, sessions_ended: ended };
  }

  /**
   * `POST /auth/password/forgot`: the same answer whether an account uses the address or not (and the same
   * limits, counted per address and per client), so the answer tells nobody which addresses have accounts.
   */
  async forgot(email: string, clientIp: string): Promise<ForgotResult> {
    if (!this.mail.enabled) {
      throw mailUnavailable('Password reset is');
    }
    await this.limit(`pwreset:client:${clientIp}`, FORGOT_PER_CLIENT, 'from this client address');
    await this.limit(`pwreset:address:${addressKey(email)}`, FORGOT_PER_ADDRESS, 'for this email address');
    const account = await this.accounts.findByEmail(email.trim());
    if (account && account.status === 'active') {
      const { token, sha256 } = newMailToken();
      const now = this.clock.now();
      await this.tokens.insert(
        account.id,
        'reset_password',
        sha256,
        new Date(now),
        new Date(now + RESET_TTL_MS),
      );
      const mail = resetMail(this.config.publicUrl, token);
      this.mail.send({ to: account.email, ...mail }).catch(() => {
        // MailService logged why (without the link); the owner can ask again.
        this.logger.warn(`the password reset mail of account ${account.id} was not sent`);
      });
    }
    return FORGOT_ANSWER;
  }

  /**
   * `POST /auth/password/reset`: the link's token (single use, 1 h) sets a new password and ends every session.
   * The link came by mail, so the address is proven too: an unverified account becomes verified.
   */
  async reset(token: string, password: string, requestId: string): Promise<PasswordResult> {
    if (!this.mail.enabled) {
      throw mailUnavailable('Password reset is');
    }
    const hash = await argon2.hash(password, { type: argon2.argon2id });
    const now = this.clock.date();
    const done = await this.accounts.transaction(async (m) => {
      const accountId = await this.tokens.consume(m, 'reset_password', hashMailToken(token), now);
      const account = accountId ? await this.accounts.findById(accountId, m) : null;
      if (!account || account.status !== 'active') {
        return null;
      }
      await this.accounts.setPassword(m, account.id, hash, true);
      await this.tokens.consumeAll(m, account.id, 'reset_password', now);
      const verified = await this.accounts.markVerified(m, account.id, now, {
        addressKey: addressKey(account.email),
        micro: includedMicro('free'),
        at: now,
      });
      await this.audit.record(
        { accountId: account.id, role: account.role, requestId },
        {
          action: 'account.password_reset',
          targetType: 'account',
          targetId: account.id,
          after: { email_verified_now: verified.verified, credits_granted: verified.granted },
        },
        m,
      );
      return account;
    });
    if (!done) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        'This reset link is invalid, was used already, or has expired. Ask for a new one.',
        { param: 'token', code: 'invalid_token' },
      );
    }
    // The epoch moved with the password (every token refused); the rows say so too.
    const ended = await this.sessions.revokeAll(done.id, now);
    return { object: 'password_change', changed: true, sessions_ended: ended };
  }

  private async limit(key: string, limit: number, what: string): Promise<void> {
    const result = await this.storage.increment(key, HOUR_MS, limit, HOUR_MS, 'auth');
    if (result.isBlocked) {
      throw new GatewayError(
        ErrorCode.RateLimitExceeded,
        `Too many password reset requests ${what}. Try again in ${result.timeToBlockExpire}s.`,
        { headers: { 'retry-after': String(result.timeToBlockExpire) } },
      );
    }
  }
}
