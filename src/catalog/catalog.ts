import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';
import type { Capabilities, CatalogDeployment, CatalogModel, PriceVersion } from './catalog.types.js';
import data from './models.json' with { type: 'json' };

/**
 * The model catalog: `models.json` (snake_case, prices as decimal strings) → typed `CatalogModel`s (camelCase,
 * prices as bigint). The data is validated as a whole: a bad entry fails at startup with an error naming the
 * model, the deployment and the field, never later on a request. Keys starting with `_` are comments; any other
 * unknown key is refused (it is most likely a typo of a known one).
 */

export class CatalogError extends Error {
  constructor(message: string) {
    super(`Invalid model catalog: ${message}`);
    this.name = 'CatalogError';
  }
}

type Json = Record<string, unknown>;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DECIMAL_INTEGER = /^(0|[1-9]\d*)$/;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the fields of one JSON object, each read naming `where` and the field in its error. */
class Reader {
  constructor(
    readonly where: string,
    private readonly obj: Json,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(obj)) {
      if (!key.startsWith('_') && !allowed.includes(key)) {
        throw this.error(key, `is not a known field (expected one of: ${allowed.join(', ')})`);
      }
    }
  }

  error(field: string, problem: string): CatalogError {
    return new CatalogError(`${this.where}: \`${field}\` ${problem}`);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined;
  }

  string(field: string): string {
    const value = this.obj[field];
    if (typeof value !== 'string' || value.trim() === '') {
      throw this.error(field, `must be a non-empty string, got ${show(value)}`);
    }
    return value;
  }

  nullableString(field: string): string | null {
    return this.obj[field] === null ? null : this.string(field);
  }

  boolean(field: string): boolean {
    const value = this.obj[field];
    if (typeof value !== 'boolean') {
      throw this.error(field, `must be true or false, got ${show(value)}`);
    }
    return value;
  }

  positiveInteger(field: string): number {
    const value = this.obj[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw this.error(field, `must be a positive integer, got ${show(value)}`);
    }
    return value;
  }

  /** A price: a decimal string of an integer number of µcr per million tokens (a string, so no float creeps in). */
  micro(field: string): bigint {
    const value = this.obj[field];
    if (typeof value !== 'string' || !DECIMAL_INTEGER.test(value)) {
      throw this.error(
        field,
        `must be an integer number of micro-credits per million tokens as a decimal string (e.g. "800000000"), got ${show(value)}`,
      );
    }
    return BigInt(value);
  }

  array(field: string): unknown[] {
    const value = this.obj[field];
    if (!Array.isArray(value)) {
      throw this.error(field, `must be an array, got ${show(value)}`);
    }
    return value;
  }

  object(field: string): Json {
    const value = this.obj[field];
    if (!isObject(value)) {
      throw this.error(field, `must be an object, got ${show(value)}`);
    }
    return value;
  }

  stringArray(field: string): string[] {
    const items = this.array(field);
    const strings = items.map((item, i) => {
      if (typeof item !== 'string' || item === '') {
        throw this.error(`${field}[${i}]`, `must be a non-empty string, got ${show(item)}`);
      }
      return item;
    });
    const duplicate = strings.find((s, i) => strings.indexOf(s) !== i);
    if (duplicate !== undefined) {
      throw this.error(field, `lists "${duplicate}" twice`);
    }
    return strings;
  }

  stringMap(field: string): Record<string, string> {
    const map = this.object(field);
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(map)) {
      if (typeof value !== 'string' || value === '') {
        throw this.error(`${field}.${key}`, `must be a non-empty string, got ${show(value)}`);
      }
      out[key] = value;
    }
    if (Object.keys(out).length === 0) {
      throw this.error(
        field,
        'must map at least one value (leave the field out for a model without reasoning)',
      );
    }
    return out;
  }
}

function show(value: unknown): string {
  if (value === undefined) {
    return 'nothing';
  }
  const text = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isProvider(value: string): value is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(value);
}

function readPrice(where: string, raw: unknown): PriceVersion {
  if (!isObject(raw)) {
    throw new CatalogError(`${where} must be an object, got ${show(raw)}`);
  }
  const r = new Reader(where, raw, ['effective_from', 'input', 'cached_input', 'output', 'long_context']);
  const effectiveFrom = r.string('effective_from');
  if (!ISO_DATE.test(effectiveFrom) || Number.isNaN(Date.parse(`${effectiveFrom}T00:00:00Z`))) {
    throw r.error('effective_from', `must be an ISO date (YYYY-MM-DD), got ${show(effectiveFrom)}`);
  }
  if (new Date(`${effectiveFrom}T00:00:00Z`).toISOString().slice(0, 10) !== effectiveFrom) {
    throw r.error('effective_from', `is not a calendar date: ${show(effectiveFrom)}`);
  }
  const price: PriceVersion = {
    effectiveFrom,
    inputPerM: r.micro('input'),
    cachedInputPerM: r.micro('cached_input'),
    outputPerM: r.micro('output'),
  };
  if (r.has('long_context')) {
    const l = new Reader(`${where}.long_context`, r.object('long_context'), [
      'threshold_tokens',
      'input',
      'cached_input',
      'output',
    ]);
    price.longContext = {
      thresholdTokens: l.positiveInteger('threshold_tokens'),
      inputPerM: l.micro('input'),
      cachedInputPerM: l.micro('cached_input'),
      outputPerM: l.micro('output'),
    };
  }
  return price;
}

function readDeployment(where: string, raw: unknown): CatalogDeployment {
  if (!isObject(raw)) {
    throw new CatalogError(`${where} must be an object, got ${show(raw)}`);
  }
  const r = new Reader(where, raw, [
    'provider',
    'model',
    'context_window',
    'max_output_tokens',
    'unsupported_params',
    'forced_tool_choice',
    'reasoning_effort',
    'prices',
  ]);
  const provider = r.string('provider');
  if (!isProvider(provider)) {
    throw r.error('provider', `"${provider}" is not a known provider (${PROVIDER_IDS.join(', ')})`);
  }
  const contextWindow = r.positiveInteger('context_window');
  const maxOutputTokens = r.positiveInteger('max_output_tokens');
  if (maxOutputTokens > contextWindow) {
    throw r.error('max_output_tokens', `(${maxOutputTokens}) exceeds context_window (${contextWindow})`);
  }
  const rawPrices = r.array('prices');
  if (rawPrices.length === 0) {
    throw r.error('prices', 'must hold at least one price version');
  }
  const prices = rawPrices.map((p, i) => readPrice(`${where}.prices[${i}]`, p));
  for (let i = 1; i < prices.length; i++) {
    if (prices[i].effectiveFrom <= prices[i - 1].effectiveFrom) {
      throw r.error(
        `prices[${i}].effective_from`,
        `must be later than the previous version's (${prices[i - 1].effectiveFrom}): sort prices by date, oldest first, one version per date`,
      );
    }
  }
  const deployment: CatalogDeployment = {
    provider,
    providerModel: r.string('model'),
    contextWindow,
    maxOutputTokens,
    unsupportedParams: r.stringArray('unsupported_params'),
    forcedToolChoice: r.boolean('forced_tool_choice'),
    prices,
  };
  if (r.has('reasoning_effort')) {
    deployment.reasoningEffort = r.stringMap('reasoning_effort');
  }
  return deployment;
}

function readCapabilities(r: Reader): Capabilities {
  const c = new Reader(`${r.where}.capabilities`, r.object('capabilities'), [
    'tools',
    'images',
    'json_schema',
  ]);
  return { tools: c.boolean('tools'), images: c.boolean('images'), jsonSchema: c.boolean('json_schema') };
}

function readModel(index: number, raw: unknown): CatalogModel {
  if (!isObject(raw)) {
    throw new CatalogError(`models[${index}] must be an object, got ${show(raw)}`);
  }
  const where = typeof raw.id === 'string' && raw.id.trim() !== '' ? `model "${raw.id}"` : `models[${index}]`;
  const r = new Reader(where, raw, ['id', 'owned_by', 'created', 'fallback', 'capabilities', 'deployments']);
  const id = r.string('id');
  const rawDeployments = r.array('deployments');
  if (rawDeployments.length === 0) {
    throw r.error('deployments', 'must list at least one deployment');
  }
  const deployments = rawDeployments.map((d, i) => readDeployment(`${where}.deployments[${i}]`, d));
  const seen = new Set<string>();
  deployments.forEach((d, i) => {
    if (seen.has(d.provider)) {
      throw r.error(
        `deployments[${i}].provider`,
        `"${d.provider}" is listed twice: one deployment per provider`,
      );
    }
    seen.add(d.provider);
  });
  return {
    id,
    ownedBy: r.string('owned_by'),
    created: r.positiveInteger('created'),
    contextWindow: Math.max(...deployments.map((d) => d.contextWindow)),
    maxOutputTokens: Math.max(...deployments.map((d) => d.maxOutputTokens)),
    deployments,
    fallback: r.nullableString('fallback'),
    capabilities: readCapabilities(r),
  };
}

/**
 * Validates the catalog data (`{"models": [...]}`) and converts it to the typed catalog. Throws a
 * `CatalogError` naming the model and field at fault: unknown provider, price not an integer string, prices
 * not sorted by date, no deployment, duplicate model ids, a fallback that names an unknown model or itself…
 */
export function loadCatalog(raw: unknown): CatalogModel[] {
  if (!isObject(raw)) {
    throw new CatalogError(`the catalog must be an object with a "models" array, got ${show(raw)}`);
  }
  const root = new Reader('catalog', raw, ['models']);
  const items = root.array('models');
  if (items.length === 0) {
    throw root.error('models', 'must list at least one model');
  }
  const models = items.map((item, index) => readModel(index, item));

  const ids = new Set<string>();
  for (const model of models) {
    if (ids.has(model.id)) {
      throw new CatalogError(`model "${model.id}": \`id\` is used by more than one model`);
    }
    ids.add(model.id);
  }
  for (const model of models) {
    if (model.fallback === null) {
      continue;
    }
    if (model.fallback === model.id) {
      throw new CatalogError(`model "${model.id}": \`fallback\` names the model itself`);
    }
    if (!ids.has(model.fallback)) {
      throw new CatalogError(
        `model "${model.id}": \`fallback\` "${model.fallback}" is not a model of the catalog`,
      );
    }
  }
  return models;
}

/** The catalog shipped with the gateway (`models.json`), validated once, on first use. */
let shipped: CatalogModel[] | undefined;
export function defaultCatalog(): CatalogModel[] {
  shipped ??= loadCatalog(data);
  return shipped;
}
