import { ApiProperty } from '@nestjs/swagger';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';

export const PROVIDER_STATES = ['healthy', 'degraded', 'down', 'unknown', 'disabled'] as const;
export type ProviderStatusState = (typeof PROVIDER_STATES)[number];
export const MODEL_STATES = ['healthy', 'degraded', 'down'] as const;
export type ModelStatusState = (typeof MODEL_STATES)[number];

export class ProviderStatusDto {
  @ApiProperty({ enum: PROVIDER_IDS, example: 'openai' }) id!: ProviderId;

  @ApiProperty({ description: 'Whether the gateway is configured to use this provider (it has a key).' })
  enabled!: boolean;

  @ApiProperty({
    enum: PROVIDER_STATES,
    description:
      '`healthy`; `degraded` (slow, rate limited or recovering: used after healthy ones); `down` (skipped: its ' +
      'probe failed or its circuit is open); `unknown` (not probed yet: used as healthy); `disabled`.',
  })
  state!: ProviderStatusState;

  @ApiProperty({
    enum: ['closed', 'open', 'half_open'],
    description: 'The circuit breaker fed by live traffic on this instance.',
  })
  circuit!: 'closed' | 'open' | 'half_open';

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When it was last probed.' })
  last_checked_at!: string | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'The latency of the last probe, in milliseconds.',
  })
  latency_ms!: number | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'timeout',
    description:
      'Why the last probe did not find it healthy (`timeout`, `connection_error`, `auth`, `http_503`, …).',
  })
  reason!: string | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    example: 99.93,
    description:
      'Percentage of the last 24 h of probes that found it up (healthy or degraded); null without probes.',
  })
  uptime_24h!: number | null;
}

export class ModelDeploymentStatusDto {
  @ApiProperty({ enum: PROVIDER_IDS }) provider!: ProviderId;
  @ApiProperty({ enum: PROVIDER_STATES }) state!: ProviderStatusState;
  @ApiProperty({
    type: 'number',
    nullable: true,
    description:
      'This instance’s moving estimate of the time to first token (ms) at this provider, from live requests (or ' +
      'from probes when there was no recent traffic); null when it knows nothing recent. `sort: "latency"` orders by it.',
    example: 212.5,
  })
  ttft_ms!: number | null;
  @ApiProperty({
    type: 'number',
    nullable: true,
    description: 'Its moving estimate of output tokens per second (from streams), or null.',
    example: 480,
  })
  tokens_per_second!: number | null;
  @ApiProperty({
    enum: ['traffic', 'probe'],
    nullable: true,
    description: 'What the estimate comes from, or null when there is none.',
  })
  latency_source!: 'traffic' | 'probe' | null;
}

export class ModelStatusDto {
  @ApiProperty({ example: 'gpt-oss-120b' }) id!: string;

  @ApiProperty({
    enum: MODEL_STATES,
    description:
      'The best state among its providers: `down` when none of them can serve it now (requests then go to ' +
      'its fallback model).',
  })
  state!: ModelStatusState;

  @ApiProperty({ type: [ModelDeploymentStatusDto], description: 'Its providers, in preference order.' })
  providers!: ModelDeploymentStatusDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The model that serves its requests when it is down.',
  })
  fallback!: string | null;
}

export class StatusDto {
  @ApiProperty({
    enum: MODEL_STATES,
    description: '`healthy` when every model is, `down` when none can be served, `degraded` otherwise.',
  })
  status!: ModelStatusState;

  @ApiProperty({ type: [ProviderStatusDto] }) providers!: ProviderStatusDto[];
  @ApiProperty({ type: [ModelStatusDto] }) models!: ModelStatusDto[];
}

/** A real answer (fake providers, all healthy), 3 of its 16 models shown. */
export const STATUS_EXAMPLE = {
  summary: 'Every provider healthy (3 of the 16 models shown)',
  value: {
    status: 'healthy',
    providers: [
      {
        id: 'openai',
        enabled: true,
        state: 'healthy',
        circuit: 'closed',
        last_checked_at: '2026-11-30T04:22:57.935Z',
        latency_ms: 136,
        reason: null,
        uptime_24h: 100,
      },
      {
        id: 'anthropic',
        enabled: true,
        state: 'healthy',
        circuit: 'closed',
        last_checked_at: '2026-11-30T04:22:57.935Z',
        latency_ms: 129,
        reason: null,
        uptime_24h: 100,
      },
      {
        id: 'gemini',
        enabled: true,
        state: 'healthy',
        circuit: 'closed',
        last_checked_at: '2026-11-30T04:22:57.935Z',
        latency_ms: 129,
        reason: null,
        uptime_24h: 100,
      },
      {
        id: 'cerebras',
        enabled: true,
        state: 'healthy',
        circuit: 'closed',
        last_checked_at: '2026-11-30T04:22:57.935Z',
        latency_ms: 129,
        reason: null,
        uptime_24h: 100,
      },
      {
        id: 'groq',
        enabled: true,
        state: 'healthy',
        circuit: 'closed',
        last_checked_at: '2026-11-30T04:22:57.935Z',
        latency_ms: 129,
        reason: null,
        uptime_24h: 100,
      },
    ],
    models: [
      {
        id: 'gpt-6-luna',
        state: 'healthy',
        providers: [
          {
            provider: 'openai',
            state: 'healthy',
            ttft_ms: 184.2,
            tokens_per_second: 95.1,
            latency_source: 'traffic',
          },
        ],
        fallback: 'claude-haiku-5-5',
      },
      {
        id: 'claude-sonnet-5-5',
        state: 'healthy',
        providers: [
          {
            provider: 'anthropic',
            state: 'healthy',
            ttft_ms: 41,
            tokens_per_second: null,
            latency_source: 'probe',
          },
        ],
        fallback: 'gpt-6.2-sol',
      },
      {
        id: 'gpt-oss-120b',
        state: 'healthy',
        providers: [
          {
            provider: 'cerebras',
            state: 'healthy',
            ttft_ms: 95.7,
            tokens_per_second: 1810.4,
            latency_source: 'traffic',
          },
          {
            provider: 'groq',
            state: 'healthy',
            ttft_ms: null,
            tokens_per_second: null,
            latency_source: null,
          },
        ],
        fallback: 'openai/gpt-oss-20b',
      },
    ],
  },
};
