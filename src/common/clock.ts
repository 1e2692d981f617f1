/**
 * Time as the application sees it. Services that decide by time (breakers, probes, key expiry, billing periods,
 * leases, the hold sweeper) read it from here, never from `Date.now()`, so tests move time instead of sleeping.
 * The class is its own injection token: `constructor(private readonly clock: Clock)`.
 */
export abstract class Clock {
  /** Milliseconds since the epoch. */
  abstract now(): number;

  date(): Date {
    return new Date(this.now());
  }
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock that only moves when told to: for tests. */
export class ManualClock extends Clock {
  constructor(private current: number = Date.now()) {
    super();
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(ms: number | Date): void {
    this.current = typeof ms === 'number' ? ms : ms.getTime();
  }
}
