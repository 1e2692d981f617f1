import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.js';
import type { BreakerState } from './health.types.js';

const options = { failureThreshold: 3, windowMs: 1_000, cooldownMs: 500 };

function breaker(): { b: CircuitBreaker; changes: BreakerState[] } {
  const changes: BreakerState[] = [];
  return { b: new CircuitBreaker(options, (s) => changes.push(s)), changes };
}

describe('CircuitBreaker', () => {
  it('opens at once on the Nth failure in a row within the window', () => {
    const { b, changes } = breaker();
    b.failure(0);
    b.failure(100);
    expect(b.permit(150)).toBe(true);
    b.failure(200);
    expect(b.state(200)).toBe('open');
    expect(b.permit(300)).toBe(false);
    expect(changes).toEqual(['open']);
  });

  it('does not open on failures spread beyond the window, nor across a success', () => {
    const { b } = breaker();
    b.failure(0);
    b.failure(100);
    b.failure(1_200); // the first two are out of the window
    expect(b.state(1_200)).toBe('closed');
    b.failure(1_300);
    b.success(1_350);
    b.failure(1_400);
    expect(b.state(1_400)).toBe('closed');
  });

  it('after the cool-down lets exactly one trial through; its success closes the circuit', () => {
    const { b, changes } = breaker();
    [0, 1, 2].forEach((t) => b.failure(t));
    expect(b.state(600)).toBe('half_open');
    expect(b.permit(600)).toBe(true);
    expect(b.permit(601)).toBe(false);
    expect(b.wouldPermit(700)).toBe(false);
    b.success(800);
    expect(b.state(800)).toBe('closed');
    expect(b.permit(801)).toBe(true);
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('re-opens for another cool-down when the trial fails', () => {
    const { b, changes } = breaker();
    [0, 1, 2].forEach((t) => b.failure(t));
    expect(b.permit(600)).toBe(true);
    b.failure(650);
    expect(b.state(700)).toBe('open');
    expect(b.permit(1_100)).toBe(false);
    expect(b.permit(1_150)).toBe(true);
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open']);
  });

  it('hands the trial to another caller when the first never reports back', () => {
    const { b } = breaker();
    [0, 1, 2].forEach((t) => b.failure(t));
    expect(b.permit(600)).toBe(true);
    expect(b.permit(900)).toBe(false);
    expect(b.permit(1_100)).toBe(true);
  });

  it('wouldPermit has no side effect', () => {
    const { b } = breaker();
    [0, 1, 2].forEach((t) => b.failure(t));
    expect(b.wouldPermit(600)).toBe(true);
    expect(b.wouldPermit(600)).toBe(true);
    expect(b.permit(600)).toBe(true);
    expect(b.wouldPermit(600)).toBe(false);
  });
});

describe('circuit breaker told by another instance', () => {
  it('trip opens it for a cool-down, reset closes it', () => {
    const changes: string[] = [];
    const breaker = new CircuitBreaker({ failureThreshold: 3, windowMs: 1_000, cooldownMs: 500 }, (s) =>
      changes.push(s),
    );
    breaker.trip(100);
    expect(breaker.state(599)).toBe('open');
    expect(breaker.state(600)).toBe('half_open');
    breaker.reset();
    expect(breaker.state(601)).toBe('closed');
    expect(changes).toEqual(['open', 'closed']);
  });
});
