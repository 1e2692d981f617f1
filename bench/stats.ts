/** Small statistics shared by the load generator and the report. */

/** Nearest-rank percentile of values sorted ascending (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** The value of each pass, in order. */
  values: number[];
}

/** Median with min and max over the passes (NaN values, from failed passes, are left out). */
export function summarize(values: readonly number[]): Summary | undefined {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) {
    return undefined;
  }
  const sorted = [...finite].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], values: [...values] };
}

/** `1,234.5` with `digits` decimals. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) {
    return 'n/a';
  }
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `median (min–max)`, or just the value for a single pass. */
export function cell(summary: Summary | undefined, digits = 0, unit = ''): string {
  if (!summary) {
    return 'n/a';
  }
  const median = `${num(summary.median, digits)}${unit}`;
  if (summary.values.length < 2 || summary.min === summary.max) {
    return median;
  }
  return `${median} (${num(summary.min, digits)}–${num(summary.max, digits)})`;
}
