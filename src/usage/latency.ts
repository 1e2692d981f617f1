/**
 * Reads the latency histograms of `usage_rollups` and `usage_rollups_daily` (see migration 1764120000000-usage-read):
 * one column per bucket, `l00`…`l63`; bucket 0 under 1 ms, bucket b for [2^((b-1)/3), 2^(b/3)) ms. A percentile is
 * the upper bound of the bucket it falls in, at most 26 % above the exact value (the price of answering from
 * rollups).
 */
export const LATENCY_BUCKETS = 64;

/** The rollup columns of the histogram, in bucket order. */
export const LATENCY_COLUMNS = Array.from(
  { length: LATENCY_BUCKETS },
  (_, b) => `l${String(b).padStart(2, '0')}`,
);

export function bucketUpperMs(bucket: number): number {
  return UPPER_MS[bucket];
}

/** Each bucket's upper bound, computed once (a read of 546 groups looks up two per group). */
const UPPER_MS = Array.from({ length: LATENCY_BUCKETS }, (_, b) => (b === 0 ? 1 : Math.ceil(2 ** (b / 3))));

/**
 * The `q` percentiles (0 < q ≤ 1, ascending) of a histogram given as its counts in bucket order, comma-separated
 * (`3,0,17,…`, as the grouped read returns it), in ms; null when it counts nothing. Read in place: a grouped read of
 * 90 days by day and model has 546 histograms, and splitting each into an array left the young heap enough to
 * copy that its collections showed in the read's p95.
 */
export function percentilesMs(histogram: string, qs: readonly number[]): Array<number | null> {
  let total = 0;
  let count = 0;
  for (let i = 0; i <= histogram.length; i++) {
    const c = i < histogram.length ? histogram.charCodeAt(i) : 44;
    if (c === 44) {
      total += count;
      count = 0;
    } else {
      count = count * 10 + (c - 48);
    }
  }
  if (total === 0) {
    return qs.map(() => null);
  }
  const answers: Array<number | null> = [];
  let bucket = 0;
  let seen = 0;
  count = 0;
  for (let i = 0; i <= histogram.length && answers.length < qs.length; i++) {
    const c = i < histogram.length ? histogram.charCodeAt(i) : 44;
    if (c !== 44) {
      count = count * 10 + (c - 48);
      continue;
    }
    seen += count;
    count = 0;
    while (answers.length < qs.length && seen >= Math.ceil(qs[answers.length] * total)) {
      answers.push(bucketUpperMs(bucket));
    }
    bucket++;
  }
  return answers;
}
