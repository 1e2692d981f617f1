import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Stripe from 'stripe';
import { listenOn } from './base.js';

/**
 * Fake Stripe: the part of Stripe's v1 API the gateway's billing uses, in memory, spoken exactly as the official
 * Node SDK (`stripe` v23) expects it, so the gateway and its tests talk to it through the real SDK:
 * `new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })`.
 *
 * Wire: form-encoded requests (`a[b][0][c]=v`, brackets raw or %5B/%5D), `Authorization: Bearer sk_…` (or Basic),
 * JSON answers with `Request-Id`, `Stripe-Version` and, on a POST with one, `Idempotency-Key` / `Original-Request`.
 * Objects have Stripe's ids (`cus_`, `cs_test_`, `sub_`, `si_`, `in_`, `il_`, `evt_`, `bps_`, `mtr_`, `price_`,
 * `prod_`, `req_`), Unix-second timestamps and the fields of API version `STRIPE_API_VERSION` (the version the SDK
 * pins; each object is typed against the SDK's own type of it, so the field set follows the SDK: subscription
 * periods are on the items, invoices point at their subscription through `parent.subscription_details`, …).
 * Errors are Stripe's `{error:{code,doc_url,message,param,request_log_url,type}}`: 400 `invalid_request_error`
 * (`parameter_missing`, `parameter_unknown`, `resource_missing` for a missing object named in a parameter), 404
 * `resource_missing` for the object of the URL, 401 for a missing or wrong key, 404 for an unknown URL.
 *
 * Served: customers (create, retrieve, update), Checkout Sessions (create in `payment` or `subscription` mode,
 * retrieve, line items), Billing Portal sessions, subscriptions (retrieve, list, update, cancel), Billing Meter
 * events, prices (retrieve, list), products, invoices and events (retrieve). `expand` works on the ids these
 * objects hold (`customer`, `subscription`, `latest_invoice`, `line_items`, `items.data.price.product`, …).
 *
 * Behaviour worth knowing:
 * - Idempotency as Stripe's v1: a POST's `Idempotency-Key` (the SDK sends one on every POST and reuses it on its
 *   retries) replays the first answer for 24 h with `Idempotent-Replayed: true`; the same key with other
 *   parameters is a 400 `idempotency_error`. Answers refused by parameter validation are not kept (Stripe keeps a
 *   result only once the endpoint started executing), and neither are scripted faults (see `addFault`).
 * - Meter events: an `identifier` already received in the last 24 h is refused as Stripe refuses it: 400
 *   `invalid_request_error`, message `An event already exists with identifier <id>.`, no `code`, header
 *   `Stripe-Should-Retry: false`. What Stripe validates later, asynchronously (a meter for the event name, the
 *   customer, an integer value), is accepted at once and reported in `meterEventErrors` instead.
 * - Parameters the fake does not model are refused like unknown ones (400 `parameter_unknown`), even where Stripe
 *   would accept them: the fake never silently ignores a parameter. Extend it when the gateway needs more.
 * - Only `STRIPE_API_VERSION` is rendered: a request pinning another `Stripe-Version` gets a 400 saying so (Stripe
 *   would render that version), so an SDK upgrade cannot silently get the old shapes.
 * - Nothing is delivered on its own: every event Stripe would send is appended to `events`, the test controls
 *   (`completeCheckout`, `advancePeriod`, …) return theirs, and `deliver()` POSTs one to a webhook URL signed
 *   exactly as Stripe signs (`Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>`), the body
 *   pretty-printed as Stripe sends it.
 * - Not modelled: prorations (`proration_behavior` is accepted, no proration invoice is made), taxes, discounts,
 *   trials, payment methods and intents (their ids appear, they are not served), Smart Retries.
 */

/** The API version the SDK pins and this fake renders. */
export const STRIPE_API_VERSION: string = Stripe.API_VERSION;

/** How far Stripe accepts a meter event's timestamp: 35 days back, 5 minutes ahead. */
const METER_EVENT_MAX_AGE_S = 35 * 24 * 3600;
const METER_EVENT_MAX_AHEAD_S = 5 * 60;
/** Idempotency keys and meter event identifiers are remembered this long. */
const DAY_S = 24 * 3600;

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes: the SDK's types of the objects, as JSON carries them (a Decimal is a string on the wire).

/** An SDK type as it travels in JSON. */
export type Wire<T> = T extends Stripe.Decimal
  ? string
  : T extends string | number | boolean | null | undefined
    ? T
    : T extends Stripe.ApiList<infer U>
      ? WireList<U>
      : T extends readonly (infer U)[]
        ? Wire<U>[]
        : T extends object
          ? { [K in keyof T]: Wire<T[K]> }
          : T;

/** A list object (`total_count` appears on lists embedded in an object: subscription items, invoice lines). */
export interface WireList<T> {
  object: 'list';
  data: Wire<T>[];
  has_more: boolean;
  total_count?: number;
  url: string;
}

export type StripeCustomerObject = Wire<Stripe.Customer>;
export type StripePriceObject = Wire<Stripe.Price>;
export type StripeProductObject = Wire<Stripe.Product>;
export type StripeCheckoutSessionObject = Wire<Stripe.Checkout.Session>;
export type StripeCheckoutLineItemObject = Wire<Stripe.LineItem>;
export type StripePortalSessionObject = Wire<Stripe.BillingPortal.Session>;
export type StripeSubscriptionObject = Wire<Stripe.Subscription>;
export type StripeSubscriptionItemObject = Wire<Stripe.SubscriptionItem>;
export type StripeInvoiceObject = Wire<Stripe.Invoice>;
export type StripeInvoiceLineObject = Wire<Stripe.InvoiceLineItem>;
export type StripeMeterEventObject = Wire<Stripe.Billing.MeterEvent>;

/** An event as Stripe sends it to a webhook endpoint. */
export type StripeEventObject = Omit<Wire<Stripe.EventBase>, 'data'> & {
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
};

// ---------------------------------------------------------------------------------------------------------------
// Options and seeds.

export interface FakeStripePrice {
  id: string;
  product: { id: string; name: string };
  /** In cents. For fractions of a cent give `unitAmountDecimal` instead. */
  unitAmount?: number;
  unitAmountDecimal?: string;
  currency?: string;
  /** Absent for a one-time price. */
  recurring?: {
    interval: 'day' | 'week' | 'month' | 'year';
    intervalCount?: number;
    /** `metered` prices bill the meter's usage of the period just ended on each renewal invoice. */
    usageType?: 'licensed' | 'metered';
    meter?: string;
  };
  lookupKey?: string;
  nickname?: string;
  metadata?: Record<string, string>;
}

export interface FakeStripeMeter {
  id: string;
  eventName: string;
  displayName: string;
  /** Payload keys (Stripe's defaults: `stripe_customer_id`, `value`). */
  customerKey?: string;
  valueKey?: string;
}

/** The catalogue the gateway sells (amounts from the README: Power, Pro, packs of credits at $0.01, overage). */
export const DEFAULT_STRIPE_PRICES: FakeStripePrice[] = [
  {
    id: 'price_power',
    product: { id: 'prod_power', name: 'Conflux Power' },
    unitAmount: 2499,
    recurring: { interval: 'month' },
    lookupKey: 'power_monthly',
  },
  {
    id: 'price_pro',
    product: { id: 'prod_pro', name: 'Conflux Pro' },
    unitAmount: 4999,
    recurring: { interval: 'month' },
    lookupKey: 'pro_monthly',
  },
  {
    id: 'price_pack_1000',
    product: { id: 'prod_pack_1000', name: '1,000 credits' },
    unitAmount: 1000,
    lookupKey: 'pack_1000',
  },
  {
    id: 'price_pack_5000',
    product: { id: 'prod_pack_5000', name: '5,000 credits' },
    unitAmount: 5000,
    lookupKey: 'pack_5000',
  },
  {
    id: 'price_power_overage',
    product: { id: 'prod_overage', name: 'Overage credits' },
    unitAmountDecimal: '0.3',
    recurring: { interval: 'month', usageType: 'metered', meter: 'mtr_overage' },
    lookupKey: 'power_overage',
  },
  {
    id: 'price_pro_overage',
    product: { id: 'prod_overage', name: 'Overage credits' },
    unitAmountDecimal: '0.2',
    recurring: { interval: 'month', usageType: 'metered', meter: 'mtr_overage' },
    lookupKey: 'pro_overage',
  },
];

export const DEFAULT_STRIPE_METERS: FakeStripeMeter[] = [
  { id: 'mtr_overage', eventName: 'overage_credits', displayName: 'Overage credits' },
];

export interface FakeStripeOptions {
  /** The secret key the fake accepts (default `sk_test_fake_conflux_stripe_key`). */
  apiKey?: string;
  /** The webhook endpoint's signing secret `deliver()` signs with by default. */
  webhookSecret?: string;
  prices?: FakeStripePrice[];
  meters?: FakeStripeMeter[];
  /** Time as the fake sees it (ms since the epoch): pass the test's `ManualClock` to move both together. */
  clock?: { now(): number };
}

export type StripeFault =
  /** Answer with this status and Stripe's error body for it (`api_error` for a 5xx, `rate_limit` for 429). */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Never answer (the socket stays open until the client gives up). */
  | { kind: 'hang' }
  /** Destroy the connection before doing anything. */
  | { kind: 'down' }
  /** Do the work, then destroy the connection instead of answering (a lost response: retry with the same key). */
  | { kind: 'lost' }
  /** Wait this long, then answer normally. */
  | { kind: 'slow'; ms: number };

export interface StripeFaultRule {
  fault: StripeFault;
  remaining: number;
  method?: string;
  /** A path (exact, without the query) or a pattern; every path when absent. */
  path?: string | RegExp;
}

export interface StripeRecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Parsed form body (POST) or query (GET, DELETE). */
  params: FormObject;
  raw: string;
  headers: Record<string, string | string[] | undefined>;
  status?: number;
}

/** A meter event as received (accepted) by the fake. */
export interface RecordedMeterEvent extends StripeMeterEventObject {
  /** Fake-clock time it arrived, in ms. */
  receivedAt: number;
}

/** What Stripe would report asynchronously (`v1.billing.meter.error_report_triggered`) for an accepted event. */
export interface MeterEventError {
  identifier: string;
  code:
    | 'no_meter'
    | 'meter_event_no_customer_defined'
    | 'meter_event_customer_not_found'
    | 'meter_event_invalid_value'
    | 'missing_value';
  message: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook signing.

/**
 * The `Stripe-Signature` header for `payload` as Stripe computes it: `t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>"
 * keyed with the secret>`, one `v1` per secret (several while a secret is being rolled).
 */
export function stripeSignatureHeader(
  payload: string,
  secret: string | string[],
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): string {
  const secrets = Array.isArray(secret) ? secret : [secret];
  const signatures = secrets.map(
    (s) => `v1=${createHmac('sha256', s).update(`${timestampSeconds}.${payload}`, 'utf8').digest('hex')}`,
  );
  return [`t=${timestampSeconds}`, ...signatures].join(',');
}

/** An event's body as Stripe posts it to an endpoint: JSON indented by two spaces. */
export function stripeEventPayload(event: StripeEventObject): string {
  return JSON.stringify(event, null, 2);
}

// ---------------------------------------------------------------------------------------------------------------
// Form bodies and query strings as the SDK encodes them.

export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** `a[b][0][c]=v&d[]=x` → `{ a: { b: { '0': { c: 'v' } } }, d: { '0': 'x' } }`. */
export function parseForm(raw: string): FormObject {
  const root: FormObject = {};
  for (const pair of raw.split('&')) {
    if (pair === '') {
      continue;
    }
    const eq = pair.indexOf('=');
    const key = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = decodeComponent(eq < 0 ? '' : pair.slice(eq + 1));
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    const segments = match ? [match[1], ...[...match[2].matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1])] : [key];
    let node = root;
    segments.forEach((segment, i) => {
      const name = segment === '' ? String(Object.keys(node).length) : segment;
      if (i === segments.length - 1) {
        node[name] = value;
        return;
      }
      const child = node[name];
      if (typeof child !== 'object') {
        node[name] = {};
      }
      node = node[name] as FormObject;
    });
  }
  return root;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors.

interface StripeErrorBody {
  code?: string;
  doc_url?: string;
  message: string;
  param?: string;
  request_log_url?: string;
  type: string;
}

class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /** Kept for an Idempotency-Key (errors raised once the endpoint ran); validation errors are not. */
    readonly keep = false,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

function docUrl(code: string): string {
  return `https://docs.stripe.com/error-codes/${code.replace(/_/g, '-')}`;
}

function invalidRequest(message: string, param?: string, code?: string, status = 400): StripeApiError {
  return new StripeApiError(status, {
    ...(code ? { code, doc_url: docUrl(code) } : {}),
    message,
    ...(param ? { param } : {}),
    type: 'invalid_request_error',
  });
}

function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, param, 'parameter_missing');
}

function unknownParam(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, param, 'parameter_unknown');
}

function emptyParam(param: string): StripeApiError {
  return invalidRequest(
    `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; ` +
      `however '${param}' cannot be unset. You should remove '${param}' from your request or supply a ` +
      `non-empty value.`,
    param,
    'parameter_invalid_empty',
  );
}

/** `No such customer: 'cus_…'`: 404 for the object of the URL, 400 for one named in a parameter. */
function noSuch(kind: string, id: string, param: string, status: 400 | 404): StripeApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, param, 'resource_missing', status);
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Refuses any parameter of `params` (at `prefix`) not in `allowed`. */
function allowOnly(params: FormObject, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw unknownParam(prefix ? `${prefix}[${key}]` : key);
    }
  }
}

function paramName(prefix: string, key: string): string {
  return prefix ? `${prefix}[${key}]` : key;
}

function stringParam(params: FormObject, key: string, prefix = ''): string | undefined {
  const value = params[key];
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw invalidRequest(`Invalid string: ${JSON.stringify(value)}`, paramName(prefix, key));
  }
  return value;
}

function requiredString(params: FormObject, key: string, prefix = ''): string {
  const value = stringParam(params, key, prefix);
  if (value === undefined) {
    throw missingParam(paramName(prefix, key));
  }
  if (value === '') {
    throw emptyParam(paramName(prefix, key));
  }
  return value;
}

function integerParam(params: FormObject, key: string, prefix = ''): number | undefined {
  const value = stringParam(params, key, prefix);
  if (value === undefined) {
    return undefined;
  }
  if (!/^-?\d+$/.test(value)) {
    throw invalidRequest(`Invalid integer: ${value}`, paramName(prefix, key), 'parameter_invalid_integer');
  }
  return Number(value);
}

function booleanParam(params: FormObject, key: string, prefix = ''): boolean | undefined {
  const value = stringParam(params, key, prefix);
  if (value === undefined) {
    return undefined;
  }
  if (value !== 'true' && value !== 'false') {
    throw invalidRequest(`Invalid boolean: ${value}`, paramName(prefix, key));
  }
  return value === 'true';
}

function enumParam<T extends string>(
  params: FormObject,
  key: string,
  values: readonly T[],
  prefix = '',
): T | undefined {
  const value = stringParam(params, key, prefix);
  if (value === undefined) {
    return undefined;
  }
  if (!(values as readonly string[]).includes(value)) {
    const list =
      values.length > 1 ? `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}` : values[0];
    throw invalidRequest(`Invalid ${key}: must be one of ${list}`, paramName(prefix, key));
  }
  return value as T;
}

/** An array parameter (`items[0][…]`): indices in order; `''` (unset) is empty. */
function arrayParam(params: FormObject, key: string): FormObject[] | undefined {
  const value = params[key];
  if (value === undefined) {
    return undefined;
  }
  if (value === '') {
    return [];
  }
  if (typeof value === 'string' || Object.keys(value).some((k) => !/^\d+$/.test(k))) {
    throw invalidRequest('Invalid array', key);
  }
  return Object.keys(value)
    .sort((a, b) => Number(a) - Number(b))
    .map((index) => {
      const element = value[index];
      if (typeof element === 'string') {
        throw invalidRequest('Invalid object', `${key}[${index}]`);
      }
      return element;
    });
}

/** `expand[0]=a&expand[1]=b` → `['a', 'b']`. */
function expandParam(params: FormObject): string[] {
  const value = params.expand;
  if (value === undefined || value === '') {
    return [];
  }
  if (typeof value === 'string') {
    return [value];
  }
  return Object.keys(value)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => {
      const path = value[k];
      if (typeof path !== 'string') {
        throw invalidRequest('Invalid array', 'expand');
      }
      return path;
    });
}

/** Applies `metadata[…]` to `current`: an empty value unsets a key, `metadata=` unsets all. */
function applyMetadata(current: Record<string, string>, params: FormObject, key = 'metadata', prefix = '') {
  const value = params[key];
  if (value === undefined) {
    return current;
  }
  if (value === '') {
    return {};
  }
  if (typeof value === 'string') {
    throw invalidRequest('Invalid object', paramName(prefix, key));
  }
  const next = { ...current };
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw invalidRequest('Invalid string', `${paramName(prefix, key)}[${k}]`);
    }
    if (v === '') {
      delete next[k];
    } else {
      next[k] = v;
    }
  }
  return next;
}

// The parameters each endpoint models, checked against the SDK's parameter types (so every one is Stripe's).
const CUSTOMER_CREATE_PARAMS = [
  'email',
  'name',
  'description',
  'phone',
  'metadata',
  'expand',
] as const satisfies readonly (keyof Stripe.CustomerCreateParams)[];
const CUSTOMER_UPDATE_PARAMS = [
  'email',
  'name',
  'description',
  'phone',
  'metadata',
  'expand',
] as const satisfies readonly (keyof Stripe.CustomerUpdateParams)[];
const CHECKOUT_CREATE_PARAMS = [
  'mode',
  'line_items',
  'customer',
  'customer_email',
  'client_reference_id',
  'metadata',
  'success_url',
  'cancel_url',
  'subscription_data',
  'expand',
] as const satisfies readonly (keyof Stripe.Checkout.SessionCreateParams)[];
const CHECKOUT_LINE_ITEM_PARAMS = [
  'price',
  'quantity',
] as const satisfies readonly (keyof Stripe.Checkout.SessionCreateParams.LineItem)[];
const CHECKOUT_SUBSCRIPTION_DATA_PARAMS = [
  'metadata',
  'description',
] as const satisfies readonly (keyof Stripe.Checkout.SessionCreateParams.SubscriptionData)[];
const PORTAL_CREATE_PARAMS = [
  'customer',
  'return_url',
  'expand',
] as const satisfies readonly (keyof Stripe.BillingPortal.SessionCreateParams)[];
const SUBSCRIPTION_UPDATE_PARAMS = [
  'cancel_at_period_end',
  'items',
  'metadata',
  'proration_behavior',
  'description',
  'expand',
] as const satisfies readonly (keyof Stripe.SubscriptionUpdateParams)[];
const SUBSCRIPTION_ITEM_PARAMS = [
  'id',
  'price',
  'quantity',
  'deleted',
  'metadata',
] as const satisfies readonly (keyof Stripe.SubscriptionUpdateParams.Item)[];
const SUBSCRIPTION_CANCEL_PARAMS = [
  'invoice_now',
  'prorate',
  'expand',
] as const satisfies readonly (keyof Stripe.SubscriptionCancelParams)[];
const SUBSCRIPTION_LIST_PARAMS = [
  'customer',
  'price',
  'status',
  'limit',
  'starting_after',
  'ending_before',
  'expand',
] as const satisfies readonly (keyof Stripe.SubscriptionListParams)[];
const METER_EVENT_PARAMS = [
  'event_name',
  'payload',
  'identifier',
  'timestamp',
  'expand',
] as const satisfies readonly (keyof Stripe.Billing.MeterEventCreateParams)[];
const PRICE_LIST_PARAMS = [
  'active',
  'lookup_keys',
  'product',
  'type',
  'limit',
  'starting_after',
  'ending_before',
  'expand',
] as const satisfies readonly (keyof Stripe.PriceListParams)[];
const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'expand'] as const;

// ---------------------------------------------------------------------------------------------------------------
// Ids and time.

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) {
    out += BASE62[byte % 62];
  }
  return out;
}

/** Stripe's shapes: `cus_` + 14, `sub_` + 24, `cs_test_` + 58, … */
function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomId(length)}`;
}

/** `anchor` (Unix seconds) plus `n` intervals, as Stripe bills: a month later on the same day, or the month's last. */
function addInterval(anchor: number, interval: string, n: number): number {
  const date = new Date(anchor * 1000);
  switch (interval) {
    case 'day':
      return anchor + n * 86_400;
    case 'week':
      return anchor + n * 7 * 86_400;
    case 'month':
    case 'year': {
      const months = interval === 'month' ? n : 12 * n;
      const target = new Date(
        Date.UTC(
          date.getUTCFullYear(),
          date.getUTCMonth() + months,
          1,
          date.getUTCHours(),
          date.getUTCMinutes(),
          date.getUTCSeconds(),
        ),
      );
      const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
      target.setUTCDate(Math.min(date.getUTCDate(), lastDay));
      return Math.floor(target.getTime() / 1000);
    }
    default:
      throw new Error(`fake Stripe: unknown interval ${interval}`);
  }
}

/** `2499` → `$24.99`, `'0.3'` → `$0.003`. */
function formatMoney(cents: number | string, currency: string): string {
  const value = Number(cents);
  const symbol = currency === 'usd' ? '$' : `${currency.toUpperCase()} `;
  return `${symbol}${Number.isInteger(value) ? (value / 100).toFixed(2) : String(value / 100)}`;
}

// ---------------------------------------------------------------------------------------------------------------

interface Call {
  method: string;
  path: string;
  params: FormObject;
  match: RegExpExecArray;
  requestId: string;
  idempotencyKey: string | null;
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  handle: (call: Call) => unknown;
}

interface StoredSession {
  session: StripeCheckoutSessionObject;
  lineItems: StripeCheckoutLineItemObject[];
  subscriptionMetadata: Record<string, string>;
  subscriptionDescription: string | null;
}

interface IdempotentResult {
  method: string;
  path: string;
  raw: string;
  status: number;
  body: string;
  headers: Record<string, string>;
  requestId: string;
  savedAt: number;
}

/** An event's request: the API call that caused it, or none (Stripe's own doing, a customer on a Stripe page). */
type EventRequest = { id: string | null; idempotency_key: string | null };
const NO_REQUEST: EventRequest = { id: null, idempotency_key: null };

export class FakeStripe {
  readonly apiKey: string;
  readonly webhookSecret: string;
  /** Every request received (after the last `reset`). */
  readonly requests: StripeRecordedRequest[] = [];
  /** Every event Stripe would have sent, oldest first (after the last `reset`). */
  readonly events: StripeEventObject[] = [];
  /** Every meter event accepted (after the last `reset`). */
  readonly meterEvents: RecordedMeterEvent[] = [];
  /** What Stripe would report asynchronously about accepted meter events (after the last `reset`). */
  readonly meterEventErrors: MeterEventError[] = [];

  private readonly clock: { now(): number };
  private readonly rules: StripeFaultRule[] = [];
  private readonly customers = new Map<string, StripeCustomerObject>();
  private readonly products = new Map<string, StripeProductObject>();
  private readonly prices = new Map<string, StripePriceObject>();
  private readonly meters = new Map<string, FakeStripeMeter>();
  private readonly sessions = new Map<string, StoredSession>();
  private readonly portalSessions = new Map<string, StripePortalSessionObject>();
  private readonly subscriptions = new Map<string, StripeSubscriptionObject>();
  private readonly invoices = new Map<string, StripeInvoiceObject>();
  private readonly eventsById = new Map<string, StripeEventObject>();
  private readonly idempotency = new Map<string, IdempotentResult>();
  /** Identifier → when it was received (s): duplicates within 24 h are refused. */
  private readonly meterIdentifiers = new Map<string, number>();
  /** All accepted, valid usage (kept across `reset`, as Stripe keeps it): what renewal invoices bill. */
  private readonly usage: { customer: string; eventName: string; value: number; timestamp: number }[] = [];
  /** Creation order, for lists (newest first). */
  private readonly order = new Map<string, number>();
  private sequence = 0;
  private readonly portalConfiguration = newId('bpc');
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(options: FakeStripeOptions = {}) {
    this.apiKey = options.apiKey ?? 'sk_test_fake_conflux_stripe_key';
    this.webhookSecret = options.webhookSecret ?? 'whsec_fake_conflux_webhook_secret';
    this.clock = options.clock ?? { now: () => Date.now() };
    for (const meter of options.meters ?? DEFAULT_STRIPE_METERS) {
      this.meters.set(meter.id, meter);
    }
    for (const price of options.prices ?? DEFAULT_STRIPE_PRICES) {
      this.seedPrice(price);
    }
  }

  // -- server -----------------------------------------------------------------------------------------------

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What the SDK needs to reach the fake: `new Stripe(key, fake.clientConfig)`. */
  get clientConfig(): { host: string; port: number; protocol: 'http' } {
    return { host: '127.0.0.1', port: this.port, protocol: 'http' };
  }

  /** The environment that points the gateway at this fake, with the catalogue it seeds by default. */
  get env(): Record<string, string> {
    return {
      STRIPE_API_BASE: this.origin,
      STRIPE_SECRET_KEY: this.apiKey,
      STRIPE_WEBHOOK_SECRET: this.webhookSecret,
      STRIPE_PRICE_POWER: 'price_power',
      STRIPE_PRICE_PRO: 'price_pro',
      STRIPE_PRICE_POWER_OVERAGE: 'price_power_overage',
      STRIPE_PRICE_PRO_OVERAGE: 'price_pro_overage',
      STRIPE_METER_EVENT_NAME: 'overage_credits',
      CREDIT_PACKS: '1000:price_pack_1000,5000:price_pack_5000',
    };
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // A port already taken rejects (EADDRINUSE), for the caller to explain, instead of an unhandled 'error'.
    await listenOn(this.server, port);
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Clears faults and what was recorded (requests, events, meter events); Stripe's objects stay. */
  reset(): void {
    this.rules.length = 0;
    this.requests.length = 0;
    this.events.length = 0;
    this.meterEvents.length = 0;
    this.meterEventErrors.length = 0;
  }

  // -- faults -----------------------------------------------------------------------------------------------

  /**
   * Plays `fault` on the next `times` requests (default 1; Infinity until `clearFaults`) matching `path` (exact, or
   * a pattern; any when absent) and `method`. A fault is not the endpoint's answer: nothing is kept for the
   * request's Idempotency-Key (except `lost`, where the work was done), so the SDK's retry is served anew.
   */
  addFault(
    fault: StripeFault,
    options: { times?: number; path?: string | RegExp; method?: string } = {},
  ): void {
    this.rules.push({ fault, remaining: options.times ?? 1, path: options.path, method: options.method });
  }

  clearFaults(): void {
    this.rules.length = 0;
  }

  private takeFault(method: string, path: string): StripeFault | undefined {
    const index = this.rules.findIndex(
      (rule) =>
        rule.remaining > 0 &&
        (rule.method === undefined || rule.method.toUpperCase() === method) &&
        (rule.path === undefined ||
          (typeof rule.path === 'string' ? rule.path === path : rule.path.test(path))),
    );
    if (index < 0) {
      return undefined;
    }
    const rule = this.rules[index];
    rule.remaining -= 1;
    if (rule.remaining <= 0) {
      this.rules.splice(index, 1);
    }
    return rule.fault;
  }

  // -- reading state ----------------------------------------------------------------------------------------

  customer(id: string): StripeCustomerObject | undefined {
    return clone(this.customers.get(id));
  }

  checkoutSession(id: string): StripeCheckoutSessionObject | undefined {
    return clone(this.sessions.get(id)?.session);
  }

  subscription(id: string): StripeSubscriptionObject | undefined {
    return clone(this.subscriptions.get(id));
  }

  invoice(id: string): StripeInvoiceObject | undefined {
    return clone(this.invoices.get(id));
  }

  price(id: string): StripePriceObject | undefined {
    return clone(this.prices.get(id));
  }

  /** Valid usage a customer reported to a meter (by event name), optionally within [from, to) in Unix seconds. */
  meterUsage(customer: string, options: { eventName?: string; from?: number; to?: number } = {}): number {
    return this.usage
      .filter(
        (u) =>
          u.customer === customer &&
          (options.eventName === undefined || u.eventName === options.eventName) &&
          (options.from === undefined || u.timestamp >= options.from) &&
          (options.to === undefined || u.timestamp < options.to),
      )
      .reduce((sum, u) => sum + u.value, 0);
  }

  // -- webhooks ---------------------------------------------------------------------------------------------

  /** The `Stripe-Signature` header for `payload` (default: the fake's webhook secret, the fake's clock). */
  sign(payload: string, secret: string | string[] = this.webhookSecret, timestampSeconds?: number): string {
    return stripeSignatureHeader(payload, secret, timestampSeconds ?? this.nowSeconds());
  }

  /**
   * POSTs `event` to `url` as Stripe delivers it: the event pretty-printed, `Content-Type: application/json;
   * charset=utf-8`, Stripe's User-Agent and a `Stripe-Signature` made with `secret`.
   */
  async deliver(
    url: string,
    event: StripeEventObject,
    secret: string | string[] = this.webhookSecret,
    options: { timestampSeconds?: number } = {},
  ): Promise<{ status: number; body: string }> {
    const payload = stripeEventPayload(event);
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        accept: '*/*; q=0.5, application/xml',
        'cache-control': 'no-cache',
        'stripe-signature': this.sign(payload, secret, options.timestampSeconds),
      },
      body: payload,
    });
    return { status: response.status, body: await response.text() };
  }

  // -- test controls: what happens on Stripe's side ---------------------------------------------------------

  /**
   * The customer pays on the Checkout page. Subscription mode: a customer is created if the session had none,
   * the subscription starts now (first period from now), its first invoice is paid; returns
   * `checkout.session.completed`, `customer.subscription.created` and `invoice.paid` (Stripe does not promise
   * an order). Payment mode: returns `checkout.session.completed`; with `asyncPayment` (a bank debit, say) the
   * session completes unpaid and `settleAsyncPayment` later says whether the money came.
   */
  completeCheckout(
    sessionId: string,
    details: { email?: string; name?: string; asyncPayment?: boolean } = {},
  ): StripeEventObject[] {
    const stored = this.sessions.get(sessionId);
    if (!stored) {
      throw new Error(`fake Stripe: no checkout session ${sessionId}`);
    }
    const session = stored.session;
    if (session.status !== 'open') {
      throw new Error(`fake Stripe: checkout session ${sessionId} is ${session.status}, not open`);
    }
    let customerId = typeof session.customer === 'string' ? session.customer : null;
    const email =
      details.email ?? session.customer_email ?? this.customers.get(customerId ?? '')?.email ?? null;
    const name = details.name ?? this.customers.get(customerId ?? '')?.name ?? 'Test Customer';
    if (!customerId && session.mode === 'subscription') {
      customerId = this.insertCustomer({ email, name, description: null, phone: null, metadata: {} }).id;
    }
    session.customer = customerId;
    session.customer_details = {
      address: { city: null, country: 'US', line1: null, line2: null, postal_code: '10001', state: null },
      business_name: null,
      email,
      individual_name: null,
      name,
      phone: null,
      tax_exempt: 'none',
      tax_ids: [],
    };
    session.collected_information = { business_name: null, individual_name: null, shipping_details: null };
    session.status = 'complete';
    session.payment_status = 'paid';
    session.url = null;
    if (session.mode === 'payment') {
      session.payment_intent = newId('pi');
      if (details.asyncPayment) {
        session.payment_status = 'unpaid';
      }
      return [this.emit('checkout.session.completed', session, NO_REQUEST)];
    }
    const subscription = this.createSubscription(customerId!, stored);
    const invoice = this.createInvoice(subscription, 'subscription_create', {
      paid: true,
      periodStart: subscription.start_date,
      periodEnd: subscription.start_date,
    });
    subscription.latest_invoice = invoice.id;
    session.subscription = subscription.id;
    session.invoice = invoice.id;
    return [
      this.emit('checkout.session.completed', session, NO_REQUEST),
      this.emit('customer.subscription.created', subscription, NO_REQUEST),
      this.emit('invoice.paid', invoice, NO_REQUEST),
    ];
  }

  /**
   * A delayed payment of a completed session (`completeCheckout` with `asyncPayment`) succeeds or fails: returns
   * `checkout.session.async_payment_succeeded` (the session now `paid`) or `checkout.session.async_payment_failed`.
   */
  settleAsyncPayment(sessionId: string, succeeded = true): StripeEventObject[] {
    const session = this.sessions.get(sessionId)?.session;
    if (!session || session.status !== 'complete' || session.payment_status !== 'unpaid') {
      throw new Error(`fake Stripe: checkout session ${sessionId} has no payment pending`);
    }
    if (succeeded) {
      session.payment_status = 'paid';
      return [this.emit('checkout.session.async_payment_succeeded', session, NO_REQUEST)];
    }
    return [this.emit('checkout.session.async_payment_failed', session, NO_REQUEST)];
  }

  /** The session expires unpaid: returns `checkout.session.expired`. */
  expireCheckout(sessionId: string): StripeEventObject[] {
    const stored = this.sessions.get(sessionId);
    if (!stored || stored.session.status !== 'open') {
      throw new Error(`fake Stripe: no open checkout session ${sessionId}`);
    }
    stored.session.status = 'expired';
    stored.session.url = null;
    return [this.emit('checkout.session.expired', stored.session, NO_REQUEST)];
  }

  /**
   * The current period ends and the renewal is paid: the next period starts, an invoice for it (with the metered
   * usage of the period just ended) is paid; returns `invoice.paid` and `customer.subscription.updated`. A
   * subscription set to cancel at period end ends instead: returns `customer.subscription.deleted`.
   */
  advancePeriod(subscriptionId: string): StripeEventObject[] {
    return this.renew(subscriptionId, true);
  }

  /**
   * The current period ends and the renewal payment fails: the next period starts anyway, its invoice stays
   * open (attempted once), the subscription becomes `past_due`; returns `invoice.payment_failed` and
   * `customer.subscription.updated`.
   */
  failPayment(subscriptionId: string): StripeEventObject[] {
    return this.renew(subscriptionId, false);
  }

  /** A retry of the open renewal invoice succeeds: returns `invoice.paid` and `customer.subscription.updated`. */
  recoverPayment(subscriptionId: string): StripeEventObject[] {
    const subscription = this.requireSubscription(subscriptionId);
    const invoice = this.invoices.get(String(subscription.latest_invoice));
    if (!invoice || invoice.status !== 'open') {
      throw new Error(`fake Stripe: subscription ${subscriptionId} has no open invoice`);
    }
    const before = clone(subscription);
    this.markPaid(invoice);
    subscription.status = 'active';
    return [
      this.emit('invoice.paid', invoice, NO_REQUEST),
      this.emit(
        'customer.subscription.updated',
        subscription,
        NO_REQUEST,
        previousAttributes(before, subscription),
      ),
    ];
  }

  /** The customer cancels in the portal, at the end of the period: returns `customer.subscription.updated`. */
  cancelAtPeriodEnd(subscriptionId: string): StripeEventObject[] {
    const subscription = this.requireSubscription(subscriptionId);
    const before = clone(subscription);
    this.setCancelAtPeriodEnd(subscription, true);
    return [
      this.emit(
        'customer.subscription.updated',
        subscription,
        NO_REQUEST,
        previousAttributes(before, subscription),
      ),
    ];
  }

  /** The subscription ends now (cancelled at once, or dunning gave up): returns `customer.subscription.deleted`. */
  deleteSubscription(subscriptionId: string): StripeEventObject[] {
    const subscription = this.requireSubscription(subscriptionId);
    if (subscription.status === 'canceled') {
      throw new Error(`fake Stripe: subscription ${subscriptionId} is already canceled`);
    }
    this.endSubscription(subscription, this.nowSeconds());
    return [this.emit('customer.subscription.deleted', subscription, NO_REQUEST)];
  }

  // -- HTTP -------------------------------------------------------------------------------------------------

  private readonly routes: Route[] = [
    { method: 'POST', pattern: /^\/v1\/customers$/, handle: (c) => this.createCustomer(c) },
    { method: 'GET', pattern: /^\/v1\/customers\/([^/]+)$/, handle: (c) => this.retrieve(c, 'customer') },
    { method: 'POST', pattern: /^\/v1\/customers\/([^/]+)$/, handle: (c) => this.updateCustomer(c) },
    { method: 'POST', pattern: /^\/v1\/checkout\/sessions$/, handle: (c) => this.createCheckoutSession(c) },
    {
      method: 'GET',
      pattern: /^\/v1\/checkout\/sessions\/([^/]+)$/,
      handle: (c) => this.retrieve(c, 'checkout.session'),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/line_items$/,
      handle: (c) => this.listSessionLineItems(c),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/billing_portal\/sessions$/,
      handle: (c) => this.createPortalSession(c),
    },
    { method: 'GET', pattern: /^\/v1\/subscriptions$/, handle: (c) => this.listSubscriptions(c) },
    {
      method: 'GET',
      pattern: /^\/v1\/subscriptions\/([^/]+)$/,
      handle: (c) => this.retrieve(c, 'subscription'),
    },
    { method: 'POST', pattern: /^\/v1\/subscriptions\/([^/]+)$/, handle: (c) => this.updateSubscription(c) },
    {
      method: 'DELETE',
      pattern: /^\/v1\/subscriptions\/([^/]+)$/,
      handle: (c) => this.cancelSubscription(c),
    },
    { method: 'POST', pattern: /^\/v1\/billing\/meter_events$/, handle: (c) => this.createMeterEvent(c) },
    { method: 'GET', pattern: /^\/v1\/prices$/, handle: (c) => this.listPrices(c) },
    { method: 'GET', pattern: /^\/v1\/prices\/([^/]+)$/, handle: (c) => this.retrieve(c, 'price') },
    { method: 'GET', pattern: /^\/v1\/products\/([^/]+)$/, handle: (c) => this.retrieve(c, 'product') },
    { method: 'GET', pattern: /^\/v1\/invoices\/([^/]+)$/, handle: (c) => this.retrieve(c, 'invoice') },
    { method: 'GET', pattern: /^\/v1\/events\/([^/]+)$/, handle: (c) => this.retrieve(c, 'event') },
  ];

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const requestId = newId('req', 14);
    let params: FormObject;
    try {
      params = parseForm(method === 'POST' ? raw : url.search.slice(1));
    } catch {
      params = {};
    }
    const record: StripeRecordedRequest = { method, path, params, raw, headers: req.headers };
    this.requests.push(record);

    const fault = this.takeFault(method, path);
    if (fault?.kind === 'down') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      return;
    }
    if (fault?.kind === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
    }

    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'cache-control': 'no-cache, no-store',
      'request-id': requestId,
      'stripe-version': STRIPE_API_VERSION,
    };
    const send = (status: number, body: string, extra: Record<string, string> = {}) => {
      record.status = status;
      if (fault?.kind === 'lost') {
        req.socket.destroy();
        return;
      }
      res.writeHead(status, { ...headers, ...extra });
      res.end(body);
    };
    const sendError = (error: StripeApiError) => {
      send(error.status, this.errorBody(error.body, requestId), error.headers);
    };

    const authError = this.authenticate(req);
    if (authError) {
      sendError(authError);
      return;
    }
    if (fault?.kind === 'status') {
      const body =
        fault.body === undefined
          ? this.errorBody(faultError(fault.status), requestId)
          : JSON.stringify(fault.body);
      record.status = fault.status;
      res.writeHead(fault.status, { ...headers, ...fault.headers });
      res.end(body);
      return;
    }
    const version = req.headers['stripe-version'];
    if (typeof version === 'string' && version !== STRIPE_API_VERSION) {
      sendError(
        invalidRequest(
          `This fake Stripe renders API version ${STRIPE_API_VERSION} only; the request asked for ${version}.`,
        ),
      );
      return;
    }

    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = method === 'POST' && typeof keyHeader === 'string' ? keyHeader : null;
    if (idempotencyKey) {
      headers['idempotency-key'] = idempotencyKey;
      const saved = this.idempotency.get(idempotencyKey);
      if (saved && this.nowSeconds() - saved.savedAt < DAY_S) {
        if (saved.method !== method || saved.path !== path || saved.raw !== raw) {
          sendError(
            new StripeApiError(400, {
              message:
                `Keys for idempotent requests can only be used with the same parameters they were first used ` +
                `with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
              type: 'idempotency_error',
            }),
          );
          return;
        }
        send(saved.status, saved.body, {
          ...saved.headers,
          'original-request': saved.requestId,
          'idempotent-replayed': 'true',
        });
        return;
      }
      headers['original-request'] = requestId;
    }
    const keep = (status: number, body: string, extra: Record<string, string> = {}) => {
      if (idempotencyKey) {
        this.idempotency.set(idempotencyKey, {
          method,
          path,
          raw,
          status,
          body,
          headers: extra,
          requestId,
          savedAt: this.nowSeconds(),
        });
      }
    };

    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of this.routes) {
      match = candidate.method === method ? candidate.pattern.exec(path) : null;
      if (match) {
        route = candidate;
        break;
      }
    }
    if (!route || !match) {
      sendError(
        invalidRequest(
          `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at ` +
            `https://support.stripe.com/.`,
          undefined,
          undefined,
          404,
        ),
      );
      return;
    }
    let done = false;
    try {
      const result = route.handle({ method, path, params, match, requestId, idempotencyKey });
      done = true;
      const body = JSON.stringify(this.expand(result, expandParam(params)), null, 2);
      keep(200, body);
      send(200, body);
    } catch (error) {
      if (!(error instanceof StripeApiError)) {
        // A bug in the fake: say so loudly, as a Stripe 500 the SDK surfaces.
        console.error('fake Stripe failed on', method, path, error);
        sendError(
          new StripeApiError(500, { message: `fake Stripe failed: ${String(error)}`, type: 'api_error' }),
        );
        return;
      }
      // Kept when the endpoint had started: its own refusals, and an `expand` refused after the work was done.
      if (error.keep || done) {
        keep(error.status, this.errorBody(error.body, requestId), error.headers);
      }
      sendError(error);
    }
  }

  private authenticate(req: IncomingMessage): StripeApiError | undefined {
    const header = req.headers.authorization ?? '';
    let key: string | undefined;
    if (header.startsWith('Bearer ')) {
      key = header.slice('Bearer '.length).trim();
    } else if (header.startsWith('Basic ')) {
      key = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8').split(':')[0];
    }
    if (!key) {
      return invalidRequest(
        'You did not provide an API key. You need to provide your API key in the Authorization header, using ' +
          "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication " +
          'for details, or we can help at https://support.stripe.com/.',
        undefined,
        undefined,
        401,
      );
    }
    if (key !== this.apiKey) {
      return invalidRequest(`Invalid API Key provided: ${maskKey(key)}`, undefined, undefined, 401);
    }
    return undefined;
  }

  private errorBody(body: StripeErrorBody, requestId: string): string {
    const withLog: StripeErrorBody = {
      ...(body.code ? { code: body.code, doc_url: body.doc_url } : {}),
      message: body.message,
      ...(body.param ? { param: body.param } : {}),
      request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}?t=${this.nowSeconds()}`,
      type: body.type,
    };
    return JSON.stringify({ error: withLog }, null, 2);
  }

  // -- endpoints ----------------------------------------------------------------------------------------------

  private createCustomer(call: Call): StripeCustomerObject {
    const p = call.params;
    allowOnly(p, CUSTOMER_CREATE_PARAMS);
    return clone(
      this.insertCustomer({
        email: stringParam(p, 'email') || null,
        name: stringParam(p, 'name') || null,
        description: stringParam(p, 'description') || null,
        phone: stringParam(p, 'phone') || null,
        metadata: applyMetadata({}, p),
      }),
    );
  }

  private updateCustomer(call: Call): StripeCustomerObject {
    const id = decodeComponent(call.match[1]);
    const customer = this.customers.get(id);
    if (!customer) {
      throw noSuch('customer', id, 'id', 404);
    }
    const p = call.params;
    allowOnly(p, CUSTOMER_UPDATE_PARAMS);
    const fields = (['email', 'name', 'description', 'phone'] as const).map(
      (key) => [key, stringParam(p, key)] as const,
    );
    const metadata = applyMetadata(customer.metadata, p);
    const before = clone(customer);
    for (const [key, value] of fields) {
      if (value !== undefined) {
        customer[key] = value || null;
      }
    }
    customer.metadata = metadata;
    const changes = previousAttributes(before, customer);
    if (Object.keys(changes).length > 0) {
      this.emit('customer.updated', customer, this.apiRequest(call), changes);
    }
    return clone(customer);
  }

  private createCheckoutSession(call: Call): StripeCheckoutSessionObject {
    const p = call.params;
    allowOnly(p, CHECKOUT_CREATE_PARAMS);
    const mode = enumParam(p, 'mode', ['payment', 'setup', 'subscription'] as const) ?? 'payment';
    if (mode === 'setup') {
      throw invalidRequest('The fake Stripe models `payment` and `subscription` modes only.', 'mode');
    }
    const customerId = stringParam(p, 'customer');
    const customerEmail = stringParam(p, 'customer_email');
    if (customerId !== undefined && customerEmail !== undefined) {
      throw invalidRequest(
        'You may only specify one of these parameters: customer, customer_email.',
        'customer',
      );
    }
    if (customerId !== undefined && !this.customers.has(customerId)) {
      throw noSuch('customer', customerId, 'customer', 400);
    }
    const items = arrayParam(p, 'line_items');
    if (!items || items.length === 0) {
      throw missingParam('line_items');
    }
    const lineItems = items.map((item, i): StripeCheckoutLineItemObject => {
      const prefix = `line_items[${i}]`;
      allowOnly(item, CHECKOUT_LINE_ITEM_PARAMS, prefix);
      const priceId = requiredString(item, 'price', prefix);
      const price = this.prices.get(priceId);
      if (!price) {
        throw noSuch('price', priceId, `${prefix}[price]`, 400);
      }
      const metered = price.recurring?.usage_type === 'metered';
      let quantity = integerParam(item, 'quantity', prefix);
      if (metered && quantity !== undefined) {
        throw invalidRequest(
          `Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`${prefix}\`.`,
          `${prefix}[quantity]`,
        );
      }
      if (!metered && quantity === undefined) {
        throw invalidRequest(
          `Quantity is required. Add \`quantity\` to \`${prefix}\``,
          `${prefix}[quantity]`,
        );
      }
      if (quantity !== undefined && quantity < 1) {
        throw invalidRequest(
          'This value must be greater than or equal to 1.',
          `${prefix}[quantity]`,
          'parameter_invalid_integer',
        );
      }
      quantity = metered ? undefined : quantity;
      const amount = metered ? 0 : (price.unit_amount ?? 0) * (quantity ?? 1);
      const product = this.products.get(String(price.product));
      return {
        id: newId('li'),
        object: 'item',
        adjustable_quantity: null,
        amount_discount: 0,
        amount_subtotal: amount,
        amount_tax: 0,
        amount_total: amount,
        currency: price.currency,
        description: product?.name ?? null,
        metadata: {},
        price: clone(price),
        quantity: quantity ?? null,
      };
    });
    const recurring = lineItems.some((li) => li.price?.type === 'recurring');
    if (mode === 'subscription' && !recurring) {
      throw invalidRequest(
        'You must provide at least one recurring price in `subscription` mode when using prices.',
        'line_items',
      );
    }
    if (mode === 'payment' && recurring) {
      throw invalidRequest(
        'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use ' +
          'only one-time prices.',
        'line_items',
      );
    }
    const subscriptionData = p.subscription_data;
    let subscriptionMetadata: Record<string, string> = {};
    let subscriptionDescription: string | null = null;
    if (subscriptionData !== undefined) {
      if (mode !== 'subscription') {
        throw invalidRequest('You can not pass `subscription_data` in `payment` mode.', 'subscription_data');
      }
      if (typeof subscriptionData === 'string') {
        throw invalidRequest('Invalid object', 'subscription_data');
      }
      allowOnly(subscriptionData, CHECKOUT_SUBSCRIPTION_DATA_PARAMS, 'subscription_data');
      subscriptionMetadata = applyMetadata({}, subscriptionData, 'metadata', 'subscription_data');
      subscriptionDescription = stringParam(subscriptionData, 'description', 'subscription_data') ?? null;
    }
    const now = this.nowSeconds();
    const id = `cs_test_${randomId(58)}`;
    const currency = lineItems[0].currency;
    const total = lineItems.reduce((sum, li) => sum + li.amount_total, 0);
    const session: StripeCheckoutSessionObject = {
      id,
      object: 'checkout.session',
      adaptive_pricing: { enabled: false },
      after_expiration: null,
      allow_promotion_codes: null,
      allowed_payment_method_types: null,
      amount_subtotal: total,
      amount_total: total,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null,
      cancel_url: stringParam(p, 'cancel_url') ?? null,
      client_reference_id: stringParam(p, 'client_reference_id') ?? null,
      client_secret: null,
      collected_information: null,
      consent: null,
      consent_collection: null,
      created: now,
      currency,
      currency_conversion: null,
      custom_fields: [],
      custom_text: {
        after_submit: null,
        shipping_address: null,
        submit: null,
        terms_of_service_acceptance: null,
      },
      customer: customerId ?? null,
      customer_account: null,
      customer_creation: customerId ? null : mode === 'subscription' ? 'always' : 'if_required',
      customer_details: customerEmail
        ? {
            address: null,
            business_name: null,
            email: customerEmail,
            individual_name: null,
            name: null,
            phone: null,
            tax_exempt: 'none',
            tax_ids: null,
          }
        : null,
      customer_email: customerEmail ?? null,
      discounts: [],
      expires_at: now + DAY_S,
      integration_identifier: null,
      invoice: null,
      invoice_creation:
        mode === 'payment'
          ? {
              enabled: false,
              invoice_data: {
                account_tax_ids: null,
                custom_fields: null,
                description: null,
                footer: null,
                issuer: null,
                metadata: {},
                rendering_options: null,
              },
            }
          : null,
      livemode: false,
      locale: null,
      managed_payments: null,
      metadata: applyMetadata({}, p),
      mode,
      origin_context: null,
      payment_intent: null,
      payment_link: null,
      payment_method_collection: 'always',
      payment_method_configuration_details: null,
      payment_method_options: {},
      payment_method_types: ['card'],
      payment_status: 'unpaid',
      permissions: null,
      phone_number_collection: { enabled: false },
      recovered_from: null,
      saved_payment_method_options: customerId
        ? { allow_redisplay_filters: ['always'], payment_method_remove: null, payment_method_save: null }
        : null,
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: 'open',
      submit_type: null,
      subscription: null,
      success_url: stringParam(p, 'success_url') ?? null,
      tax_id_collection: { enabled: false, required: 'never' },
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted_page',
      url: `https://checkout.stripe.test/c/pay/${id}`,
      wallet_options: null,
    };
    this.sessions.set(id, { session, lineItems, subscriptionMetadata, subscriptionDescription });
    this.track(id);
    return clone(session);
  }

  private listSessionLineItems(call: Call): WireList<Stripe.LineItem> {
    const id = decodeComponent(call.match[1]);
    if (!this.sessions.has(id)) {
      throw noSuch('checkout.session', id, 'id', 404);
    }
    allowOnly(call.params, LIST_PARAMS);
    return this.page(
      this.sessionLineItems(id),
      call.params,
      `/v1/checkout/sessions/${id}/line_items`,
      'line item',
    );
  }

  private createPortalSession(call: Call): StripePortalSessionObject {
    const p = call.params;
    allowOnly(p, PORTAL_CREATE_PARAMS);
    const customer = requiredString(p, 'customer');
    if (!this.customers.has(customer)) {
      throw noSuch('customer', customer, 'customer', 400);
    }
    const session: StripePortalSessionObject = {
      id: newId('bps'),
      object: 'billing_portal.session',
      configuration: this.portalConfiguration,
      created: this.nowSeconds(),
      customer,
      customer_account: null,
      flow: null,
      livemode: false,
      locale: null,
      on_behalf_of: null,
      return_url: stringParam(p, 'return_url') ?? null,
      url: `https://billing.stripe.test/p/session/test_${randomId(40)}`,
    };
    this.portalSessions.set(session.id, session);
    return clone(session);
  }

  private listSubscriptions(call: Call): WireList<Stripe.Subscription> {
    const p = call.params;
    allowOnly(p, SUBSCRIPTION_LIST_PARAMS);
    const customer = stringParam(p, 'customer');
    const price = stringParam(p, 'price');
    const status = stringParam(p, 'status');
    const all = [...this.subscriptions.values()].filter(
      (s) =>
        (customer === undefined || s.customer === customer) &&
        (price === undefined || s.items.data.some((item) => item.price.id === price)) &&
        (status === 'all' ||
          (status === undefined
            ? s.status !== 'canceled'
            : status === 'ended'
              ? s.ended_at !== null
              : s.status === status)),
    );
    return this.page(this.newestFirst(all), p, '/v1/subscriptions', 'subscription');
  }

  private updateSubscription(call: Call): StripeSubscriptionObject {
    const id = decodeComponent(call.match[1]);
    const subscription = this.subscriptions.get(id);
    if (!subscription) {
      throw noSuch('subscription', id, 'id', 404);
    }
    const p = call.params;
    allowOnly(p, SUBSCRIPTION_UPDATE_PARAMS);
    if (
      subscription.status === 'canceled' &&
      Object.keys(p).some((k) => k !== 'metadata' && k !== 'expand')
    ) {
      throw new StripeApiError(
        400,
        {
          message: 'A canceled subscription can only update its cancellation_details and metadata.',
          type: 'invalid_request_error',
        },
        true,
      );
    }
    enumParam(p, 'proration_behavior', ['always_invoice', 'create_prorations', 'none'] as const);
    const cancelAtPeriodEnd = booleanParam(p, 'cancel_at_period_end');
    const description = stringParam(p, 'description');
    const items = arrayParam(p, 'items') ?? [];
    // Validate every item before changing anything.
    const changes = items.map((item, i) => {
      const prefix = `items[${i}]`;
      allowOnly(item, SUBSCRIPTION_ITEM_PARAMS, prefix);
      const itemId = stringParam(item, 'id', prefix);
      const existing =
        itemId === undefined ? undefined : subscription.items.data.find((si) => si.id === itemId);
      if (itemId !== undefined && !existing) {
        throw noSuch('subscription item', itemId, `${prefix}[id]`, 400);
      }
      const priceId = stringParam(item, 'price', prefix);
      const price = priceId === undefined ? undefined : this.prices.get(priceId);
      if (priceId !== undefined && !price) {
        throw noSuch('price', priceId, `${prefix}[price]`, 400);
      }
      if (price && price.type !== 'recurring') {
        throw invalidRequest(
          `The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`,
          `${prefix}[price]`,
        );
      }
      if (!existing && !price) {
        throw missingParam(`${prefix}[price]`);
      }
      return {
        existing,
        price,
        quantity: integerParam(item, 'quantity', prefix),
        deleted: booleanParam(item, 'deleted', prefix) ?? false,
        metadata: applyMetadata(existing?.metadata ?? {}, item, 'metadata', prefix),
      };
    });
    const metadata = applyMetadata(subscription.metadata, p);
    const before = clone(subscription);
    for (const change of changes) {
      const existing = change.existing;
      if (existing && change.deleted) {
        subscription.items.data = subscription.items.data.filter((si) => si.id !== existing.id);
        continue;
      }
      if (existing) {
        const price = change.price ?? existing.price;
        const quantity = change.quantity ?? existing.quantity ?? 1;
        existing.price = clone(price);
        existing.plan = this.planOf(price);
        if (price.recurring?.usage_type === 'metered') {
          delete existing.quantity;
        } else {
          existing.quantity = quantity;
        }
        existing.metadata = change.metadata;
        continue;
      }
      const period = this.currentPeriod(subscription);
      const added = this.subscriptionItem(
        subscription.id,
        change.price!,
        change.quantity ?? 1,
        period.start,
        period.end,
      );
      added.metadata = change.metadata;
      subscription.items.data.push(added);
    }
    subscription.items.total_count = subscription.items.data.length;
    if (cancelAtPeriodEnd !== undefined) {
      this.setCancelAtPeriodEnd(subscription, cancelAtPeriodEnd);
    }
    if (description !== undefined) {
      subscription.description = description || null;
    }
    subscription.metadata = metadata;
    const previous = previousAttributes(before, subscription);
    if (Object.keys(previous).length > 0) {
      this.emit('customer.subscription.updated', subscription, this.apiRequest(call), previous);
    }
    return clone(subscription);
  }

  private cancelSubscription(call: Call): StripeSubscriptionObject {
    const id = decodeComponent(call.match[1]);
    const subscription = this.subscriptions.get(id);
    if (!subscription) {
      throw noSuch('subscription', id, 'id', 404);
    }
    const p = call.params;
    allowOnly(p, SUBSCRIPTION_CANCEL_PARAMS);
    booleanParam(p, 'invoice_now');
    booleanParam(p, 'prorate');
    // Stripe answers a cancel of an already canceled subscription as if it did not exist.
    if (subscription.status === 'canceled') {
      throw noSuch('subscription', id, 'id', 404);
    }
    this.endSubscription(subscription, this.nowSeconds());
    this.emit('customer.subscription.deleted', subscription, this.apiRequest(call));
    return clone(subscription);
  }

  private createMeterEvent(call: Call): StripeMeterEventObject {
    const p = call.params;
    allowOnly(p, METER_EVENT_PARAMS);
    const eventName = requiredString(p, 'event_name');
    const payloadParam = p.payload;
    if (payloadParam === undefined) {
      throw missingParam('payload');
    }
    if (typeof payloadParam === 'string') {
      throw invalidRequest('Invalid object', 'payload');
    }
    const payload: Record<string, string> = {};
    for (const [key, value] of Object.entries(payloadParam)) {
      if (typeof value !== 'string') {
        throw invalidRequest('Invalid string', `payload[${key}]`);
      }
      payload[key] = value;
    }
    const now = this.nowSeconds();
    const timestamp = integerParam(p, 'timestamp') ?? now;
    // Stripe's rule (35 days back, 5 minutes ahead); the exact wording of these two refusals is not documented.
    if (timestamp < now - METER_EVENT_MAX_AGE_S) {
      throw invalidRequest('Timestamp must be no more than 35 days in the past.', 'timestamp');
    }
    if (timestamp > now + METER_EVENT_MAX_AHEAD_S) {
      throw invalidRequest('Timestamp must be no more than 5 minutes in the future.', 'timestamp');
    }
    const identifier = stringParam(p, 'identifier') || randomUUID();
    const seen = this.meterIdentifiers.get(identifier);
    if (seen !== undefined && now - seen < DAY_S) {
      throw new StripeApiError(
        400,
        { message: `An event already exists with identifier ${identifier}.`, type: 'invalid_request_error' },
        true,
        { 'stripe-should-retry': 'false' },
      );
    }
    this.meterIdentifiers.set(identifier, now);
    const event: StripeMeterEventObject = {
      object: 'billing.meter_event',
      created: now,
      event_name: eventName,
      identifier,
      livemode: false,
      payload,
      timestamp,
    };
    this.meterEvents.push({ ...clone(event), receivedAt: this.clock.now() });
    this.validateUsage(event);
    return event;
  }

  /** What Stripe checks after accepting a meter event; valid usage is kept for renewal invoices. */
  private validateUsage(event: StripeMeterEventObject): void {
    const meter = [...this.meters.values()].find((m) => m.eventName === event.event_name);
    const fail = (code: MeterEventError['code'], message: string) =>
      this.meterEventErrors.push({ identifier: event.identifier, code, message });
    if (!meter) {
      fail('no_meter', `No active meter was found for event_name ${event.event_name}.`);
      return;
    }
    const customerKey = meter.customerKey ?? 'stripe_customer_id';
    const valueKey = meter.valueKey ?? 'value';
    const customer = event.payload[customerKey];
    if (customer === undefined) {
      fail('meter_event_no_customer_defined', `Customer mapping key ${customerKey} not found in payload.`);
      return;
    }
    if (!this.customers.has(customer)) {
      fail('meter_event_customer_not_found', `Customer ${customer} was not found.`);
      return;
    }
    const value = event.payload[valueKey];
    if (value === undefined) {
      fail('missing_value', `Value key ${valueKey} not found in payload.`);
      return;
    }
    if (!/^-?\d+$/.test(value)) {
      fail('meter_event_invalid_value', `Meter event value ${value} is not a whole number.`);
      return;
    }
    this.usage.push({
      customer,
      eventName: event.event_name,
      value: Number(value),
      timestamp: event.timestamp,
    });
  }

  private listPrices(call: Call): WireList<Stripe.Price> {
    const p = call.params;
    allowOnly(p, PRICE_LIST_PARAMS);
    const active = booleanParam(p, 'active');
    const product = stringParam(p, 'product');
    const type = enumParam(p, 'type', ['one_time', 'recurring'] as const);
    const lookupKeys =
      p.lookup_keys === undefined
        ? undefined
        : typeof p.lookup_keys === 'string'
          ? [p.lookup_keys]
          : Object.values(p.lookup_keys).map(String);
    const all = [...this.prices.values()].filter(
      (price) =>
        (active === undefined || price.active === active) &&
        (product === undefined || price.product === product) &&
        (type === undefined || price.type === type) &&
        (lookupKeys === undefined || (price.lookup_key !== null && lookupKeys.includes(price.lookup_key))),
    );
    return this.page(this.newestFirst(all), p, '/v1/prices', 'price');
  }

  private retrieve(call: Call, kind: string): unknown {
    allowOnly(call.params, ['expand']);
    const id = decodeComponent(call.match[1]);
    const found = this.lookup(id);
    if (!found || (found as { object?: string }).object !== kind) {
      throw noSuch(kind, id, 'id', 404);
    }
    return clone(found);
  }

  // -- lists and expansion ----------------------------------------------------------------------------------

  private page<T extends { id: string }>(
    all: T[],
    params: FormObject,
    url: string,
    kind: string,
  ): { object: 'list'; data: T[]; has_more: boolean; url: string } {
    const limit = integerParam(params, 'limit') ?? 10;
    if (limit < 1 || limit > 100) {
      throw invalidRequest(
        'This value must be greater than or equal to 1 and less than or equal to 100.',
        'limit',
        'parameter_invalid_integer',
      );
    }
    let list = all;
    const after = stringParam(params, 'starting_after');
    const before = stringParam(params, 'ending_before');
    if (after !== undefined) {
      const index = list.findIndex((x) => x.id === after);
      if (index < 0) {
        throw noSuch(kind, after, 'starting_after', 400);
      }
      list = list.slice(index + 1);
    } else if (before !== undefined) {
      const index = list.findIndex((x) => x.id === before);
      if (index < 0) {
        throw noSuch(kind, before, 'ending_before', 400);
      }
      list = list.slice(Math.max(0, index - limit), index);
      return { object: 'list', data: clone(list), has_more: index - limit > 0, url };
    }
    return { object: 'list', data: clone(list.slice(0, limit)), has_more: list.length > limit, url };
  }

  private newestFirst<T extends { id: string }>(list: T[]): T[] {
    return [...list].sort((a, b) => (this.order.get(b.id) ?? 0) - (this.order.get(a.id) ?? 0));
  }

  private track(id: string): void {
    this.order.set(id, ++this.sequence);
  }

  private lookup(id: string): unknown {
    const prefix = id.startsWith('cs_') ? 'cs' : id.split('_')[0];
    switch (prefix) {
      case 'cus':
        return this.customers.get(id);
      case 'cs':
        return this.sessions.get(id)?.session;
      case 'sub':
        return this.subscriptions.get(id);
      case 'in':
        return this.invoices.get(id);
      case 'price':
        return this.prices.get(id);
      case 'prod':
        return this.products.get(id);
      case 'evt':
        return this.eventsById.get(id);
      case 'bps':
        return this.portalSessions.get(id);
      default:
        return undefined;
    }
  }

  private sessionLineItems(sessionId: string): StripeCheckoutLineItemObject[] {
    return this.sessions.get(sessionId)?.lineItems ?? [];
  }

  /** Replaces the ids named by each `expand` path with their objects (Stripe refuses a path it cannot expand). */
  private expand(value: unknown, paths: string[]): unknown {
    if (paths.length === 0) {
      return value;
    }
    const copy = clone(value);
    for (const path of paths) {
      this.expandPath(copy, path.split('.'), path);
    }
    return copy;
  }

  private expandPath(node: unknown, segments: string[], path: string): void {
    const refuse = () => invalidRequest(`This property cannot be expanded (${path}).`, 'expand');
    if (!isRecord(node)) {
      throw refuse();
    }
    const [head, ...rest] = segments;
    if (head === 'data' && node.object === 'list' && Array.isArray(node.data)) {
      for (const element of node.data) {
        if (rest.length > 0) {
          this.expandPath(element, rest, path);
        }
      }
      return;
    }
    if (head === 'line_items' && node.object === 'checkout.session' && typeof node.id === 'string') {
      node.line_items = {
        object: 'list',
        data: clone(this.sessionLineItems(node.id)),
        has_more: false,
        url: `/v1/checkout/sessions/${node.id}/line_items`,
      };
    } else if (!(head in node)) {
      throw refuse();
    } else if (typeof node[head] === 'string') {
      const found = this.lookup(node[head]);
      if (found === undefined) {
        throw refuse();
      }
      node[head] = clone(found);
    }
    const child = node[head];
    if (rest.length > 0 && child !== null) {
      this.expandPath(child, rest, path);
    }
  }

  // -- objects ----------------------------------------------------------------------------------------------

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  private apiRequest(call: Call): EventRequest {
    return { id: call.requestId, idempotency_key: call.idempotencyKey };
  }

  private seedPrice(seed: FakeStripePrice): void {
    const now = this.nowSeconds();
    const currency = seed.currency ?? 'usd';
    if (!this.products.has(seed.product.id)) {
      this.products.set(seed.product.id, {
        id: seed.product.id,
        object: 'product',
        active: true,
        created: now,
        default_price: seed.id,
        description: null,
        images: [],
        livemode: false,
        marketing_features: [],
        metadata: {},
        name: seed.product.name,
        package_dimensions: null,
        shippable: null,
        statement_descriptor: null,
        tax_code: null,
        tax_details: null,
        type: 'service',
        unit_label: null,
        updated: now,
        url: null,
      });
      this.track(seed.product.id);
    }
    const decimal =
      seed.unitAmountDecimal ?? (seed.unitAmount !== undefined ? String(seed.unitAmount) : null);
    const unitAmount =
      seed.unitAmount ?? (decimal !== null && Number.isInteger(Number(decimal)) ? Number(decimal) : null);
    this.prices.set(seed.id, {
      id: seed.id,
      object: 'price',
      active: true,
      billing_scheme: 'per_unit',
      created: now,
      currency,
      custom_unit_amount: null,
      livemode: false,
      lookup_key: seed.lookupKey ?? null,
      metadata: seed.metadata ?? {},
      nickname: seed.nickname ?? null,
      product: seed.product.id,
      recurring: seed.recurring
        ? {
            interval: seed.recurring.interval,
            interval_count: seed.recurring.intervalCount ?? 1,
            meter: seed.recurring.meter ?? null,
            trial_period_days: null,
            usage_type: seed.recurring.usageType ?? 'licensed',
          }
        : null,
      tax_behavior: 'unspecified',
      tiers_mode: null,
      transform_quantity: null,
      type: seed.recurring ? 'recurring' : 'one_time',
      unit_amount: unitAmount,
      unit_amount_decimal: decimal,
    });
    this.track(seed.id);
  }

  private planOf(price: StripePriceObject): Wire<Stripe.Plan> {
    const recurring = price.recurring!;
    return {
      id: price.id,
      object: 'plan',
      active: price.active,
      amount: price.unit_amount,
      amount_decimal: price.unit_amount_decimal,
      billing_scheme: price.billing_scheme,
      created: price.created,
      currency: price.currency,
      interval: recurring.interval,
      interval_count: recurring.interval_count,
      livemode: false,
      metadata: clone(price.metadata),
      meter: recurring.meter,
      nickname: price.nickname,
      product: price.product,
      tiers_mode: null,
      transform_usage: null,
      trial_period_days: null,
      usage_type: recurring.usage_type,
    };
  }

  private insertCustomer(fields: {
    email: string | null;
    name: string | null;
    description: string | null;
    phone: string | null;
    metadata: Record<string, string>;
  }): StripeCustomerObject {
    const customer: StripeCustomerObject = {
      id: newId('cus', 14),
      object: 'customer',
      address: null,
      balance: 0,
      created: this.nowSeconds(),
      currency: null,
      default_source: null,
      delinquent: false,
      description: fields.description,
      email: fields.email,
      invoice_prefix: randomBytes(4).toString('hex').toUpperCase(),
      invoice_settings: {
        custom_fields: null,
        default_payment_method: null,
        footer: null,
        rendering_options: null,
      },
      livemode: false,
      metadata: fields.metadata,
      name: fields.name,
      next_invoice_sequence: 1,
      phone: fields.phone,
      preferred_locales: [],
      shipping: null,
      tax_exempt: 'none',
      test_clock: null,
    };
    this.customers.set(customer.id, customer);
    this.track(customer.id);
    return customer;
  }

  private subscriptionItem(
    subscriptionId: string,
    price: StripePriceObject,
    quantity: number,
    start: number,
    end: number,
  ): StripeSubscriptionItemObject {
    const metered = price.recurring?.usage_type === 'metered';
    return {
      id: newId('si', 14),
      object: 'subscription_item',
      billing_thresholds: null,
      created: this.nowSeconds(),
      current_period_end: end,
      current_period_start: start,
      current_trial: null,
      discounts: [],
      metadata: {},
      plan: this.planOf(price),
      price: clone(price),
      ...(metered ? {} : { quantity }),
      subscription: subscriptionId,
      tax_rates: [],
    };
  }

  private createSubscription(customer: string, stored: StoredSession): StripeSubscriptionObject {
    const now = this.nowSeconds();
    const id = newId('sub');
    const recurringItems = stored.lineItems.filter((li) => li.price?.type === 'recurring');
    const first = recurringItems[0].price!.recurring!;
    const end = addInterval(now, first.interval, first.interval_count);
    const subscription: StripeSubscriptionObject = {
      id,
      object: 'subscription',
      application: null,
      application_fee_percent: null,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null },
      billing_cycle_anchor: now,
      billing_cycle_anchor_config: null,
      billing_mode: { flexible: { proration_discounts: 'included' }, type: 'flexible', updated_at: now },
      billing_schedules: [],
      billing_thresholds: null,
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: null,
      cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
      collection_method: 'charge_automatically',
      created: now,
      currency: stored.session.currency ?? 'usd',
      customer,
      customer_account: null,
      days_until_due: null,
      default_payment_method: newId('pm'),
      default_source: null,
      default_tax_rates: [],
      description: stored.subscriptionDescription,
      discounts: [],
      ended_at: null,
      invoice_settings: {
        account_tax_ids: null,
        custom_fields: null,
        description: null,
        footer: null,
        issuer: { type: 'self' },
      },
      items: {
        object: 'list',
        data: recurringItems.map((li) => this.subscriptionItem(id, li.price!, li.quantity ?? 1, now, end)),
        has_more: false,
        total_count: recurringItems.length,
        url: `/v1/subscription_items?subscription=${id}`,
      },
      latest_invoice: null,
      livemode: false,
      managed_payments: null,
      metadata: clone(stored.subscriptionMetadata),
      next_pending_invoice_item_invoice: null,
      on_behalf_of: null,
      pause_collection: null,
      payment_settings: {
        payment_method_options: null,
        payment_method_types: null,
        save_default_payment_method: 'off',
      },
      pending_invoice_item_interval: null,
      pending_setup_intent: null,
      pending_update: null,
      schedule: null,
      start_date: now,
      status: 'active',
      test_clock: null,
      transfer_data: null,
      trial_end: null,
      trial_settings: {
        end_behavior: { billing_cycle_anchor: null, missing_payment_method: 'create_invoice' },
      },
      trial_start: null,
    };
    this.subscriptions.set(id, subscription);
    this.track(id);
    return subscription;
  }

  private requireSubscription(id: string): StripeSubscriptionObject {
    const subscription = this.subscriptions.get(id);
    if (!subscription) {
      throw new Error(`fake Stripe: no subscription ${id}`);
    }
    return subscription;
  }

  private currentPeriod(subscription: StripeSubscriptionObject): { start: number; end: number } {
    const item = subscription.items.data[0];
    return item
      ? { start: item.current_period_start, end: item.current_period_end }
      : { start: subscription.billing_cycle_anchor, end: subscription.billing_cycle_anchor };
  }

  private setCancelAtPeriodEnd(subscription: StripeSubscriptionObject, cancel: boolean): void {
    if (subscription.cancel_at_period_end === cancel) {
      return;
    }
    subscription.cancel_at_period_end = cancel;
    subscription.cancel_at = cancel ? this.currentPeriod(subscription).end : null;
    subscription.canceled_at = cancel ? this.nowSeconds() : null;
    subscription.cancellation_details = {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: cancel ? 'cancellation_requested' : null,
    };
  }

  private endSubscription(subscription: StripeSubscriptionObject, at: number): void {
    subscription.status = 'canceled';
    subscription.ended_at = at;
    subscription.canceled_at = subscription.canceled_at ?? at;
    subscription.cancellation_details = {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: subscription.cancellation_details?.reason ?? 'cancellation_requested',
    };
  }

  private renew(subscriptionId: string, paid: boolean): StripeEventObject[] {
    const subscription = this.requireSubscription(subscriptionId);
    if (subscription.status === 'canceled') {
      throw new Error(`fake Stripe: subscription ${subscriptionId} is canceled`);
    }
    const period = this.currentPeriod(subscription);
    if (subscription.cancel_at_period_end) {
      this.endSubscription(subscription, period.end);
      return [this.emit('customer.subscription.deleted', subscription, NO_REQUEST)];
    }
    const before = clone(subscription);
    for (const item of subscription.items.data) {
      item.current_period_start = period.end;
      item.current_period_end = nextPeriodEnd(
        subscription.billing_cycle_anchor,
        item.price.recurring!,
        period.end,
      );
    }
    const invoice = this.createInvoice(subscription, 'subscription_cycle', {
      paid,
      periodStart: period.start,
      periodEnd: period.end,
    });
    subscription.latest_invoice = invoice.id;
    subscription.status = paid ? 'active' : 'past_due';
    const updated = () =>
      this.emit(
        'customer.subscription.updated',
        subscription,
        NO_REQUEST,
        previousAttributes(before, subscription),
      );
    if (paid) {
      const invoicePaid = this.emit('invoice.paid', invoice, NO_REQUEST);
      return [invoicePaid, updated()];
    }
    const failed = this.emit('invoice.payment_failed', invoice, NO_REQUEST);
    return [failed, updated()];
  }

  /**
   * An invoice for `subscription`: licensed items for their current period; on a renewal, metered items for the
   * usage of [periodStart, periodEnd) (the period just ended). Paid at once, or left open after one attempt.
   */
  private createInvoice(
    subscription: StripeSubscriptionObject,
    reason: 'subscription_create' | 'subscription_cycle',
    options: { paid: boolean; periodStart: number; periodEnd: number },
  ): StripeInvoiceObject {
    const now = this.nowSeconds();
    const id = newId('in');
    const customer = this.customers.get(String(subscription.customer));
    const lines: StripeInvoiceLineObject[] = [];
    for (const item of subscription.items.data) {
      const price = item.price;
      const metered = price.recurring?.usage_type === 'metered';
      if (metered && reason === 'subscription_create') {
        continue;
      }
      const quantity = metered
        ? this.meterUsage(String(subscription.customer), {
            eventName: this.meters.get(price.recurring?.meter ?? '')?.eventName ?? '',
            from: options.periodStart,
            to: options.periodEnd,
          })
        : (item.quantity ?? 1);
      const unit = price.unit_amount_decimal ?? '0';
      const amount = Math.round(Number(unit) * quantity);
      const product = this.products.get(String(price.product));
      const interval = price.recurring?.interval ?? 'month';
      lines.push({
        id: newId('il'),
        object: 'line_item',
        amount,
        currency: price.currency,
        description: `${quantity} × ${product?.name ?? price.id} (at ${formatMoney(unit, price.currency)} / ${interval})`,
        discount_amounts: [],
        discountable: true,
        discounts: [],
        invoice: id,
        livemode: false,
        metadata: {},
        parent: {
          invoice_item_details: null,
          subscription_item_details: {
            invoice_item: null,
            proration: false,
            proration_details: { credited_items: null },
            subscription: subscription.id,
            subscription_item: item.id,
          },
          type: 'subscription_item_details',
        },
        period: metered
          ? { start: options.periodStart, end: options.periodEnd }
          : { start: item.current_period_start, end: item.current_period_end },
        pretax_credit_amounts: [],
        pricing: {
          price_details: { price: price.id, product: String(price.product) },
          type: 'price_details',
          unit_amount_decimal: unit,
        },
        quantity,
        quantity_decimal: String(quantity),
        subscription: subscription.id,
        subtotal: amount,
        taxes: [],
      });
    }
    const total = lines.reduce((sum, line) => sum + line.amount, 0);
    const sequence = customer ? (customer.next_invoice_sequence ?? 1) : 1;
    if (customer) {
      customer.next_invoice_sequence = sequence + 1;
    }
    const invoice: StripeInvoiceObject = {
      id,
      object: 'invoice',
      account_country: 'US',
      account_name: 'Conflux Router (fake Stripe)',
      account_tax_ids: null,
      amount_due: total,
      amount_overpaid: 0,
      amount_paid: 0,
      amount_remaining: total,
      amount_shipping: 0,
      application: null,
      attempt_count: 1,
      attempted: true,
      auto_advance: !options.paid,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
      automatically_finalizes_at: null,
      billing_reason: reason,
      collection_method: 'charge_automatically',
      created: now,
      currency: subscription.currency,
      custom_fields: null,
      customer: String(subscription.customer),
      customer_account: null,
      customer_address: null,
      customer_email: customer?.email ?? null,
      customer_name: customer?.name ?? null,
      customer_phone: null,
      customer_shipping: null,
      customer_tax_exempt: 'none',
      customer_tax_ids: [],
      default_payment_method: null,
      default_source: null,
      default_tax_rates: [],
      description: null,
      discounts: [],
      due_date: null,
      effective_at: now,
      ending_balance: 0,
      footer: null,
      from_invoice: null,
      hosted_invoice_url: `https://invoice.stripe.test/i/${randomId(40)}`,
      invoice_pdf: `https://pay.stripe.test/invoice/${randomId(40)}/pdf`,
      issuer: { type: 'self' },
      last_finalization_error: null,
      latest_revision: null,
      lines: {
        object: 'list',
        data: lines,
        has_more: false,
        total_count: lines.length,
        url: `/v1/invoices/${id}/lines`,
      },
      livemode: false,
      metadata: {},
      next_payment_attempt: options.paid ? null : now + 3 * DAY_S,
      number: `${customer?.invoice_prefix ?? 'FAKE'}-${String(sequence).padStart(4, '0')}`,
      on_behalf_of: null,
      parent: {
        quote_details: null,
        subscription_details: { metadata: clone(subscription.metadata), subscription: subscription.id },
        type: 'subscription_details',
      },
      payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
      period_end: options.periodEnd,
      period_start: options.periodStart,
      post_payment_credit_notes_amount: 0,
      pre_payment_credit_notes_amount: 0,
      receipt_number: null,
      rendering: null,
      shipping_cost: null,
      shipping_details: null,
      starting_balance: 0,
      statement_descriptor: null,
      status: 'open',
      status_transitions: {
        finalized_at: now,
        marked_uncollectible_at: null,
        paid_at: null,
        voided_at: null,
      },
      subtotal: total,
      subtotal_excluding_tax: total,
      test_clock: null,
      total,
      total_discount_amounts: [],
      total_excluding_tax: total,
      total_pretax_credit_amounts: [],
      total_taxes: [],
      webhooks_delivered_at: now,
    };
    if (options.paid) {
      this.markPaid(invoice);
    }
    this.invoices.set(id, invoice);
    this.track(id);
    return invoice;
  }

  private markPaid(invoice: StripeInvoiceObject): void {
    const now = this.nowSeconds();
    invoice.status = 'paid';
    invoice.amount_paid = invoice.amount_due;
    invoice.amount_remaining = 0;
    invoice.auto_advance = false;
    invoice.next_payment_attempt = null;
    invoice.status_transitions.paid_at = now;
  }

  /** Records (and returns) the event Stripe would send, with a snapshot of `object` as it is now. */
  private emit(
    type: Stripe.Event.Type,
    object: object,
    request: EventRequest,
    previous?: Record<string, unknown>,
  ): StripeEventObject {
    const event: StripeEventObject = {
      id: newId('evt'),
      object: 'event',
      api_version: STRIPE_API_VERSION,
      created: this.nowSeconds(),
      data: {
        object: clone(object) as Record<string, unknown>,
        ...(previous ? { previous_attributes: clone(previous) } : {}),
      },
      livemode: false,
      pending_webhooks: 1,
      request,
      type,
    };
    this.events.push(event);
    this.eventsById.set(event.id, event);
    this.track(event.id);
    return clone(event);
  }
}

/** The first period boundary after `start` for a subscription anchored at `anchor` (Stripe keeps the anchor's day). */
function nextPeriodEnd(
  anchor: number,
  recurring: { interval: string; interval_count: number },
  start: number,
): number {
  let n = 1;
  while (addInterval(anchor, recurring.interval, recurring.interval_count * n) <= start) {
    n += 1;
  }
  return addInterval(anchor, recurring.interval, recurring.interval_count * n);
}

/** The previous values of the top-level fields that changed (Stripe's `previous_attributes`). */
function previousAttributes(before: object, after: object): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
      previous[key] = a[key] ?? null;
    }
  }
  return previous;
}

function faultError(status: number): StripeErrorBody {
  if (status === 429) {
    return {
      code: 'rate_limit',
      doc_url: docUrl('rate_limit'),
      message:
        'Request rate limit exceeded. You can learn more about rate limits here https://docs.stripe.com/rate-limits.',
      type: 'invalid_request_error',
    };
  }
  return {
    message:
      'Sorry, something went wrong. We have already been notified of the problem, but please contact ' +
      'support@stripe.com with any questions you may have.',
    type: 'api_error',
  };
}

/** `sk_test_abc…wxyz` → `sk_test_********wxyz`, as Stripe quotes a wrong key. */
function maskKey(key: string): string {
  const prefix = /^(sk|rk|pk)_(test|live)_/.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  const shown = rest.length > 4 ? rest.slice(-4) : '';
  return `${prefix}${'*'.repeat(rest.length - shown.length)}${shown}`;
}

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createStripeFake(options: FakeStripeOptions = {}): FakeStripe {
  return new FakeStripe(options);
}
