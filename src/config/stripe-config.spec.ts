import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const STRIPE = {
  STRIPE_SECRET_KEY: 'sk_test_x',
  STRIPE_WEBHOOK_SECRET: 'whsec_x',
  STRIPE_PRICE_POWER: 'price_a',
  STRIPE_PRICE_PRO: 'price_b',
};

describe('Stripe configuration', () => {
  it('is off without STRIPE_SECRET_KEY', () => {
    expect(loadConfig({}).stripe).toBeNull();
    expect(loadConfig({}).billing).toEqual({ overageReportIntervalMs: 300_000, paymentGraceDays: 7 });
  });

  it('takes the SDK host, port and protocol from STRIPE_API_BASE, and the packs from CREDIT_PACKS', () => {
    const config = loadConfig({
      ...STRIPE,
      STRIPE_API_BASE: 'http://127.0.0.1:12111',
      CREDIT_PACKS: '1000:price_p1, 5000:price_p5',
    });
    expect(config.stripe).toMatchObject({
      api: { host: '127.0.0.1', port: 12111, protocol: 'http' },
      meterEventName: 'conflux_overage_credits',
      packs: [
        { credits: 1000, priceId: 'price_p1' },
        { credits: 5000, priceId: 'price_p5' },
      ],
    });
    expect(loadConfig(STRIPE).stripe?.api).toBeUndefined();
  });

  it('refuses a key without its webhook secret or prices, and a malformed pack list', () => {
    expect(() => loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x' })).toThrow(/STRIPE_WEBHOOK_SECRET/);
    expect(() => loadConfig({ ...STRIPE, STRIPE_PRICE_PRO: '' })).toThrow(/STRIPE_PRICE_PRO/);
    expect(() => loadConfig({ ...STRIPE, CREDIT_PACKS: '1000' })).toThrow(ConfigError);
  });
});
