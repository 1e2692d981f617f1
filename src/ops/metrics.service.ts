import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RedisService } from '../redis/redis.service.js';
import { subscribeProviderSignals } from '../providers/signals.js';

/** Prometheus metrics of this instance. Labels carry routes, statuses and providers: never keys or content. */
@Injectable()
export class MetricsService implements OnModuleInit, OnModuleDestroy {
  readonly registry = new Registry();
  private readonly logger = new Logger('Providers');
  private unsubscribe?: () => void;

  readonly requests = new Counter({
    name: 'conflux_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly latency = new Histogram({
    name: 'conflux_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** A finish reason a provider mapper did not know (answered as `stop`/`tool_calls`): its table needs a row. */
  readonly unknownFinishReasons = new Counter({
    name: 'conflux_provider_unknown_finish_reasons_total',
    help: 'Provider finish reasons missing from the mapping table, by provider and native value',
    labelNames: ['provider', 'reason'] as const,
    registers: [this.registry],
  });

  /** Tokens billed per model served (catalog ids only: the label set stays bounded), live keys only. */
  readonly modelTokens = new Counter({
    name: 'conflux_model_tokens_total',
    help: 'Tokens of live requests by model served, provider and kind (prompt, completion)',
    labelNames: ['model', 'provider', 'kind'] as const,
    registers: [this.registry],
  });

  /** Credits charged per model served, in micro-credits (1 credit = 1,000,000 µcr = $0.01), live keys only. */
  readonly modelCredits = new Counter({
    name: 'conflux_model_credits_micro_total',
    help: 'Micro-credits charged to accounts for live requests, by model served and provider (1 credit = 1e6)',
    labelNames: ['model', 'provider'] as const,
    registers: [this.registry],
  });

  constructor(private readonly redis: RedisService) {
    collectDefaultMetrics({ register: this.registry, prefix: 'conflux_' });
    const service = this.redis;
    new Gauge({
      name: 'conflux_redis_degraded',
      help: '1 while Redis is configured but unreachable (limits and revocations per instance), else 0',
      registers: [this.registry],
      collect() {
        this.set(service.degraded ? 1 : 0);
      },
    });
  }

  onModuleInit(): void {
    const warned = new Set<string>();
    this.unsubscribe = subscribeProviderSignals({
      unknownFinishReason: (provider, reason) => {
        // The value comes from a provider's answer: bounded, so an odd one cannot blow up the label or the log.
        const value = reason.slice(0, 64);
        this.unknownFinishReasons.inc({ provider, reason: value });
        if (!warned.has(`${provider}:${value}`)) {
          warned.add(`${provider}:${value}`);
          this.logger.warn(
            { provider, reason: value },
            'unknown finish reason (answered as stop/tool_calls)',
          );
        }
      },
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** A settled live request: `model` is a catalog id and `provider` a provider id (never a client's string). */
  settled(
    model: string,
    provider: string,
    tokens: { prompt: number; completion: number },
    chargedMicro: bigint,
  ): void {
    this.modelTokens.inc({ model, provider, kind: 'prompt' }, tokens.prompt);
    this.modelTokens.inc({ model, provider, kind: 'completion' }, tokens.completion);
    this.modelCredits.inc({ model, provider }, Number(chargedMicro));
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }
}
