import { Injectable } from '@nestjs/common';

export interface AlertMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * Where alert mails go: the mail module's service when it is configured (`SMTP_URL`); disabled otherwise (alerts
 * are then webhooks only). A seam of its own, so alerts do not depend on how mail is sent.
 */
@Injectable()
export class AlertMailer {
  readonly enabled: boolean = false;

  send(_mail: AlertMail): Promise<void> {
    return Promise.reject(new Error('mail is not configured'));
  }
}
