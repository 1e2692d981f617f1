import type { Deployment } from '../common/deployment.js';

/**
 * Prices are integers in micro-credits (1 credit = $0.01 = 1,000,000 µcr) per MILLION tokens: per-token
 * prices of cheap models are fractions of a µcr ($0.075/M = 7.5 µcr per token), so the catalog keeps them per
 * million and a request's cost is rounded up once, on its total.
 */
export interface PriceVersion {
  /** ISO date (UTC midnight) from which this price applies. */
  effectiveFrom: string;
  inputPerM: bigint;
  cachedInputPerM: bigint;
  outputPerM: bigint;
  /** A higher price for the whole request when its prompt exceeds `thresholdTokens` (long-context tiers). */
  longContext?: { thresholdTokens: number; inputPerM: bigint; cachedInputPerM: bigint; outputPerM: bigint };
}

export interface CatalogDeployment extends Deployment {
  /** What this deployment costs the customer, newest last. */
  prices: PriceVersion[];
}

export interface Capabilities {
  tools: boolean;
  images: boolean;
  jsonSchema: boolean;
}

export interface CatalogModel {
  /** The gateway model id clients send (e.g. `gpt-6.2-sol`). */
  id: string;
  ownedBy: string;
  /** Unix seconds. */
  created: number;
  /** The largest context window among its deployments (each deployment also has its own). */
  contextWindow: number;
  maxOutputTokens: number;
  /** Deployments in preference order. */
  deployments: CatalogDeployment[];
  /** The gateway model to try when all deployments fail, or null. */
  fallback: string | null;
  capabilities: Capabilities;
}

/** The price of a deployment at an instant. */
export interface ResolvedPrice extends PriceVersion {
  /** `<model>@<provider>@<effectiveFrom>`: recorded with each usage event. */
  version: string;
}

export interface CostInput {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}
