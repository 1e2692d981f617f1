import { Module } from '@nestjs/common';
import { HealthService } from './health.service.js';
import { ProviderHealth } from './provider-health.js';

@Module({
  providers: [HealthService, { provide: ProviderHealth, useExisting: HealthService }],
  exports: [ProviderHealth, HealthService],
})
export class HealthModule {}
