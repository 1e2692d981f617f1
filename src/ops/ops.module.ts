import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MetricsService } from './metrics.service.js';
import { OpsController } from './ops.controller.js';

@Global()
@Module({
  imports: [TerminusModule],
  controllers: [OpsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class OpsModule {}
