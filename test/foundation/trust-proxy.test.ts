import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { call, startApp, type TestApp } from '../support/app.js';

/** Sign-ups from one client, each claiming another address in X-Forwarded-For; statuses in order. */
async function signups(t: TestApp, forwardedFor: (i: number) => string, count: number, tag: string) {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await call(
      t,
      'POST',
      '/auth/signup',
      { email: `${tag}-${i}@example.com`, password: 'a-long-password' },
      undefined,
      { 'x-forwarded-for': forwardedFor(i) },
    );
    statuses.push(res.status);
  }
  return statuses;
}

const LIMIT = 5;

describe('proxies are not trusted by default', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ AUTH_RATE_LIMIT_RPM: String(LIMIT) });
  });
  afterAll(() => t?.close());

  it('30 sign-ups from loopback, each with a different X-Forwarded-For, are limited like 30 from one address', async () => {
    const statuses = await signups(t, (i) => `203.0.113.${i + 1}`, 30, 'spoof');
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(201), ...Array<number>(30 - LIMIT).fill(429)]);
  });
});

describe('TRUST_PROXY=127.0.0.1', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ AUTH_RATE_LIMIT_RPM: String(LIMIT), TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => t?.close());

  it('honours X-Forwarded-For from the trusted proxy: each client address has its own limit', async () => {
    // ten clients behind the proxy, more than the limit of one address
    expect(await signups(t, (i) => `198.51.100.${i + 1}`, 10, 'proxied')).toEqual(Array(10).fill(201));
    // one of them goes on alone: limited at its own count (its first sign-up above is counted)
    const again = await signups(t, () => '198.51.100.1', LIMIT, 'again');
    expect(again).toEqual([...Array<number>(LIMIT - 1).fill(201), 429]);
    // the proxy's own address was never the key: another client still gets through
    expect(await signups(t, () => '198.51.100.99', 1, 'other')).toEqual([201]);
  });
});

describe('TRUST_PROXY=1 (a hop count)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ AUTH_RATE_LIMIT_RPM: String(LIMIT), TRUST_PROXY: '1' });
  });
  afterAll(() => t?.close());

  it('believes only the address the proxy saw, not what the client wrote before it', async () => {
    const statuses = await signups(t, (i) => `203.0.113.${i + 1}, 198.51.100.7`, 10, 'hops');
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(201), ...Array<number>(10 - LIMIT).fill(429)]);
    expect(await signups(t, () => '203.0.113.1, 198.51.100.8', 1, 'next')).toEqual([201]);
  });
});

describe('TRUST_PROXY is validated at start', () => {
  it('accepts true, false, addresses, CIDRs and the proxy-addr names', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '0' }).http.trustProxy).toBe(false);
    expect(
      loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1, fd00::/8,192.168.0.0/255.255.0.0,loopback' }).http
        .trustProxy,
    ).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', '192.168.0.0/255.255.0.0', 'loopback']);
  });

  it.each([
    'yes',
    '10.0.0.0/33',
    '10.0.0.0/0',
    '300.1.1.1',
    '10.0.0.1,,10.0.0.2',
    '192.168.0.0/255.0.255.0',
    'fd00::/129',
    '-1',
    '1.5',
  ])('refuses %j naming TRUST_PROXY', (value) => {
    expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY/);
  });
});
