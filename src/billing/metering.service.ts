import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { worstCaseMicro } from '../catalog/pricing.js';
import type { AuthContext } from '../keys/auth-context.js';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { BillingRepository } from './billing.repository.js';
import { billableUsage, usageRecord } from './billable.js';
import type { Demand, Hold, SettleFacts, Settlement } from './metering.types.js';
import { formatCredits } from '../catalog/credits.js';
import { includedMicro } from './plans.js';

/**
 * Holds older than this belong to a crashed instance. The longest answer (128K tokens at a slow 20 tokens/s) takes
 * under two hours, so a live stream's hold is never swept.
 */
const HOLD_TIMEOUT_MS = 3 * 60 * 60 * 1000;

/**
 * Admission and settlement. Before a live request reaches a provider its worst-case cost is held; when it ends
 * (completed, aborted, cut, failed over) what is billable is priced and written with its usage event in one
 * transaction and the hold is released. Test keys hold nothing and are recorded with cost 0.
 */
@Injectable()
export class MeteringService {
  private readonly logger = new Logger(MeteringService.name);

  constructor(
    private readonly billing: BillingRepository,
    private readonly clock: Clock,
  ) {}

  /** Holds the request's worst-case cost (live keys), or refuses it with 402 when the Free plan cannot cover it. */
  async reserve(auth: AuthContext, requestId: string, demand: Demand): Promise<Hold | null> {
    if (auth.key?.kind === 'test') {
      return null;
    }
    // The dearest model that may serve it: a failover to a pricier fallback still fits in the hold.
    const now = new Date();
    const output = demand.maxOutputTokens * demand.choices;
    const amount = demand.models.reduce((max, m) => {
      const cost = worstCaseMicro(
        m,
        demand.promptTokens,
        Math.min(output, m.maxOutputTokens * demand.choices),
        now,
      );
      return cost > max ? cost : max;
    }, 0n);
    const hold = await this.billing.hold(auth.accountId, requestId, amount, auth.plan !== 'free');
    if (!hold) {
      throw new GatewayError(
        ErrorCode.InsufficientQuota,
        `You don't have enough credits for this request: it may cost up to ${formatCredits(amount)} credits ` +
          `(the prompt plus ${output} completion tokens at ${demand.models[0].id}'s price). Lower max_tokens, ` +
          'upgrade your plan, or wait for your next billing period.',
        { headers: { 'x-should-retry': 'false' } },
      );
    }
    return hold;
  }

  /**
   * Bills a request once: its usage event, its ledger entry (live keys) and the release of its hold, in one
   * transaction, retried once on a database blip. Idempotent by request id.
   */
  async settle(hold: Hold | null, facts: SettleFacts): Promise<Settlement> {
    const billable = billableUsage(facts);
    const record = usageRecord(facts, billable, new Date());
    let balance: bigint;
    try {
      balance = await this.billing.settle(hold, record).catch(() => this.billing.settle(hold, record));
    } catch (error) {
      this.logger.error(
        { requestId: facts.requestId, err: (error as Error).message },
        'could not record usage; the hold stays until the sweeper releases it',
      );
      throw error;
    }
    return {
      ...billable,
      costMicro: record.costMicro,
      remainingMicro: facts.test ? null : balance,
    };
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
