import { Injectable } from '@nestjs/common';
import { MailService, type Mail } from '../../mail/mail.service.js';

export type AlertMail = Mail;

/**
 * Where alert mails go: the mail module (`SMTP_URL`). Without it `enabled` is false and alerts are webhooks only.
 * A seam of its own, so the alerts do not depend on how mail is sent.
 */
@Injectable()
export class AlertMailer {
  constructor(private readonly mail: MailService) {}

  get enabled(): boolean {
    return this.mail.enabled;
  }

  send(mail: AlertMail): Promise<void> {
    return this.mail.send(mail);
  }
}
