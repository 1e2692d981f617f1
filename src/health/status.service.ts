import { Inject, Injectable } from '@nestjs/common';
import { CatalogService } from '../catalog/catalog.service.js';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';
import { Clock } from '../common/clock.js';
import { CONFIG, type Config } from '../config/config.js';
import { HealthRepository } from './health.repository.js';
import { HealthService } from './health.service.js';
import type {
  ModelStatusDto,
  ModelStatusState,
  ProviderStatusDto,
  ProviderStatusState,
  StatusDto,
} from './status.dto.js';

const ORDER: Record<ModelStatusState, number> = { healthy: 0, degraded: 1, down: 2 };

/** GET /v1/status: each provider and each model, from the same snapshot and circuits the router uses. */
@Injectable()
export class StatusService {
  private uptime?: { at: number; value: Promise<Map<ProviderId, { up: number; total: number }>> };

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly health: HealthService,
    private readonly repository: HealthRepository,
    private readonly catalog: CatalogService,
    private readonly clock: Clock,
  ) {}

  async status(): Promise<StatusDto> {
    const uptime = await this.uptime24h();
    const providers = PROVIDER_IDS.map((id) => this.provider(id, uptime.get(id)));
    const models = this.catalog.list().map((model): ModelStatusDto => {
      const deployments = model.deployments.map((d) => {
        const latency = this.health.latency(d.provider, d.providerModel);
        return {
          provider: d.provider,
          state: this.deploymentState(d.provider, d.providerModel),
          ttft_ms: latency?.ttftMs ?? null,
          tokens_per_second: latency?.tokensPerSecond ?? null,
          latency_source: latency?.source ?? null,
        };
      });
      const usable = deployments
        .map((d) => usableState(d.state))
        .filter((s): s is ModelStatusState => s !== null && s !== 'down');
      const state = usable.length === 0 ? 'down' : usable.sort((a, b) => ORDER[a] - ORDER[b])[0];
      return { id: model.id, state, providers: deployments, fallback: model.fallback };
    });
    const status: ModelStatusState = models.every((m) => m.state === 'healthy')
      ? 'healthy'
      : models.every((m) => m.state === 'down')
        ? 'down'
        : 'degraded';
    return { status, providers, models };
  }

  private provider(id: ProviderId, uptime: { up: number; total: number } | undefined): ProviderStatusDto {
    const { probe, circuit } = this.health.view(id);
    return {
      id,
      enabled: this.config.providers[id].enabled,
      state: this.deploymentState(id, null),
      circuit,
      last_checked_at: probe?.checkedAt.toISOString() ?? null,
      latency_ms: probe?.latencyMs ?? null,
      reason: probe?.error ?? null,
      uptime_24h: uptime && uptime.total > 0 ? Math.round((uptime.up / uptime.total) * 10_000) / 100 : null,
    };
  }

  private deploymentState(provider: ProviderId, providerModel: string | null): ProviderStatusState {
    return this.config.providers[provider].enabled
      ? this.health.stateOf(provider, providerModel)
      : 'disabled';
  }

  /** Cached briefly: the endpoint is public, and the history only changes once a probe interval. */
  private uptime24h(): Promise<Map<ProviderId, { up: number; total: number }>> {
    const ttl = Math.min(this.config.health.snapshotRefreshMs, 5_000);
    const now = this.clock.now();
    if (!this.uptime || now - this.uptime.at >= ttl) {
      const value = this.repository.uptime24h();
      this.uptime = { at: now, value };
      value.catch(() => (this.uptime = undefined));
    }
    return this.uptime.value;
  }
}

/** How a deployment counts toward its model's state: not probed yet counts as healthy, disabled as absent. */
function usableState(state: ProviderStatusState): ModelStatusState | null {
  switch (state) {
    case 'unknown':
      return 'healthy';
    case 'disabled':
      return null;
    default:
      return state;
  }
}
