import { isIP } from 'node:net';
import type { ProviderId } from '../common/provider-ids.js';
import { DEFAULT_BASE_URLS } from '../providers/base-urls.js';
import type { ProviderConfig } from '../providers/types.js';

/**
 * The one place that reads `process.env`. Everything else receives this typed object (token `CONFIG`).
 * A bad value stops the start with a message naming the variable.
 */
export interface Config {
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Base URL printed in first-start hints and used by the dashboard (e.g. http://localhost:3000). */
  publicUrl: string;
  database:
    | {
        kind: 'postgres';
        url: string;
        /** Connections per instance (`DATABASE_POOL_SIZE`; at least 2: migrations hold one while using another). */
        poolSize: number;
        /** How long a query waits for a free connection, or for a new one to open, before it is a 503. */
        connectTimeoutMs: number;
      }
    | { kind: 'pglite'; dataDir: string };
  redisUrl: string | undefined;
  /** Where settlements are written ahead when Redis is not there to hold them (`JOURNAL_DIR`). */
  journalDir: string;
  /** After SIGTERM, how long requests in flight may run before they are stopped (and settled). */
  shutdownGraceMs: number;
  /** What a crashed instance leaves behind, and how soon it is put right. */
  recovery: {
    /** A credit lease not renewed for this long goes back to its account. */
    leaseTtlMs: number;
    /** An instance silent for this long is taken for dead: its journal is finished by another. */
    instanceTimeoutMs: number;
    /** How often each instance looks for dead instances' unfinished work. */
    reconcileIntervalMs: number;
  };
  bodyLimitBytes: number;
  /** NODE_ENV is `production`: what is tolerable on a laptop but not in production is warned about at start. */
  production: boolean;
  http: {
    /**
     * Whose `X-Forwarded-*` headers are believed (`TRUST_PROXY`), i.e. what `request.ip` is (the sign-up and login
     * limit counts by it): nobody (false, the default: the peer's address), everybody (true), the peer and the
     * proxies before it up to a hop count, or peers at these addresses / CIDR ranges.
     */
    trustProxy: boolean | number | string[];
    /** Time to receive a whole request, body included (not to answer it: a stream may last minutes). */
    requestTimeoutMs: number;
    /** Time to receive a request's headers, from the connection (or the previous request) on. */
    headersTimeoutMs: number;
    /** How long an idle keep-alive connection is kept. */
    keepAliveTimeoutMs: number;
  };
  /**
   * Origins whose browser pages may call `/v1/*` (`CORS_ALLOWED_ORIGINS`): `*` (any, the default, as OpenAI's API:
   * the routes take a bearer key, never a cookie) or a list of origins (`https://app.example.com`).
   */
  corsOrigins: '*' | string[];
  /** When set, `/metrics` answers only `Authorization: Bearer <this>` (`METRICS_TOKEN`). */
  metricsToken: string | undefined;
  auth: {
    /**
     * `JWT_SECRET`, or undefined: then the secret is generated at first start and kept in the database, so sessions
     * survive a restart and are valid on every instance.
     */
    jwtSecret: string | undefined;
    sessionTtlSeconds: number;
    adminEmail: string | undefined;
    adminPassword: string | undefined;
  };
  /** Outgoing mail (verification, password reset, alerts). */
  mail: {
    /** `SMTP_URL` (`smtp://user:pass@host:587`, `smtps://…` for TLS from the start); undefined: no mail is sent. */
    smtpUrl: string | undefined;
    /** `MAIL_FROM`: the sender, `Name <address>` or a bare address. */
    from: string;
    /** `REQUIRE_EMAIL_VERIFICATION`: live keys wait for a verified address (default: on when mail can be sent). */
    requireVerification: boolean;
  };
  usage: {
    /** Raw usage events are kept this many days (then dropped a month's partition at a time); rollups are kept. */
    retentionDays: number;
    /** A usage stream gets a heartbeat event after this long without another. */
    heartbeatMs: number;
    /** Usage streams one account may hold open on one instance. */
    maxStreamsPerAccount: number;
    /** Bytes a usage stream's client may leave unread before it is dropped. */
    streamBufferBytes: number;
  };
  alerts: {
    /** How often each instance looks at the accounts it settled for alerts (and, less often, at every account). */
    scanIntervalMs: number;
    /** How often the alert outbox (webhooks, mails) is sent. */
    deliverIntervalMs: number;
    /** `ALERT_WEBHOOK_ALLOW_PRIVATE=true`: webhooks may target loopback and private addresses (tests, development). */
    webhookAllowPrivate: boolean;
    /** Timeout of one webhook delivery. */
    webhookTimeoutMs: number;
  };
  keys: {
    /** How long a key lookup is cached in memory. Without Redis it is capped at 1 s so revocations converge. */
    cacheTtlMs: number;
    lastUsedFlushMs: number;
  };
  rateLimit: {
    windowMs: number;
    perPlan: Record<'free' | 'power' | 'pro', number>;
    /** Sign-up and login attempts per client IP per minute. */
    authPerMinute: number;
  };
  providers: Record<ProviderId, ProviderConfig & { enabled: boolean }>;
  upstream: {
    connectTimeoutMs: number;
    /** Time allowed until the provider's first byte (headers) / first stream event. */
    firstByteTimeoutMs: number;
    /** Keep-alive connections per provider (each open stream holds one). */
    connections: number;
    /** Requests in flight to providers at once on this instance; past it a request is refused at once (503). */
    maxInFlight: number;
    /** Requests of one API key in flight at once on this instance; past it the key gets 429. */
    maxPerKey: number;
  };
  /** Stripe, or null without `STRIPE_SECRET_KEY` (billing routes answer 503; everything else as without it). */
  stripe: StripeConfig | null;
  billing: {
    /** How often overage is reported to Stripe (batched per account). */
    overageReportIntervalMs: number;
    /** Days a subscription may stay unpaid before live calls get 402. */
    paymentGraceDays: number;
  };
  health: {
    /** How often one instance probes every enabled provider (the others read the shared result). */
    probeIntervalMs: number;
    /** A probe slower than this fails as a timeout (the provider is down). */
    probeTimeoutMs: number;
    /** A probe answered slower than this marks the provider degraded. */
    degradedLatencyMs: number;
    /** How often each instance re-reads the latest shared probe results. */
    snapshotRefreshMs: number;
    breaker: {
      /** Failures in a row (within the window) that open a provider's (or a provider model's) circuit. */
      failureThreshold: number;
      windowMs: number;
      /** How long an open circuit stays shut before one trial request decides. */
      cooldownMs: number;
    };
  };
}

export interface StripeConfig {
  secretKey: string;
  webhookSecret: string;
  /** Where the SDK sends its requests (`STRIPE_API_BASE`); undefined = Stripe itself. */
  api: { host: string; port: number; protocol: 'http' | 'https' } | undefined;
  /** Recurring Price id of each paid plan. */
  prices: { power: string; pro: string };
  /** Metered Price id billing each plan's overage (optional: added to the subscription at checkout). */
  overagePrices: { power: string | undefined; pro: string | undefined };
  meterEventName: string;
  /** Credit packs on sale: credits → one-time Price id. */
  packs: Array<{ credits: number; priceId: string }>;
}

export const CONFIG = Symbol('CONFIG');

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function url(env: Env, name: string, fallback: string | undefined, protocols: string[]): string | undefined {
  const raw = optional(env, name) ?? fallback;
  if (raw === undefined) {
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL, got "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return raw.replace(/\/+$/, '');
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name)?.trim().toLowerCase();
  if (raw === undefined) {
    return fallback;
  }
  if (['true', '1', 'yes', 'on'].includes(raw)) {
    return true;
  }
  if (['false', '0', 'no', 'off'].includes(raw)) {
    return false;
  }
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

/** `Name <address>` or a bare address: what an SMTP server accepts as a sender. */
const MAIL_FROM_PATTERN = /^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/;

function mailConfig(env: Env): Config['mail'] {
  const smtpUrl = url(env, 'SMTP_URL', undefined, ['smtp:', 'smtps:']);
  const from = str(env, 'MAIL_FROM', 'Conflux Router <no-reply@localhost>').trim();
  if (!MAIL_FROM_PATTERN.test(from)) {
    throw new ConfigError(`MAIL_FROM must be an address or "Name <address>", got "${from}"`);
  }
  const requireVerification = bool(env, 'REQUIRE_EMAIL_VERIFICATION', smtpUrl !== undefined);
  if (requireVerification && smtpUrl === undefined) {
    throw new ConfigError(
      'REQUIRE_EMAIL_VERIFICATION needs SMTP_URL: without mail, no address could ever be verified',
    );
  }
  return { smtpUrl, from, requireVerification };
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, values: readonly T[]): T {
  const raw = str(env, name, fallback);
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** proxy-addr's names for ranges (loopback, link-local and unique local addresses, IPv4 and IPv6). */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** An IPv4 netmask (255.255.240.0) as its prefix length, or undefined when its ones are not contiguous. */
function netmaskBits(mask: string): number | undefined {
  const bits = mask
    .split('.')
    .map((octet) => Number(octet).toString(2).padStart(8, '0'))
    .join('');
  const contiguous = /^(1*)0*$/.exec(bits);
  return contiguous ? contiguous[1].length : undefined;
}

/** One entry of a trusted-proxy list as Fastify's proxy-addr reads it: an address, `address/bits`, `v4/netmask`. */
function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.includes(entry)) {
    return true;
  }
  const slash = entry.lastIndexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) {
    return false;
  }
  if (slash === -1) {
    return true;
  }
  const range = entry.slice(slash + 1);
  const max = version === 4 ? 32 : 128;
  const bits = /^\d+$/.test(range)
    ? Number(range)
    : version === 4 && isIP(range) === 4
      ? netmaskBits(range)
      : undefined;
  return bits !== undefined && bits > 0 && bits <= max;
}

/** `TRUST_PROXY`: false/true, a hop count, or a comma-separated list of addresses and CIDR ranges. */
function trustProxy(env: Env): Config['http']['trustProxy'] {
  const raw = optional(env, 'TRUST_PROXY')?.trim();
  if (raw === undefined || /^(false|0)$/i.test(raw)) {
    return false;
  }
  if (/^true$/i.test(raw)) {
    return true;
  }
  if (/^\d+$/.test(raw)) {
    return Number(raw);
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  const bad = entries.find((entry) => !isProxyAddress(entry));
  if (bad !== undefined) {
    throw new ConfigError(
      `TRUST_PROXY must be true, false, a hop count, or a comma-separated list of IP addresses and CIDR ranges ` +
        `(or ${PROXY_RANGE_NAMES.join(', ')}), got "${bad}" in "${raw}"`,
    );
  }
  return entries;
}

/** `CORS_ALLOWED_ORIGINS`: `*`, or a comma-separated list of origins (scheme, host and port; no path). */
function corsOrigins(env: Env): Config['corsOrigins'] {
  const raw = str(env, 'CORS_ALLOWED_ORIGINS', '*').trim();
  if (raw === '*') {
    return '*';
  }
  const origins = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (origins.length === 0) {
    throw new ConfigError('CORS_ALLOWED_ORIGINS must be * or a comma-separated list of origins, got nothing');
  }
  return origins.map((origin) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    const bare =
      parsed && parsed.pathname === '/' && parsed.search === '' && parsed.hash === '' && !parsed.username;
    if (!parsed || !bare || !['http:', 'https:'].includes(parsed.protocol)) {
      throw new ConfigError(
        `CORS_ALLOWED_ORIGINS must be * or a comma-separated list of origins like https://app.example.com ` +
          `(scheme, host and port, no path), got "${origin}"`,
      );
    }
    return parsed.origin; // as browsers send it: lower case, default port left out
  });
}

/** `CREDIT_PACKS`: `1000:price_…,5000:price_…` (credits : one-time Price id). */
function creditPacks(env: Env): StripeConfig['packs'] {
  const raw = optional(env, 'CREDIT_PACKS');
  if (raw === undefined) {
    return [];
  }
  return raw.split(',').map((entry) => {
    const match = /^\s*(\d+)\s*:\s*(\S+)\s*$/.exec(entry);
    if (!match || Number(match[1]) <= 0) {
      throw new ConfigError(
        `CREDIT_PACKS must look like "1000:price_…,5000:price_…", got "${entry}" in "${raw}"`,
      );
    }
    return { credits: Number(match[1]), priceId: match[2] };
  });
}

function stripeConfig(env: Env): StripeConfig | null {
  const secretKey = optional(env, 'STRIPE_SECRET_KEY');
  if (secretKey === undefined) {
    return null;
  }
  const webhookSecret = optional(env, 'STRIPE_WEBHOOK_SECRET');
  if (webhookSecret === undefined) {
    throw new ConfigError('STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY');
  }
  const required = (name: string): string => {
    const value = optional(env, name);
    if (value === undefined) {
      throw new ConfigError(`${name} must be set with STRIPE_SECRET_KEY (a recurring Price id)`);
    }
    return value;
  };
  const base = url(env, 'STRIPE_API_BASE', undefined, ['http:', 'https:']);
  let api: StripeConfig['api'];
  if (base !== undefined) {
    const parsed = new URL(base);
    const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
    api = {
      host: parsed.hostname,
      port: parsed.port === '' ? (protocol === 'http' ? 80 : 443) : Number(parsed.port),
      protocol,
    };
  }
  return {
    secretKey,
    webhookSecret,
    api,
    prices: { power: required('STRIPE_PRICE_POWER'), pro: required('STRIPE_PRICE_PRO') },
    overagePrices: {
      power: optional(env, 'STRIPE_PRICE_POWER_OVERAGE'),
      pro: optional(env, 'STRIPE_PRICE_PRO_OVERAGE'),
    },
    meterEventName: str(env, 'STRIPE_METER_EVENT_NAME', 'conflux_overage_credits'),
    packs: creditPacks(env),
  };
}

/** The prefix of each provider's variables: `<PREFIX>_API_KEY`, `<PREFIX>_BASE_URL`. */
export const PROVIDER_ENV: Record<ProviderId, string> = {
  openai: 'OPENAI',
  anthropic: 'ANTHROPIC',
  gemini: 'GEMINI',
  cerebras: 'CEREBRAS',
  groq: 'GROQ',
};

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 3000, 0, 65535);
  const databaseUrl = url(env, 'DATABASE_URL', undefined, ['postgres:', 'postgresql:']);
  const jwtSecretEnv = optional(env, 'JWT_SECRET');
  if (jwtSecretEnv !== undefined && jwtSecretEnv.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters');
  }
  const redisUrl = url(env, 'REDIS_URL', undefined, ['redis:', 'rediss:']);
  const adminEmail = optional(env, 'ADMIN_EMAIL');
  const adminPassword = optional(env, 'ADMIN_PASSWORD');
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError('ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
  }
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('ADMIN_PASSWORD must be at least 8 characters');
  }
  const defaultRpm = int(env, 'RATE_LIMIT_RPM', 60, 1);
  const probeIntervalMs = int(env, 'HEALTH_PROBE_INTERVAL_MS', 60_000, 50);
  const probeTimeoutMs = int(
    env,
    'HEALTH_PROBE_TIMEOUT_MS',
    Math.min(5_000, Math.floor(probeIntervalMs / 2)),
    10,
  );
  if (probeTimeoutMs >= probeIntervalMs) {
    throw new ConfigError(
      `HEALTH_PROBE_TIMEOUT_MS (${probeTimeoutMs}) must be shorter than HEALTH_PROBE_INTERVAL_MS (${probeIntervalMs})`,
    );
  }
  const cacheTtl = int(env, 'KEY_CACHE_TTL_MS', 30_000, 0);
  const requestTimeoutMs = int(env, 'REQUEST_TIMEOUT_MS', 60_000, 1);
  const headersTimeoutMs = int(env, 'HEADERS_TIMEOUT_MS', Math.min(10_000, requestTimeoutMs), 1);
  if (headersTimeoutMs > requestTimeoutMs) {
    // Node refuses it too: the headers are part of the request.
    throw new ConfigError(
      `HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not be longer than REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  const metricsToken = optional(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('METRICS_TOKEN must be at least 16 characters, without spaces');
  }

  const providers = {} as Config['providers'];
  for (const [id, prefix] of Object.entries(PROVIDER_ENV) as Array<[ProviderId, string]>) {
    const apiKey = optional(env, `${prefix}_API_KEY`) ?? '';
    providers[id] = {
      id,
      baseUrl: url(env, `${prefix}_BASE_URL`, DEFAULT_BASE_URLS[id], ['http:', 'https:'])!,
      apiKey,
      enabled: apiKey !== '',
      ...(id === 'anthropic'
        ? {
            anthropicVersion: oneOf(env, 'ANTHROPIC_VERSION', '2023-06-01', [
              '2023-06-01',
              '2026-10-21',
            ] as const),
          }
        : {}),
    };
  }

  return {
    port,
    host: str(env, 'HOST', '0.0.0.0'),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ] as const),
    publicUrl: url(env, 'PUBLIC_URL', `http://localhost:${port}`, ['http:', 'https:'])!,
    database: databaseUrl
      ? {
          kind: 'postgres',
          url: databaseUrl,
          poolSize: int(env, 'DATABASE_POOL_SIZE', 20, 2, 1000),
          connectTimeoutMs: int(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5_000, 100),
        }
      : { kind: 'pglite', dataDir: str(env, 'PGLITE_DATA_DIR', './data/pglite') },
    redisUrl,
    journalDir: str(env, 'JOURNAL_DIR', './data/journal'),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 30_000, 0),
    alerts: {
      scanIntervalMs: int(env, 'ALERT_SCAN_INTERVAL_MS', 5_000, 100),
      deliverIntervalMs: int(env, 'ALERT_DELIVER_INTERVAL_MS', 2_000, 100),
      webhookAllowPrivate: oneOf(env, 'ALERT_WEBHOOK_ALLOW_PRIVATE', 'false', ['true', 'false']) === 'true',
      webhookTimeoutMs: int(env, 'ALERT_WEBHOOK_TIMEOUT_MS', 10_000, 100),
    },
    recovery: {
      leaseTtlMs: int(env, 'LEASE_TTL_MS', 60_000, 1_000),
      instanceTimeoutMs: int(env, 'INSTANCE_TIMEOUT_MS', 30_000, 3_000),
      reconcileIntervalMs: int(env, 'RECONCILE_INTERVAL_MS', 30_000, 1_000),
    },
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024),
    production: env.NODE_ENV === 'production',
    http: {
      trustProxy: trustProxy(env),
      requestTimeoutMs,
      headersTimeoutMs,
      // Longer than the idle timeout of common load balancers (60 s), so that they, not we, close an idle
      // connection: a connection closed by us while the balancer sends on it is a 502 for its client.
      keepAliveTimeoutMs: int(env, 'KEEP_ALIVE_TIMEOUT_MS', 72_000, 1),
    },
    corsOrigins: corsOrigins(env),
    metricsToken,
    auth: {
      jwtSecret: jwtSecretEnv,
      sessionTtlSeconds: int(env, 'SESSION_TTL_SECONDS', 3600, 60),
      adminEmail: adminEmail?.toLowerCase(),
      adminPassword,
    },
    mail: mailConfig(env),
    usage: {
      retentionDays: int(env, 'USAGE_RETENTION_DAYS', 400, 1),
      heartbeatMs: int(env, 'USAGE_STREAM_HEARTBEAT_MS', 15_000, 100),
      maxStreamsPerAccount: int(env, 'USAGE_STREAMS_PER_ACCOUNT', 10, 1),
      streamBufferBytes: int(env, 'USAGE_STREAM_BUFFER_BYTES', 1024 * 1024, 1024),
    },
    keys: {
      cacheTtlMs: redisUrl ? cacheTtl : Math.min(cacheTtl, 1000),
      lastUsedFlushMs: int(env, 'KEY_LAST_USED_FLUSH_MS', 30_000, 100),
    },
    rateLimit: {
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 100),
      authPerMinute: int(env, 'AUTH_RATE_LIMIT_RPM', 20, 1),
      perPlan: {
        free: int(env, 'RATE_LIMIT_RPM_FREE', defaultRpm, 1),
        power: int(env, 'RATE_LIMIT_RPM_POWER', defaultRpm, 1),
        pro: int(env, 'RATE_LIMIT_RPM_PRO', defaultRpm, 1),
      },
    },
    providers,
    upstream: {
      connectTimeoutMs: int(env, 'UPSTREAM_CONNECT_TIMEOUT_MS', 5_000, 1),
      firstByteTimeoutMs: int(env, 'UPSTREAM_FIRST_BYTE_TIMEOUT_MS', 60_000, 1),
      connections: int(env, 'UPSTREAM_CONNECTIONS', 4096, 1),
      maxInFlight: int(env, 'UPSTREAM_MAX_IN_FLIGHT', 4096, 1),
      maxPerKey: int(env, 'KEY_MAX_CONCURRENT', 20, 1),
    },
    stripe: stripeConfig(env),
    billing: {
      overageReportIntervalMs: int(env, 'OVERAGE_REPORT_INTERVAL_MS', 300_000, 100),
      paymentGraceDays: int(env, 'PAYMENT_GRACE_DAYS', 7, 0),
    },
    health: {
      probeIntervalMs,
      probeTimeoutMs,
      degradedLatencyMs: int(env, 'HEALTH_DEGRADED_LATENCY_MS', 2_000, 1),
      // Every instance follows the shared result closely, without querying per request.
      snapshotRefreshMs: Math.max(25, Math.min(5_000, Math.floor(probeIntervalMs / 2))),
      breaker: {
        failureThreshold: int(env, 'BREAKER_FAILURE_THRESHOLD', 5, 1),
        windowMs: int(env, 'BREAKER_WINDOW_MS', 30_000, 100),
        cooldownMs: int(env, 'BREAKER_COOLDOWN_MS', 30_000, 50),
      },
    },
  };
}
