import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module.js';
import { UsageController } from './usage.controller.js';
import { UsageFeed } from './usage.feed.js';
import { UsagePartitions } from './usage.partitions.js';
import { UsageRepository } from './usage.repository.js';
import { UsageService } from './usage.service.js';

/** The read side of usage: GET /v1/usage, the live usage stream, and the partitions of usage_events. */
@Module({
  imports: [KeysModule],
  controllers: [UsageController],
  providers: [UsageRepository, UsageService, UsageFeed, UsagePartitions],
})
export class UsageModule {}
