import { Module } from '@nestjs/common';
import { KeysModule } from '../../keys/keys.module.js';
import { UsagePublisherModule } from '../../usage/usage.publisher.js';
import { AlertMailer } from './alert-mailer.js';
import { AlertsController } from './alerts.controller.js';
import { AlertsRepository } from './alerts.repository.js';
import { AlertsService } from './alerts.service.js';

/** Alerts before money runs out: detection off settled usage, once per period, signed webhooks and mails. */
@Module({
  imports: [KeysModule, UsagePublisherModule],
  controllers: [AlertsController],
  providers: [AlertsRepository, AlertsService, AlertMailer],
  exports: [AlertsService],
})
export class AlertsModule {}
