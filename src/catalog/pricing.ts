import type { CatalogDeployment, CatalogModel, CostInput, ResolvedPrice } from './catalog.types.js';

/** Prices are per million tokens. */
const PER_MILLION = 1_000_000n;

function startOf(effectiveFrom: string): number {
  return Date.parse(`${effectiveFrom}T00:00:00Z`);
}

/**
 * The price of a deployment at an instant: the latest version whose `effectiveFrom` (UTC midnight) is at or
 * before `at`. Throws when no version applies yet (a catalog error: launch prices start on 2026-01-01).
 */
export function priceAt(deployment: CatalogDeployment, modelId: string, at: Date): ResolvedPrice {
  const time = at.getTime();
  if (Number.isNaN(time)) {
    throw new RangeError('priceAt: invalid date');
  }
  let found: CatalogDeployment['prices'][number] | undefined;
  for (const version of deployment.prices) {
    if (startOf(version.effectiveFrom) <= time && (!found || version.effectiveFrom > found.effectiveFrom)) {
      found = version;
    }
  }
  if (!found) {
    throw new Error(
      `No price for model ${modelId} on ${deployment.provider} at ${at.toISOString()} (first price from ${deployment.prices[0]?.effectiveFrom ?? 'never'}).`,
    );
  }
  return { ...found, version: `${modelId}@${deployment.provider}@${found.effectiveFrom}` };
}

function tokens(name: string, value: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`costMicro: ${name} must be a non-negative integer, got ${value}`);
  }
  return BigInt(value);
}

/**
 * The cost of a request in µcr, rounded up once on the total:
 * ceil((uncached prompt × input + cached × cached_input + completion × output) / 1,000,000).
 * When the prompt exceeds the long-context threshold, the whole request is billed at the long-context prices.
 * `promptTokens` includes `cachedTokens` (OpenAI usage semantics).
 */
export function costMicro(price: ResolvedPrice, usage: CostInput): bigint {
  const prompt = tokens('promptTokens', usage.promptTokens);
  const cached = tokens('cachedTokens', usage.cachedTokens);
  const completion = tokens('completionTokens', usage.completionTokens);
  if (cached > prompt) {
    throw new RangeError(
      `costMicro: cachedTokens (${usage.cachedTokens}) exceeds promptTokens (${usage.promptTokens})`,
    );
  }
  const long = price.longContext;
  const rates = long && usage.promptTokens > long.thresholdTokens ? long : price;
  const total =
    (prompt - cached) * rates.inputPerM + cached * rates.cachedInputPerM + completion * rates.outputPerM;
  return (total + PER_MILLION - 1n) / PER_MILLION;
}

/**
 * The most a request to `model` can cost: `promptTokens` uncached plus `maxOutputTokens` of output, at the
 * dearest of the model's deployments at `at` (any of them may serve it). Used to size credit holds.
 */
export function worstCaseMicro(
  model: CatalogModel,
  promptTokens: number,
  maxOutputTokens: number,
  at: Date,
): bigint {
  let worst = 0n;
  for (const deployment of model.deployments) {
    const cost = costMicro(priceAt(deployment, model.id, at), {
      promptTokens,
      cachedTokens: 0,
      completionTokens: maxOutputTokens,
    });
    if (cost > worst) {
      worst = cost;
    }
  }
  return worst;
}
