import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuditLog } from '../admin/audit.js';
import { includedMicro } from '../billing/plans.js';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';
import type { AuthContext } from '../keys/auth-context.js';
import { MailService } from '../mail/mail.service.js';
import type { Account } from './account.entity.js';
import { AccountsRepository } from './accounts.repository.js';
import { addressKey } from './email-address.js';
import { hashMailToken, newMailToken } from './mail-token.js';
import { verificationMail } from './mails.js';
import { TokensRepository } from './tokens.repository.js';

const DAY_MS = 24 * 3600_000;
/** A verification link works for a day. */
const VERIFY_TTL_MS = DAY_MS;
/** Resends: one a minute, five a day (the sign-up's mail counts). */
const RESEND_INTERVAL_MS = 60_000;
const MAILS_PER_DAY = 5;

export interface VerificationResult {
  object: 'email_verification';
  verified: true;
  /** Whether this verification added the Free plan's credits (false: the address had them already). */
  credits_granted: boolean;
}

export interface ResendResult {
  object: 'email_verification';
  sent: true;
}

/**
 * Verified addresses: the sign-up's mail with a single-use link (24 h), resends within limits, and the link's use,
 * which marks the address verified and, once per normalised address, grants the Free plan's credits.
 */
@Injectable()
export class VerificationService {
  private readonly logger = new Logger(VerificationService.name);

  constructor(
    private readonly accounts: AccountsRepository,
    private readonly tokens: TokensRepository,
    private readonly mail: MailService,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /**
   * Whether the free grant waits for verification: it does when verification is required, so that a throw-away
   * address that is never verified gets nothing. Otherwise it is posted at sign-up (still once per address).
   */
  get grantAtVerification(): boolean {
    return this.config.mail.requireVerification;
  }

  /** The sign-up's verification mail (when mail is on), sent in the background: the sign-up never waits on SMTP. */
  async afterSignup(account: Account): Promise<void> {
    if (this.mail.enabled && account.emailVerifiedAt === null) {
      await this.issue(account);
    }
  }

  /** `POST /auth/verify/resend`: another link, at most one a minute and five a day. */
  async resend(auth: AuthContext): Promise<ResendResult> {
    const account = await this.accounts.findById(auth.accountId);
    if (!account) {
      throw new GatewayError(ErrorCode.NotFound, 'Account not found.');
    }
    if (account.emailVerifiedAt !== null) {
      throw new GatewayError(ErrorCode.Conflict, 'This address is verified already.', {
        code: 'email_already_verified',
      });
    }
    if (!this.mail.enabled) {
      throw mailUnavailable('Verification mails are');
    }
    const now = this.clock.now();
    const sent = await this.tokens.issuedSince(account.id, 'verify_email', new Date(now - DAY_MS));
    const last = sent.at(-1)?.getTime();
    if (last !== undefined && now - last < RESEND_INTERVAL_MS) {
      throw tooSoon(Math.ceil((last + RESEND_INTERVAL_MS - now) / 1000), 'a minute');
    }
    if (sent.length >= MAILS_PER_DAY) {
      throw tooSoon(Math.ceil((sent[0].getTime() + DAY_MS - now) / 1000), 'a day', MAILS_PER_DAY);
    }
    await this.issue(account);
    return { object: 'email_verification', sent: true };
  }

  /** `POST /auth/verify`: uses the link's token; the address is verified, and the free grant posted once. */
  async verify(token: string, requestId: string): Promise<VerificationResult> {
    const now = this.clock.date();
    const outcome = await this.accounts.transaction(async (m) => {
      const accountId = await this.tokens.consume(m, 'verify_email', hashMailToken(token), now);
      const account = accountId ? await this.accounts.findById(accountId, m) : null;
      if (!account || account.status !== 'active') {
        return null;
      }
      const result = await this.accounts.markVerified(m, account.id, now, {
        addressKey: addressKey(account.email),
        micro: includedMicro('free'),
        at: now,
      });
      if (result.verified) {
        await this.audit.record(
          { accountId: account.id, role: account.role, requestId },
          {
            action: 'account.email_verified',
            targetType: 'account',
            targetId: account.id,
            after: { credits_granted: result.granted },
          },
          m,
        );
      }
      return result;
    });
    if (!outcome) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        'This verification link is invalid, was used already, or has expired. Log in and ask for a new one.',
        { param: 'token', code: 'invalid_token' },
      );
    }
    return { object: 'email_verification', verified: true, credits_granted: outcome.granted };
  }

  /** A new token, stored as its hash, and its mail sent in the background (a failed send is logged, not thrown). */
  private async issue(account: Account): Promise<void> {
    const { token, sha256 } = newMailToken();
    const now = this.clock.now();
    await this.tokens.insert(
      account.id,
      'verify_email',
      sha256,
      new Date(now),
      new Date(now + VERIFY_TTL_MS),
    );
    const mail = verificationMail(this.config.publicUrl, token);
    this.mail.send({ to: account.email, ...mail }).catch(() => {
      // MailService logged why (without the link); the owner can ask for another mail.
      this.logger.warn(`the verification mail of account ${account.id} was not sent`);
    });
  }
}

export function mailUnavailable(what: string): GatewayError {
  return new GatewayError(
    ErrorCode.ServiceUnavailable,
    `${what} unavailable: this gateway sends no mail (SMTP_URL is not set). Ask its operator.`,
    { code: 'mail_unavailable' },
  );
}

function tooSoon(seconds: number, per: string, count = 1): GatewayError {
  return new GatewayError(
    ErrorCode.RateLimitExceeded,
    `At most ${count} verification mail${count > 1 ? 's' : ''} ${per}: try again in ${seconds}s.`,
    { headers: { 'retry-after': String(seconds) } },
  );
}
