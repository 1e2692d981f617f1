import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { ProviderDrains } from './drains.js';
import { HealthMetrics } from './health.metrics.js';
import { HealthProber } from './health.prober.js';
import { HealthRepository } from './health.repository.js';
import { HealthService } from './health.service.js';
import { ProviderHealth } from './provider-health.js';
import { SharedCircuits } from './shared-circuits.js';
import { StatusController } from './status.controller.js';
import { StatusService } from './status.service.js';

/** Provider health: scheduled probes (shared through the database), circuit breakers, GET /v1/status. */
@Module({
  // The probes get their own connection pools: a probe never queues behind chat traffic.
  imports: [CatalogModule, ProvidersModule.forPurpose('probes')],
  controllers: [StatusController],
  providers: [
    HealthService,
    SharedCircuits,

    ProviderDrains,
    { provide: ProviderHealth, useExisting: HealthService },
    HealthMetrics,
    HealthRepository,
    HealthProber,
    StatusService,
  ],
  exports: [ProviderHealth, HealthService, ProviderDrains],
})
export class HealthModule {}
