import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { Instance } from '../common/instance.js';
import { CONFIG, type Config } from '../config/config.js';
import { LeasesRepository, type Grant } from './leases.repository.js';
import type { Hold } from './metering.types.js';

/** How often leases are renewed, idle ones given back, and expired ones (of any instance) reclaimed. */
const KEEPER_INTERVAL_MS = 1_000;
/** A lease not used for this long goes back to its account (all of it, or what in-flight requests do not need). */
const IDLE_MS = 2_000;
/**
 * Surplus (credit leased beyond what waiting requests need, to admit the next ones in memory) is taken only when
 * the account has at least this many times the ask available: near the end of a balance, leases are exact, so no
 * instance keeps credit another instance's request could have used.
 */
const RICH_FACTOR = 100n;

/** What a request asks of the lease: exactly `min` (= `max`), or as much as it can get between the two. */
export interface Ask {
  min: bigint;
  max: bigint;
}

/** A hold, or a refusal saying what the account had available. */
export type Admission = { hold: Hold } | { hold: null; availableMicro: bigint };

interface Waiter {
  ask: Ask;
  resolve: (admission: Admission) => void;
  reject: (error: unknown) => void;
}

/** This instance's lease on one account, and the requests admitted against it. */
interface AccountLease {
  accountId: string;
  leaseId: string | null;
  /** What this instance's lease row holds, as far as this instance knows (never more than the row). */
  granted: bigint;
  /** Holds of requests admitted and not yet settled. */
  inUse: bigint;
  waiting: Waiter[];
  growing: boolean;
  lastUsed: number;
  /** Holds admitted in the current second: the surplus asked for when busy covers about a second of them. */
  second: { start: number; sum: bigint; count: number };
}

/**
 * Admission for accounts that cannot go past their balance (the Free plan): requests are admitted against a lease
 * this instance holds on the account's credit, in memory, with no database round trip while the lease covers
 * them. A lease grows in one statement for all requests waiting on it (never one row lock per request), is given
 * back when idle or at shutdown, and expires if this instance dies. The sum of leases never exceeds what the
 * account has, so the last credits are never overspent, on one instance or ten.
 */
@Injectable()
export class LeaseBook implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LeaseBook.name);
  private readonly accounts = new Map<string, AccountLease>();
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private keeping = false;

  private readonly instanceId: string;
  /** A lease lives this long without renewal (`LEASE_TTL_MS`): an instance that dies gives its credit back then. */
  private readonly ttl: number;

  constructor(
    private readonly leases: LeasesRepository,
    private readonly clock: Clock,
    instance: Instance,
    @Inject(CONFIG) config: Config,
  ) {
    this.instanceId = instance.id;
    this.ttl = config.recovery.leaseTtlMs;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.keep(), KEEPER_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.giveBackAll();
  }

  /**
   * Admits a hold against the account's lease (growing it when needed): `ask.max` when the account has it, else as
   * much as it has down to `ask.min`; or a refusal when it has less than `ask.min` available.
   */
  admit(accountId: string, ask: Ask): Promise<Admission> {
    const lease = this.lease(accountId);
    const now = this.clock.now();
    lease.lastUsed = now;
    if (now - lease.second.start >= 1000) {
      lease.second = { start: now, sum: 0n, count: 0 };
    }
    lease.second.sum += ask.max;
    lease.second.count += 1;
    if (!lease.growing && lease.waiting.length === 0 && lease.granted - lease.inUse >= ask.max) {
      lease.inUse += ask.max;
      return Promise.resolve({ hold: { accountId, leaseId: lease.leaseId, amountMicro: ask.max } });
    }
    return new Promise<Admission>((resolve, reject) => {
      lease.waiting.push({ ask, resolve, reject });
      if (!lease.growing) {
        void this.grow(lease);
      }
    });
  }

  /** A settled request's hold left the lease (what it cost went to the ledger, the rest back to the account). */
  settled(hold: Hold): void {
    const lease = this.accounts.get(hold.accountId);
    if (!lease) {
      return;
    }
    lease.inUse -= hold.amountMicro;
    if (hold.leaseId !== null && hold.leaseId === lease.leaseId) {
      lease.granted -= hold.amountMicro;
    }
  }

  /** Credit of the account's lease that no request in flight holds. */
  free(accountId: string): bigint {
    const lease = this.accounts.get(accountId);
    return lease ? lease.granted - lease.inUse : 0n;
  }

  private lease(accountId: string): AccountLease {
    let lease = this.accounts.get(accountId);
    if (!lease) {
      lease = {
        accountId,
        leaseId: null,
        granted: 0n,
        inUse: 0n,
        waiting: [],
        growing: false,
        lastUsed: this.clock.now(),
        second: { start: this.clock.now(), sum: 0n, count: 0 },
      };
      this.accounts.set(accountId, lease);
    }
    return lease;
  }

  /**
   * Grows the lease for every waiting request in one transaction, then admits or refuses each of them. When the
   * account has plenty, a busy lease also takes about a second of holds ahead (admitted in memory later); near
   * the end of a balance it takes exactly what the requests it admits need, in arrival order, and no more.
   */
  private async grow(lease: AccountLease): Promise<void> {
    lease.growing = true;
    try {
      while (lease.waiting.length > 0) {
        const batch = lease.waiting;
        lease.waiting = [];
        const free = lease.granted - lease.inUse;
        const demand = batch.reduce((sum, w) => sum + w.ask.max, 0n);
        const surplus = lease.second.count >= 20 ? lease.second.sum : 0n;
        let grant: Grant;
        try {
          grant = await this.leases.grant(
            lease.accountId,
            this.instanceId,
            (available) => {
              const ahead = demand - free + surplus;
              if (available >= ahead * RICH_FACTOR) {
                return ahead;
              }
              let room = free + available;
              let needed = 0n;
              for (const { ask } of batch) {
                const take = ask.max < room ? ask.max : room;
                if (take >= ask.min) {
                  room -= take;
                  needed += take;
                }
              }
              return needed - free;
            },
            new Date(this.clock.now() + this.ttl),
          );
        } catch (error) {
          // The database is out of reach: these requests cannot be admitted (the caller answers 503).
          batch.forEach((waiter) => waiter.reject(error));
          continue;
        }
        if (grant.leaseId !== null) {
          if (grant.leaseId !== lease.leaseId) {
            // A new lease row: the old one expired and its credit went back to the account. Holds still out on it
            // keep counting in `inUse` until they settle, so this instance admits less, never more.
            lease.leaseId = grant.leaseId;
            lease.granted = 0n;
          }
          lease.granted += grant.grantedMicro;
        }
        // What the account has beyond this lease, after this grant: told to a request it cannot admit.
        const elsewhere = grant.availableMicro - grant.grantedMicro;
        for (const { ask, resolve } of batch) {
          const room = lease.granted - lease.inUse;
          const take = ask.max < room ? ask.max : room;
          if (take >= ask.min) {
            lease.inUse += take;
            resolve({ hold: { accountId: lease.accountId, leaseId: lease.leaseId, amountMicro: take } });
          } else {
            resolve({ hold: null, availableMicro: (room > 0n ? room : 0n) + elsewhere });
          }
        }
      }
    } finally {
      lease.growing = false;
    }
  }

  /** Renews leases, gives idle ones back, and reclaims expired leases of any instance (every second). */
  async keep(): Promise<void> {
    if (this.keeping) {
      return;
    }
    this.keeping = true;
    const now = this.clock.now();
    try {
      if (now - this.lastRenew >= this.ttl / 4) {
        this.lastRenew = now;
        const alive = await this.leases.renew(this.instanceId, new Date(now + this.ttl));
        for (const lease of this.accounts.values()) {
          if (lease.leaseId !== null && !alive.has(lease.leaseId) && !lease.growing) {
            lease.leaseId = null; // expired and reclaimed: holds still out are settled without it
            lease.granted = 0n;
          }
        }
        await this.leases.reclaimExpired(new Date(now));
      }
      for (const lease of [...this.accounts.values()]) {
        if (now - lease.lastUsed >= IDLE_MS && !lease.growing && lease.waiting.length === 0) {
          await this.giveBack(lease);
        }
      }
    } catch (error) {
      this.logger.warn(`credit leases: ${(error as Error).message}`);
    } finally {
      this.keeping = false;
    }
  }

  /**
   * Gives back what no request in flight needs: the whole lease when none is. Requests arriving meanwhile wait
   * (the lease is `growing`), then grow it again.
   */
  private async giveBack(lease: AccountLease): Promise<void> {
    lease.growing = true;
    try {
      if (lease.leaseId !== null && lease.inUse === 0n) {
        await this.leases.giveBack(lease.leaseId, null);
        lease.leaseId = null;
        lease.granted = 0n;
      } else if (lease.leaseId !== null && lease.granted > lease.inUse) {
        lease.granted -= await this.leases.giveBack(lease.leaseId, lease.granted - lease.inUse);
      }
    } catch (error) {
      this.logger.warn(`could not give back a credit lease: ${(error as Error).message}`);
    } finally {
      lease.growing = false;
    }
    if (lease.waiting.length > 0) {
      void this.grow(lease);
    } else if (lease.leaseId === null && lease.inUse === 0n) {
      this.accounts.delete(lease.accountId);
    }
  }

  private async giveBackAll(): Promise<void> {
    for (const lease of [...this.accounts.values()]) {
      await this.giveBack(lease);
    }
  }
}
