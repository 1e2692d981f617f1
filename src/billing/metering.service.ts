import { Inject, Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { worstCaseMicro } from '../catalog/pricing.js';
import type { AuthContext } from '../keys/auth-context.js';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';
import { KeysService } from '../keys/keys.service.js';
import { billableUsage, needsPromptEstimate, usageRecord } from './billable.js';
import { BillingRepository } from './billing.repository.js';
import { capOf, KeyBudget, type KeyHold } from './key-budget.js';
import { LeaseBook, type Admission } from './lease-book.js';
import type { Demand, Hold, Reservation, SettleFacts, Settlement } from './metering.types.js';
import { formatCredits } from '../catalog/credits.js';
import type { InflightEntry } from './journal.js';
import { InflightRegistry } from './reconciler.js';
import { SettlementBatcher, type Landing } from './settlement.batcher.js';
import { MetricsService } from '../ops/metrics.service.js';

/** A hold this many times smaller than the lease's free credit is sized on the prompt's cheap upper bound. */
const TIGHT_FACTOR = 1000n;
/** A request that set no output limit is refused only when the balance cannot pay for this many tokens. */
const MIN_OUTPUT_TOKENS = 1_024;

/**
 * Admission and settlement. Before a live request on the Free plan reaches a provider its worst-case cost is held
 * against this instance's lease on the account (paid plans are never refused: what goes past the allocation is
 * overage, so they hold nothing). When the request ends (completed, aborted, cut, failed over) what is billable
 * is priced and written with its usage event in a settlement batch; the hold goes back to the account. Test keys
 * hold nothing and are recorded with cost 0.
 */
@Injectable()
export class MeteringService {
  private readonly logger = new Logger(MeteringService.name);

  constructor(
    private readonly billing: BillingRepository,
    private readonly leases: LeaseBook,
    private readonly batcher: SettlementBatcher,
    private readonly inflight: InflightRegistry,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
    @Inject(CONFIG) private readonly config: Config,
    private readonly keys: KeysService,
    private readonly keyBudget: KeyBudget,
  ) {}

  /**
   * Holds the request's worst-case cost (Free plan), or refuses it with 402 when the balance cannot cover it. A
   * request that set no output limit gets the largest one the balance and the model allow, held exactly; it is
   * refused only when even `MIN_OUTPUT_TOKENS` are not affordable. Paid plans hold nothing (overage).
   */
  async reserve(auth: AuthContext, demand: Demand, requestId: string): Promise<Reservation> {
    if (auth.key?.kind === 'test') {
      return { hold: null };
    }
    if (auth.pastDueSince != null) {
      this.refuseOverdue(auth.pastDueSince);
    }
    const limitedKey = auth.key?.creditLimited === true ? auth.key : null;
    if (auth.plan !== 'free' && !limitedKey) {
      return { hold: null };
    }
    const flexible = demand.maxOutputTokens === null;
    const most = demand.maxOutputTokens ?? demand.modelMaxOutputTokens;
    const least = flexible ? Math.min(MIN_OUTPUT_TOKENS, most) : most;
    let prompt = demand.prompt.upper;
    if (
      limitedKey ||
      this.worstCase(demand, prompt, most) * TIGHT_FACTOR > this.leases.free(auth.accountId)
    ) {
      // Near the end of a balance (or against a key's limit, held in the database) the bound may refuse what
      // fits: size the hold on the tokenizer's count.
      prompt = await demand.prompt.count();
    }
    const ask = { min: this.worstCase(demand, prompt, least), max: this.worstCase(demand, prompt, most) };
    let keyHold: KeyHold | null = null;
    if (limitedKey) {
      const admitted = await this.keyBudget.admit(limitedKey.id, requestId, ask);
      if (!admitted.hold) {
        throw new GatewayError(
          ErrorCode.KeyCreditLimit,
          `This API key (${limitedKey.publicId}) has reached its credit limit of ` +
            `${formatCredits(admitted.limitMicro)} credits for this billing period: this request needs ` +
            `${flexible ? 'at least' : 'up to'} ${formatCredits(ask.min)} credits and the key has ` +
            `${formatCredits(admitted.leftMicro)} left (requests in flight count with their hold). ` +
            "Raise or clear the key's credit_limit, use another key, or wait for the billing date.",
          { headers: { 'x-should-retry': 'false' } },
        );
      }
      if (admitted.hold.amountMicro > 0n) {
        keyHold = admitted.hold;
      }
    }
    let hold: Hold | null = null;
    if (auth.plan === 'free') {
      const accountAsk =
        keyHold && keyHold.amountMicro < ask.max ? { ...ask, max: keyHold.amountMicro } : ask;
      let admission: Admission;
      try {
        admission = await this.leases.admit(auth.accountId, accountAsk);
      } catch (error) {
        await this.releaseKeyHold(keyHold);
        throw error;
      }
      if (!admission.hold) {
        await this.releaseKeyHold(keyHold);
        const model = demand.models[0].id;
        throw new GatewayError(
          ErrorCode.InsufficientQuota,
          `You don't have enough credits for this request: it needs ${flexible ? 'at least' : 'up to'} ` +
            `${formatCredits(ask.min)} credits ` +
            `(${prompt} prompt tokens and ${least * demand.choices} completion tokens at ${model}'s price) and ` +
            `your balance has ${formatCredits(admission.availableMicro)} available. ` +
            (flexible ? '' : 'Lower max_tokens, ') +
            'upgrade your plan, or wait for your next billing period.',
          { headers: { 'x-should-retry': 'false' } },
        );
      }
      hold = admission.hold;
    }
    const held = capOf(hold, keyHold);
    if (!flexible || held === null || held >= ask.max) {
      return { hold, keyHold };
    }
    return { hold, keyHold, maxOutputTokens: this.outputWithin(demand, prompt, held, least, most) };
  }

  /** Gives a key hold back when its request ends without a settlement (a no-op once it was settled). */
  async releaseKeyHold(keyHold: KeyHold | null): Promise<void> {
    if (keyHold) {
      await this.keyBudget.release(keyHold).catch((error: Error) =>
        // It expires with the instance's renewals stopped for it: the key gets it back within the lease TTL.
        this.logger.warn(
          { requestId: keyHold.requestId, err: error.message },
          'could not release a key hold',
        ),
      );
    }
  }

  /** A subscription unpaid for longer than the grace period: live calls stop until the payment method works. */
  private refuseOverdue(pastDueSince: number): void {
    const graceMs = this.config.billing.paymentGraceDays * 86_400_000;
    if (this.clock.now() - pastDueSince < graceMs) {
      return;
    }
    throw new GatewayError(
      ErrorCode.PaymentOverdue,
      `Your subscription's payment has failed for more than ${this.config.billing.paymentGraceDays} days. ` +
        'Update your payment method in the billing portal (POST /v1/billing/portal) to continue.',
      { headers: { 'x-should-retry': 'false' } },
    );
  }

  /** The largest output per choice whose worst case fits in `amount` (between `least` and `most`). */
  private outputWithin(demand: Demand, prompt: number, amount: bigint, least: number, most: number): number {
    let low = least;
    let high = most;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (this.worstCase(demand, prompt, mid) <= amount) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    return low;
  }

  /** Keeps the request in the in-flight journal until it is settled (call the returned function then). */
  follow(requestId: string, entry: () => InflightEntry): () => void {
    return this.inflight.track(requestId, entry);
  }

  /**
   * Bills a request once: its usage event and ledger entry (live keys), and the return of its hold, written in
   * the next settlement batch; resolves once that batch has committed. Idempotent by request id. On the Free plan
   * a request is charged at most its hold: what a provider counts beyond it is written off (an `adjustment`).
   */
  async settle(hold: Hold | null, facts: SettleFacts, keyHold: KeyHold | null = null): Promise<Settlement> {
    const billable = billableUsage(facts, needsPromptEstimate(facts) ? await facts.prompt.count() : 0);
    const endedAt = this.clock.date();
    const record = usageRecord(facts, billable, endedAt);
    // A request is charged at most what it held: of the account (Free plan) and of its key's limit.
    const cap = capOf(hold, keyHold);
    const charge = cap !== null && record.costMicro > cap ? cap : record.costMicro;
    let landing: Landing;
    try {
      landing = await this.batcher.submit({
        record,
        endedAt,
        chargeMicro: facts.test ? 0n : charge,
        leaseId: hold?.leaseId ?? null,
        releaseMicro: hold?.amountMicro ?? 0n,
      });
    } catch (error) {
      this.logger.error(
        { requestId: facts.requestId, err: (error as Error).message },
        'could not record usage; the hold stays with the lease until it expires',
      );
      throw error;
    }
    if (hold) {
      this.leases.settled(hold);
    }
    if (keyHold) {
      this.keyBudget.settled(keyHold);
    }
    if (!facts.test && facts.served) {
      // Labels from the catalog entry that served it, never from the request: a bounded set of series.
      this.metrics.settled(
        facts.served.modelId,
        facts.served.deployment.provider,
        { prompt: record.promptTokens, completion: record.completionTokens },
        charge,
      );
    }
    // What the client is told it cost is what it was charged (a Free request never more than its hold).
    return { ...billable, costMicro: facts.test ? 0n : charge, remainingMicro: landing.balanceMicro };
  }

  @Interval('billing-periods', 60_000)
  async resetPeriods(now = this.clock.date()): Promise<number> {
    const { count, planChanged } = await this.billing.resetDuePeriods(now);
    for (const accountId of planChanged) {
      await this.keys.accountChanged(accountId); // keys cache the plan: a paid plan that ended must hold again
    }
    if (count > 0) {
      this.logger.log(`started a new billing period for ${count} accounts`);
    }
    return count;
  }

  /** The dearest model that may serve it (a failover to a pricier fallback still fits in the hold), every choice to `output`. */
  private worstCase(demand: Demand, promptTokens: number, output: number): bigint {
    const now = this.clock.date();
    return demand.models.reduce((max, m) => {
      const cost = worstCaseMicro(m, promptTokens, Math.min(output, m.maxOutputTokens) * demand.choices, now);
      return cost > max ? cost : max;
    }, 0n);
  }
}
