import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ADAPTERS, PROVIDER_ADAPTERS } from '../providers/registry.js';
import { ProviderTransport } from '../providers/transport.js';
import { HealthMetrics } from './health.metrics.js';
import { HealthProber } from './health.prober.js';
import { HealthRepository } from './health.repository.js';
import { HealthService } from './health.service.js';
import { ProviderHealth } from './provider-health.js';
import { StatusController } from './status.controller.js';
import { StatusService } from './status.service.js';

/** Provider health: scheduled probes (shared through the database), circuit breakers, GET /v1/status. */
@Module({
  imports: [CatalogModule],
  controllers: [StatusController],
  providers: [
    HealthService,
    { provide: ProviderHealth, useExisting: HealthService },
    HealthMetrics,
    HealthRepository,
    HealthProber,
    StatusService,
    // The probes get their own connection pools: a probe never queues behind chat traffic.
    ProviderTransport,
    { provide: PROVIDER_ADAPTERS, useValue: ADAPTERS },
  ],
  exports: [ProviderHealth, HealthService],
})
export class HealthModule {}
