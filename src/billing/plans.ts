import type { Plan } from '../accounts/account.entity.js';
import { MICRO_PER_CREDIT } from '../catalog/credits.js';

export interface PlanTerms {
  /** Credits included per billing period (they reset on the billing date; no rollover). */
  includedCredits: bigint;
  /** Monthly price in US cents. */
  priceCents: number;
  /** Price of one credit past the allocation, in US cents × 1000 (milli-cents); null = no overage (402). */
  overageMilliCentsPerCredit: number | null;
}

/** The plans of the product FAQ. */
export const PLANS: Record<Plan, PlanTerms> = {
  free: { includedCredits: 500n, priceCents: 0, overageMilliCentsPerCredit: null },
  power: { includedCredits: 10_000n, priceCents: 2499, overageMilliCentsPerCredit: 300 },
  pro: { includedCredits: 30_000n, priceCents: 4999, overageMilliCentsPerCredit: 200 },
};

export function includedMicro(plan: Plan): bigint {
  return PLANS[plan].includedCredits * MICRO_PER_CREDIT;
}
