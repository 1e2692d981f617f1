import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Lifecycle } from './lifecycle.service.js';
import { MetricsService } from './metrics.service.js';
import { MetricsTokenGuard } from './metrics-token.guard.js';
import { OpsController } from './ops.controller.js';
import { ReadinessLogger } from './readiness-logger.js';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: ReadinessLogger })],
  controllers: [OpsController],
  providers: [MetricsService, Lifecycle, MetricsTokenGuard],
  exports: [MetricsService, Lifecycle],
})
export class OpsModule {}
