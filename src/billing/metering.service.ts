import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import type { CatalogModel } from '../catalog/catalog.types.js';
import { worstCaseMicro } from '../catalog/pricing.js';
import type { AuthContext } from '../common/auth-context.js';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { BillingRepository } from './billing.repository.js';
import type { Hold, UsageRecord } from './metering.types.js';
import { formatCredits, includedMicro } from './plans.js';

/**
 * Holds older than this belong to a crashed instance. The longest answer (128K tokens at a slow 20 tokens/s) takes
 * under two hours, so a live stream's hold is never swept.
 */
const HOLD_TIMEOUT_MS = 3 * 60 * 60 * 1000;

/**
 * Admission and settlement. Before a live request reaches a provider its worst-case cost is held; when it ends
 * (completed, aborted, cut, failed over) the real cost is written with its usage event in one transaction and the
 * hold is released. Test keys hold nothing and are recorded with cost 0.
 */
@Injectable()
export class MeteringService {
  private readonly logger = new Logger(MeteringService.name);

  constructor(
    private readonly billing: BillingRepository,
    private readonly clock: Clock,
  ) {}

  async reserve(
    auth: AuthContext,
    requestId: string,
    chain: CatalogModel[],
    promptTokens: number,
    maxOutputTokens: number,
  ): Promise<Hold | null> {
    if (auth.key?.kind === 'test') {
      return null;
    }
    // The dearest model that may serve it: a failover to a pricier fallback still fits in the hold.
    const now = new Date();
    const amount = chain.reduce((max, m) => {
      const cost = worstCaseMicro(m, promptTokens, Math.min(maxOutputTokens, m.maxOutputTokens), now);
      return cost > max ? cost : max;
    }, 0n);
    const model = chain[0];
    const hold = await this.billing.hold(auth.accountId, requestId, amount, auth.plan !== 'free');
    if (!hold) {
      throw new GatewayError(
        ErrorCode.InsufficientQuota,
        `You don't have enough credits for this request: it may cost up to ${formatCredits(amount)} credits ` +
          `(the prompt plus ${maxOutputTokens} completion tokens at ${model.id}'s price). Lower max_tokens, ` +
          'upgrade your plan, or wait for your next billing period.',
        { headers: { 'x-should-retry': 'false' } },
      );
    }
    return hold;
  }

  /** Writes the usage event and its ledger entry and releases the hold, once. Returns the balance left (live keys). */
  async settle(hold: Hold | null, record: UsageRecord): Promise<{ remainingMicro: bigint | null }> {
    const balance = await this.billing.settle(hold, record);
    return { remainingMicro: record.test ? null : balance };
  }

  @Interval('billing-periods', 60_000)
  async resetPeriods(now = this.clock.date()): Promise<number> {
    const count = await this.billing.resetDuePeriods(includedMicro, now);
    if (count > 0) {
      this.logger.log(`started a new billing period for ${count} accounts`);
    }
    return count;
  }

  @Interval('hold-sweeper', 5 * 60_000)
  async sweepHolds(now = this.clock.date()): Promise<number> {
    const count = await this.billing.sweepHolds(new Date(now.getTime() - HOLD_TIMEOUT_MS));
    if (count > 0) {
      this.logger.warn(`released ${count} credit holds left by an instance that stopped mid-request`);
    }
    return count;
  }
}
