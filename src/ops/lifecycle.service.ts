import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG, type Config } from '../config/config.js';

interface Work {
  /** Ends the work early: a stream gets an error frame, and what was delivered is settled. */
  stop: () => void;
  done: Promise<void>;
}

/**
 * The instance's life after a stop signal. `drain()`: readiness answers 503 at once and new requests are refused
 * (503, `retry-after`), requests in flight run to their end for up to `SHUTDOWN_GRACE_MS`; past it the ones left
 * are stopped (a stream ends with an error frame) and settled. Only then are the pools closed: every request that
 * reached a provider is billed before the process exits.
 */
@Injectable()
export class Lifecycle {
  private readonly logger = new Logger(Lifecycle.name);
  private readonly work = new Set<Work>();
  private stopping = false;

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  get draining(): boolean {
    return this.stopping;
  }

  get inFlight(): number {
    return this.work.size;
  }

  /** Follows a request until `done` settles; `stop` ends it early when the grace runs out. */
  follow(stop: () => void, done: Promise<unknown>): void {
    const work: Work = {
      stop,
      done: done.then(
        () => undefined,
        () => undefined,
      ),
    };
    this.work.add(work);
    void work.done.then(() => this.work.delete(work));
  }

  /** Waits for the requests in flight (up to the grace), stops what is left, and waits for it to settle. */
  async drain(): Promise<void> {
    this.stopping = true;
    const pending = [...this.work];
    if (pending.length === 0) {
      return;
    }
    this.logger.log(
      `draining: ${pending.length} requests in flight, up to ${this.config.shutdownGraceMs} ms`,
    );
    const all = Promise.all(pending.map((w) => w.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'grace'>((resolve) => {
      timer = setTimeout(() => resolve('grace'), this.config.shutdownGraceMs);
    });
    const outcome = await Promise.race([all.then(() => 'done' as const), grace]);
    clearTimeout(timer);
    if (outcome === 'grace') {
      const left = [...this.work];
      this.logger.warn(
        `grace over: stopping ${left.length} requests still in flight (their delivery is billed)`,
      );
      left.forEach((w) => w.stop());
      await Promise.all(left.map((w) => w.done));
    }
  }
}
