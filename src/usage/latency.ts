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
  return bucket === 0 ? 1 : Math.ceil(2 ** (bucket / 3));
}

/** The `q` percentile (0 < q ≤ 1) of the histogram, in ms; null when it counts nothing. */
export function percentileMs(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) {
    return null;
  }
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let bucket = 0; bucket < histogram.length; bucket++) {
    seen += histogram[bucket];
    if (seen >= rank) {
      return bucketUpperMs(bucket);
    }
  }
  return bucketUpperMs(histogram.length - 1);
}
