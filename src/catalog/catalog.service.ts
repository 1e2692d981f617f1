import { Inject, Injectable, Optional } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { defaultCatalog } from './catalog.js';
import type { CatalogModel } from './catalog.types.js';

/** Optional provider: a catalog to serve instead of the shipped `models.json` (tests). Must be loaded with `loadCatalog`. */
export const CATALOG_MODELS = Symbol('CATALOG_MODELS');

/** The gateway's models, read once from the validated catalog. */
@Injectable()
export class CatalogService {
  private readonly models: readonly CatalogModel[];
  private readonly byId: ReadonlyMap<string, CatalogModel>;
  /** Each model's failover chain, computed once: the catalog does not change while the process runs. */
  private readonly chains = new Map<string, CatalogModel[]>();

  constructor(@Optional() @Inject(CATALOG_MODELS) models?: readonly CatalogModel[]) {
    this.models = models ?? defaultCatalog();
    this.byId = new Map(this.models.map((model) => [model.id, model]));
  }

  /** Every model, in catalog order. */
  list(): readonly CatalogModel[] {
    return this.models;
  }

  get(id: string): CatalogModel | undefined {
    return this.byId.get(id);
  }

  /** The model, or 404 `model_not_found` (param `model`). */
  require(id: string): CatalogModel {
    const model = this.byId.get(id);
    if (!model) {
      throw new GatewayError(
        ErrorCode.ModelNotFound,
        `The model \`${id}\` does not exist or you do not have access to it.`,
        { param: 'model' },
      );
    }
    return model;
  }

  /**
   * The model followed by its fallback, the fallback's fallback, …, each model once: the chain stops where a
   * fallback leads back to a model already in it (gpt-6.2-astra ⇄ claude-fable-5-2). Unknown id → 404.
   */
  chain(id: string): readonly CatalogModel[] {
    const known = this.chains.get(id);
    if (known) {
      return known;
    }
    const chain: CatalogModel[] = [];
    const seen = new Set<string>();
    let next: CatalogModel | undefined = this.require(id);
    while (next && !seen.has(next.id)) {
      chain.push(next);
      seen.add(next.id);
      next = next.fallback === null ? undefined : this.byId.get(next.fallback);
    }
    this.chains.set(id, chain);
    return chain;
  }
}
