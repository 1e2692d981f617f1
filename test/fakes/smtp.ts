import { type AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A mail the catcher received, parsed. */
export interface CaughtMail {
  from: string;
  /** Every recipient of the envelope, lower-cased. */
  to: string[];
  subject: string;
  text: string;
  html: string;
}

/**
 * A real SMTP server that keeps every mail it receives (any credentials accepted, no TLS): the gateway sends to it
 * through `SMTP_URL` as to any provider's server. `nextMail(address)` resolves with the next mail to an address not
 * taken yet, at once if it already arrived, so a test never sleeps or polls.
 */
export class SmtpCatcher {
  readonly mails: CaughtMail[] = [];
  private readonly unread = new Map<string, CaughtMail[]>();
  private readonly waiting = new Map<string, Array<(mail: CaughtMail) => void>>();
  private readonly listeners: Array<(mail: CaughtMail) => void> = [];
  private readonly server: SMTPServer;
  private port = 0;

  constructor() {
    this.server = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      authOptional: true,
      allowInsecureAuth: true,
      logger: false,
      onAuth: (auth, _session, callback) => callback(null, { user: auth.username }),
      onData: (stream, session, callback) => {
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        simpleParser(stream)
          .then((parsed) => {
            const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
            this.receive({
              from,
              to,
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
            });
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });
  }

  /** `smtp://…` for the gateway's `SMTP_URL`. */
  get url(): string {
    return `smtp://catcher:catcher@127.0.0.1:${this.port}`;
  }

  get env(): Record<string, string> {
    return { SMTP_URL: this.url, MAIL_FROM: 'Conflux Router <no-reply@conflux.test>' };
  }

  start(port = 0): Promise<this> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(Object.assign(error, { port }));
      this.server.server.once('error', onError);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.server.off('error', onError);
        this.port = (this.server.server.address() as AddressInfo).port;
        resolve(this);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Called with every mail received (the CLI prints them). */
  onMail(listener: (mail: CaughtMail) => void): void {
    this.listeners.push(listener);
  }

  /** The next mail to `address` not taken yet: at once when one is there, else when it arrives. */
  nextMail(address: string): Promise<CaughtMail> {
    const key = address.toLowerCase();
    const queued = this.unread.get(key)?.shift();
    if (queued) {
      return Promise.resolve(queued);
    }
    return new Promise((resolve) => {
      const list = this.waiting.get(key) ?? [];
      list.push(resolve);
      this.waiting.set(key, list);
    });
  }

  /** Mails to `address` received and not taken by `nextMail` yet. */
  pending(address: string): number {
    return this.unread.get(address.toLowerCase())?.length ?? 0;
  }

  private receive(mail: CaughtMail): void {
    this.mails.push(mail);
    for (const listener of this.listeners) {
      listener(mail);
    }
    for (const address of mail.to) {
      const waiter = this.waiting.get(address)?.shift();
      if (waiter) {
        waiter(mail);
      } else {
        const list = this.unread.get(address) ?? [];
        list.push(mail);
        this.unread.set(address, list);
      }
    }
  }
}

/** The `?token=…` of the first link in a mail's text. */
export function tokenOf(mail: CaughtMail): string {
  const match = /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!match) {
    throw new Error(`no token link in the mail "${mail.subject}"`);
  }
  return match[1];
}
