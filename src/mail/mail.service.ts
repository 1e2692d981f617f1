import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import { CONFIG, type Config } from '../config/config.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** How long a mail may take at most: a stalled SMTP server fails the send instead of holding it for ever. */
const CONNECT_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

/**
 * Outgoing mail through the SMTP server of `SMTP_URL` (nodemailer, pooled connections). Without `SMTP_URL`,
 * `enabled` is false and `send` does nothing: the features that need mail check `enabled` and say so.
 *
 * `send` resolves once the server accepted the mail and rejects when it did not; it never logs the mail's
 * content (links carry single-use tokens), only the recipient's domain and the error. A caller that must not wait
 * on the SMTP server (a request) starts the send without awaiting it, and catches.
 */
@Injectable()
export class MailService implements OnApplicationShutdown {
  readonly enabled: boolean;
  private readonly logger = new Logger(MailService.name);
  private readonly transport: Transporter | undefined;
  private readonly from: string;

  constructor(@Inject(CONFIG) config: Config) {
    this.from = config.mail.from;
    this.enabled = config.mail.smtpUrl !== undefined;
    this.transport = config.mail.smtpUrl === undefined ? undefined : createTransport(config.mail.smtpUrl);
  }

  async send(mail: Mail): Promise<void> {
    if (!this.transport) {
      return;
    }
    try {
      await this.transport.sendMail({
        from: this.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
    } catch (error) {
      // The error is the server's or the network's (never the body); the recipient is named by domain only.
      const domain = mail.to.slice(mail.to.lastIndexOf('@') + 1);
      this.logger.warn(`could not send a mail to an address at ${domain}: ${(error as Error).message}`);
      throw error;
    }
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }
}

/** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (TLS from the start). */
function createTransport(smtpUrl: string): Transporter {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  return nodemailer.createTransport({
    host: url.hostname,
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    auth: url.username
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : undefined,
    pool: true,
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    // Nodemailer would log the whole conversation (tokens included) at debug level: never.
    logger: false,
    debug: false,
  });
}
