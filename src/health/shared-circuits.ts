import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { PROVIDER_IDS } from '../common/provider-ids.js';
import { Instance } from '../common/instance.js';
import { CONFIG, type Config } from '../config/config.js';
import { RedisService } from '../redis/redis.service.js';

/** A circuit's change as one instance tells the others. */
export interface CircuitNews {
  /** The breaker: `provider` or `provider/providerModel`. */
  circuit: string;
  state: 'open' | 'closed';
  /** The instance that saw it (an instance ignores its own news). */
  by: string;
}

/** How long an open circuit's mark outlives its cool-down when no trial ever settles it, in cool-downs. */
const MARK_COOLDOWNS = 4;

/**
 * Circuit breakers shared through Redis. An instance whose breaker opens marks it (`SET …:open:<circuit>` with
 * an expiry) and publishes it; every other instance opens its own breaker at once. After the cool-down, the one
 * instance that wins `SET …:trial:<circuit> NX` sends the half-open trial; its outcome is published (closed:
 * the mark is deleted; failed: marked again). An instance starting, or Redis coming back, reads the marks.
 *
 * Keys are namespaced by the providers' base URLs: instances configured alike (one deployment) share circuits,
 * while gateways pointing at other endpoints (other deployments, or tests with their own fake providers on one
 * Redis) never trip each other's. Without Redis, or while it is down, every call here is a no-op and the
 * breakers are per instance (the degraded mode): a trial is then taken locally.
 */
@Injectable()
export class SharedCircuits {
  private readonly logger = new Logger(SharedCircuits.name);
  private readonly prefix: string;
  private readonly channel: string;
  private readonly markMs: number;
  private readonly trialMs: number;

  constructor(
    private readonly redis: RedisService,
    private readonly instance: Instance,
    @Inject(CONFIG) config: Config,
  ) {
    const endpoints = PROVIDER_IDS.map((id) => `${id}=${config.providers[id].baseUrl}`).join('\n');
    const namespace = createHash('sha256').update(endpoints).digest('hex').slice(0, 16);
    this.prefix = `conflux:circuit:${namespace}`;
    this.channel = `conflux:circuits:${namespace}`;
    this.markMs = config.health.breaker.cooldownMs * MARK_COOLDOWNS;
    this.trialMs = config.health.breaker.cooldownMs;
  }

  /** True when circuits are shared now (Redis configured and answering). */
  get shared(): boolean {
    return this.redis.client !== null && this.redis.available;
  }

  /** News from the other instances; `resync` is called when Redis comes back (read the marks again). */
  async listen(onNews: (news: CircuitNews) => void, resync: () => void): Promise<void> {
    if (!this.redis.client) {
      return;
    }
    this.redis.onAvailability((available) => available && resync());
    await this.redis.subscribe(this.channel, (message) => {
      let news: CircuitNews;
      try {
        news = JSON.parse(message) as CircuitNews;
      } catch {
        return;
      }
      if (news.by !== this.instance.id) {
        onNews(news);
      }
    });
  }

  /**
   * Marks the circuit open for every instance (best effort: Redis down leaves it per instance). A new open period
   * gets a new trial: the claim on the last one (a trial that just failed) is let go.
   */
  opened(circuit: string): void {
    this.tell(circuit, 'open', (client) =>
      client
        .multi()
        .set(`${this.prefix}:open:${circuit}`, this.instance.id, 'PX', this.markMs)
        .del(`${this.prefix}:trial:${circuit}`)
        .exec(),
    );
  }

  /** The trial succeeded: the circuit is closed everywhere. */
  closed(circuit: string): void {
    this.tell(circuit, 'closed', (client) =>
      client.del(`${this.prefix}:open:${circuit}`, `${this.prefix}:trial:${circuit}`),
    );
  }

  /** Whether this instance gets the circuit's half-open trial (false when another one has it). */
  async claimTrial(circuit: string): Promise<boolean> {
    const client = this.redis.client;
    if (!client || !this.shared) {
      return true; // per instance: the local breaker decides
    }
    try {
      const won = await client.set(
        `${this.prefix}:trial:${circuit}`,
        this.instance.id,
        'PX',
        this.trialMs,
        'NX',
      );
      return won === 'OK';
    } catch {
      return true; // Redis went away meanwhile: degraded, per instance
    }
  }

  /** The circuits marked open now, with how long ago each was marked (ms). */
  async marked(): Promise<Array<{ circuit: string; ageMs: number }>> {
    const client = this.redis.client;
    if (!client || !this.shared) {
      return [];
    }
    const head = `${this.prefix}:open:`;
    const out: Array<{ circuit: string; ageMs: number }> = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${head}*`, 'COUNT', 200);
      cursor = next;
      for (const key of keys) {
        const left = await client.pttl(key);
        if (left > 0) {
          out.push({ circuit: key.slice(head.length), ageMs: Math.max(0, this.markMs - left) });
        }
      }
    } while (cursor !== '0');
    return out;
  }

  private tell(
    circuit: string,
    state: CircuitNews['state'],
    write: (client: NonNullable<RedisService['client']>) => Promise<unknown>,
  ): void {
    const client = this.redis.client;
    if (!client || !this.shared) {
      return;
    }
    const news: CircuitNews = { circuit, state, by: this.instance.id };
    void write(client)
      .then(() => this.redis.publish(this.channel, JSON.stringify(news)))
      .catch((error: Error) =>
        this.logger.warn({ circuit, state }, `could not share the circuit change: ${error.message}`),
      );
  }
}
