/**
 * A rate-limit window as the 429 message states it: "minute" for the default 60 s, "30 seconds", "2 minutes",
 * "1500 ms" — the configured `RATE_LIMIT_WINDOW_MS`, never a "per minute" that is not true.
 */
export function describeWindow(ms: number): string {
  if (ms % 60_000 === 0) {
    return ms === 60_000 ? 'minute' : `${ms / 60_000} minutes`;
  }
  if (ms % 1000 === 0) {
    return ms === 1000 ? 'second' : `${ms / 1000} seconds`;
  }
  return `${ms} ms`;
}
