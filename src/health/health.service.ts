import { Injectable } from '@nestjs/common';
import type { ProviderFailure, ProviderId } from '../providers/types.js';
import { ProviderHealth } from './provider-health.js';

/** Provider health as the router sees it. (Active probes and circuit breaking build on this.) */
@Injectable()
export class HealthService extends ProviderHealth {
  rank(_provider: ProviderId, _providerModel: string): number {
    return 0;
  }

  recordSuccess(_provider: ProviderId, _providerModel: string, _latencyMs: number): void {}

  recordFailure(_provider: ProviderId, _providerModel: string, _failure: ProviderFailure): void {}
}
