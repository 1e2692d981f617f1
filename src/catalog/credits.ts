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
