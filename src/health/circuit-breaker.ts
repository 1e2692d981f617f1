import type { BreakerState } from './health.types.js';

export interface BreakerOptions {
  /** Failures in a row, all within `windowMs`, that open the circuit. */
  failureThreshold: number;
  windowMs: number;
  /** How long the circuit stays open before one trial call may go through. */
  cooldownMs: number;
}

/**
 * A circuit breaker over live traffic. Closed: calls go through; `failureThreshold` failures in a row within
 * the window open it at once. Open: calls are refused until the cool-down has passed; then it is half-open and
 * exactly one caller gets a trial: its success closes the circuit, its failure re-opens it for another
 * cool-down. A trial whose outcome never comes back (the caller was served by another candidate first) is
 * given up after a cool-down, and the next caller gets the trial.
 *
 * Pure and synchronous: time is passed in, state changes are reported to `onChange`.
 */
export class CircuitBreaker {
  private failures: number[] = [];
  private open = false;
  private openedAt = 0;
  /** When the current half-open trial was handed out, or null when none is out. */
  private trialAt: number | null = null;
  private reported: BreakerState = 'closed';

  constructor(
    private readonly options: BreakerOptions,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {}

  /** The state at `now`, without side effects. */
  state(now: number): BreakerState {
    if (!this.open) {
      return 'closed';
    }
    return now - this.openedAt < this.options.cooldownMs ? 'open' : 'half_open';
  }

  /** Whether `permit(now)` would let a call through. */
  wouldPermit(now: number): boolean {
    switch (this.state(now)) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half_open':
        return this.trialAt === null || now - this.trialAt >= this.options.cooldownMs;
    }
  }

  /** Lets a call through or not; in the half-open state this hands out the one trial. */
  permit(now: number): boolean {
    if (!this.wouldPermit(now)) {
      return false;
    }
    if (this.state(now) === 'half_open') {
      this.trialAt = now;
      this.report('half_open');
    }
    return true;
  }

  /** True while a half-open trial is out (the call that has it should be treated with care). */
  inTrial(now: number): boolean {
    return this.state(now) === 'half_open' && this.trialAt !== null;
  }

  success(_now: number): void {
    this.failures = [];
    if (this.open && this.trialAt !== null) {
      this.open = false;
      this.trialAt = null;
      this.report('closed');
    }
  }

  failure(now: number): void {
    if (this.open) {
      if (this.trialAt !== null) {
        // the trial failed: shut for another cool-down
        this.openedAt = now;
        this.trialAt = null;
        this.report('open');
      }
      return;
    }
    this.failures = this.failures.filter((at) => now - at < this.options.windowMs);
    this.failures.push(now);
    if (this.failures.length >= this.options.failureThreshold) {
      this.open = true;
      this.openedAt = now;
      this.trialAt = null;
      this.failures = [];
      this.report('open');
    }
  }

  /** Opens the circuit at `now` (another instance's breaker opened, or its trial failed). */
  trip(now: number): void {
    this.open = true;
    this.openedAt = now;
    this.trialAt = null;
    this.failures = [];
    this.report('open');
  }

  /** Closes the circuit (another instance's trial succeeded). */
  reset(): void {
    this.open = false;
    this.trialAt = null;
    this.failures = [];
    this.report('closed');
  }

  private report(state: BreakerState): void {
    if (state !== this.reported) {
      this.reported = state;
      this.onChange(state);
    }
  }
}
