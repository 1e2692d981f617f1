import type { ProviderId } from '../common/provider-ids.js';

/** How the candidates of one model are ordered: by health (then price), by price, or by measured latency. */
export type RouteSort = 'health' | 'price' | 'latency';
export const ROUTE_SORTS: readonly RouteSort[] = ['health', 'price', 'latency'];

/**
 * What a request asks of routing (its `provider` object and `models` list), validated by the request schema.
 * `null` fields were not sent.
 */
export interface RoutePreferences {
  /** Providers to try first, in this order. */
  order: readonly ProviderId[] | null;
  /** The only providers allowed. */
  only: readonly ProviderId[] | null;
  /** Providers never used. */
  ignore: readonly ProviderId[] | null;
  /** False: nothing outside `order`/`only` is tried, and no catalog fallback model. */
  allowFallbacks: boolean;
  sort: RouteSort;
  /** A parameter a provider cannot take is a 400, never left out (as `x-conflux-strict-params: true`). */
  requireParameters: boolean;
  /** The request's own model list (`models`): the first is primary, the rest replace the catalog's fallbacks. */
  models: readonly string[] | null;
}

/** A request that says nothing about routing. */
export const DEFAULT_PREFERENCES: RoutePreferences = {
  order: null,
  only: null,
  ignore: null,
  allowFallbacks: true,
  sort: 'health',
  requireParameters: false,
  models: null,
};

/** Which `provider` field restricts the providers a request may use, for the 400 that names it. */
export type RestrictingParam = 'provider.only' | 'provider.ignore' | 'provider.order';

/**
 * Whether a provider may serve the request at all: not ignored, in `only` when given, and, when fallbacks are not
 * allowed, in `order` or `only` (when either is given).
 */
export function providerAllowed(prefs: RoutePreferences, provider: ProviderId): boolean {
  if (prefs.ignore?.includes(provider)) {
    return false;
  }
  if (prefs.only && !prefs.only.includes(provider)) {
    return false;
  }
  if (!prefs.allowFallbacks && prefs.order && !prefs.only && !prefs.order.includes(provider)) {
    return false;
  }
  return true;
}

/** The parameter to name when the preferences leave a model no provider (the narrowest that was sent). */
export function restrictingParam(prefs: RoutePreferences): RestrictingParam {
  if (prefs.only) {
    return 'provider.only';
  }
  if (!prefs.allowFallbacks && prefs.order) {
    return 'provider.order';
  }
  return 'provider.ignore';
}
