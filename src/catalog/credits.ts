/**
 * The unit prices and balances are counted in: 1 credit = $0.01 = 1,000,000 micro-credits (µcr), always a
 * `bigint` (catalog prices per million tokens, costs, holds, ledger amounts). It lives beside the catalog's
 * pricing because prices are its first users; billing builds its plans and balances on it.
 */
export const MICRO_PER_CREDIT = 1_000_000n;

/** µcr → credits as an exact decimal string ("12.345678"). */
export function formatCredits(micro: bigint): string {
  const negative = micro < 0n;
  const abs = negative ? -micro : micro;
  const whole = abs / MICRO_PER_CREDIT;
  const fraction = (abs % MICRO_PER_CREDIT).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/**
 * µcr given as Postgres writes a `bigint` ("12345678") → credits, exactly as `formatCredits`. Up to 15 digits the
 * arithmetic is done in doubles, exact below 2^53 (about 90 million dollars), without the `bigint` objects a usage
 * read of hundreds of groups would otherwise allocate; longer values go through `formatCredits`.
 */
export function formatMicroCredits(micro: string): string {
  const digits = micro.startsWith('-') ? micro.length - 1 : micro.length;
  if (digits > 15) {
    return formatCredits(BigInt(micro));
  }
  const value = Number(micro);
  const abs = Math.abs(value);
  const whole = Math.floor(abs / 1_000_000);
  const rest = abs - whole * 1_000_000;
  const sign = value < 0 ? '-' : '';
  if (rest === 0) {
    return `${sign}${whole}`;
  }
  return `${sign}${whole}.${String(rest).padStart(6, '0').replace(/0+$/, '')}`;
}
