import { Module } from '@nestjs/common';
import { BillingModule } from '../billing/billing.module.js';
import { CatalogModule } from '../catalog/catalog.module.js';
import { HealthModule } from '../health/health.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { FailoverRunner } from '../routing/failover.js';
import { RoutePlanner } from '../routing/route-planner.js';
import { UpstreamGate } from '../routing/upstream-gate.js';
import { ChatController } from './chat.controller.js';
import { ChatService } from './chat.service.js';
import { ToolStateStore } from './tool-state.store.js';

@Module({
  imports: [KeysModule, CatalogModule, BillingModule, HealthModule, ProvidersModule.forPurpose('chat')],
  controllers: [ChatController],
  providers: [ChatService, FailoverRunner, RoutePlanner, ToolStateStore, UpstreamGate],
})
export class ChatModule {}
