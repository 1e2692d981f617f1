import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mapFinishReason } from '../providers/gemini/finish-reasons.js';
import type { RedisService } from '../redis/redis.service.js';
import { MetricsService } from './metrics.service.js';

describe('MetricsService and provider signals', () => {
  afterEach(() => vi.restoreAllMocks());

  it('counts unknown finish reasons while the app runs, and stops when it stops', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const metrics = new MetricsService({ degraded: false } as RedisService);
    metrics.onModuleInit();
    expect(mapFinishReason('BRAND_NEW_REASON', false)).toBe('stop');
    mapFinishReason('BRAND_NEW_REASON', true);
    mapFinishReason('STOP', false);
    const line = 'conflux_provider_unknown_finish_reasons_total{provider="gemini",reason="BRAND_NEW_REASON"}';
    expect(await metrics.registry.metrics()).toContain(`${line} 2`);
    expect(warn).toHaveBeenCalledTimes(1);

    metrics.onModuleDestroy();
    mapFinishReason('BRAND_NEW_REASON', false);
    expect(await metrics.registry.metrics()).toContain(`${line} 2`);
  });
});
