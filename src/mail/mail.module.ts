import { Global, Module } from '@nestjs/common';
import { MailService } from './mail.service.js';

/** Outgoing mail, for every module (accounts' verification and reset mails, billing alerts). */
@Global()
@Module({ providers: [MailService], exports: [MailService] })
export class MailModule {}
