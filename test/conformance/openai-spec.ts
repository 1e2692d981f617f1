import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

/**
 * The OpenAI schema of record for the conformance suite: `openai-spec/chat-completions-subset.yaml` beside this
 * file, an extract of openai/openai-openapi (OpenAPI 3.1, MIT; its header names the upstream commit and carries
 * the licence). It ships with the repository, so a clone alone runs the suite; a missing file fails the suite
 * instead of skipping it.
 *
 * OpenAPI 3.1 schemas are JSON Schema 2020-12 except for a few leftovers this loader translates:
 * - `$ref: '#/components/schemas/X'` → `#/$defs/X` of one bundled schema;
 * - `nullable: true` (an OpenAPI 3.0 keyword still used in the document, e.g. on the stream chunk's
 *   `finish_reason` and `usage`) → `anyOf: [<schema>, {type: 'null'}]`. Left alone, JSON Schema ignores it and the
 *   `type: string` + `enum` beside it would reject the `finish_reason: null` of every chunk but the last (what
 *   OpenAI itself sends);
 * - OpenAPI/vendor annotations (`discriminator`, `example`, `x-*`) are not validation keywords: ignored.
 */
export const SPEC_URL = new URL('./openai-spec/chat-completions-subset.yaml', import.meta.url);

const SPEC_ID = 'https://conflux.invalid/openai-spec/chat-completions-subset.json';

type Schema = Record<string, unknown>;

export interface OpenAiSpec {
  document: {
    openapi: string;
    paths: Record<string, unknown>;
    components: { schemas: Record<string, Schema> };
  };
  /** The bundled, translated schemas by name. */
  schemas: Record<string, Schema>;
  validator(name: string): ValidateFunction;
  /** Names of the schemas reachable from `roots` (their own names included). */
  reachable(roots: string[]): string[];
}

export function loadOpenAiSpec(): OpenAiSpec {
  const path = fileURLToPath(SPEC_URL);
  if (!existsSync(path)) {
    throw new Error(
      `The OpenAI spec subset is missing: ${path}. The conformance suite validates the gateway against this ` +
        'copy of the schema kept in the repository.',
    );
  }
  const document = parse(readFileSync(path, 'utf8')) as OpenAiSpec['document'];
  if (
    !document?.components?.schemas ||
    typeof document.openapi !== 'string' ||
    !document.openapi.startsWith('3.1')
  ) {
    throw new Error(
      `${path} is not the OpenAPI 3.1 document the suite expects (components.schemas missing).`,
    );
  }
  const schemas = Object.fromEntries(
    Object.entries(document.components.schemas).map(([name, schema]) => [name, translate(schema) as Schema]),
  );

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  // ajv-formats is CommonJS: its default export is the plugin function itself
  const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
  addFormats(ajv);
  // OpenAI's own format: a Unix time in seconds (the schema also says `type: integer`)
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addSchema({ $id: SPEC_ID, $defs: schemas });

  const compiled = new Map<string, ValidateFunction>();
  return {
    document,
    schemas,
    validator(name) {
      if (!(name in schemas)) {
        throw new Error(`No schema ${name} in the spec subset`);
      }
      let validate = compiled.get(name);
      if (!validate) {
        validate = ajv.compile({ $ref: `${SPEC_ID}#/$defs/${name}` });
        compiled.set(name, validate);
      }
      return validate;
    },
    reachable(roots) {
      const seen = new Set<string>();
      const visit = (name: string): void => {
        if (seen.has(name) || !(name in schemas)) {
          return;
        }
        seen.add(name);
        refsOf(schemas[name]).forEach(visit);
      };
      roots.forEach(visit);
      return [...seen];
    },
  };
}

function translate(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(translate);
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  const out: Schema = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$ref' && typeof inner === 'string') {
      out.$ref = inner.replace(/^#\/components\/schemas\//, '#/$defs/');
    } else if (key === 'properties' && typeof inner === 'object' && inner !== null) {
      // property names are not keywords: translate each property's schema, not the map itself
      out.properties = Object.fromEntries(Object.entries(inner).map(([name, s]) => [name, translate(s)]));
    } else if (key !== 'nullable') {
      out[key] = translate(inner);
    }
  }
  if ((value as Schema).nullable === true) {
    const { description, ...schema } = out;
    return { ...(description !== undefined ? { description } : {}), anyOf: [schema, { type: 'null' }] };
  }
  return out;
}

function refsOf(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.flatMap(refsOf);
  }
  if (typeof value !== 'object' || value === null) {
    return [];
  }
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/')
      ? [inner.slice('#/$defs/'.length)]
      : refsOf(inner),
  );
}

/** Ajv's errors, readable in a test failure. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 8)
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    .join('\n');
}
