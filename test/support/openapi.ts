import { GUARDS_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isDashboardRoute } from '../../src/dashboard/dashboard.js';

/**
 * What the API-reference test reads: the routes the app serves (Fastify's route table), the Nest handler behind
 * an operation (its guards, whether it takes a body), and a validator for the spec's OpenAPI 3.0 schemas.
 */

export type Spec = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
};
export type Json = Record<string, any>;
export interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media>; headers?: Json }>;
  security?: Array<Record<string, string[]>>;
}
export interface Media {
  schema?: Json;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}

export interface Route {
  method: string;
  /** As Fastify has it: `/v1/keys/:id`, `/v1/models/*`. */
  url: string;
  /** As the spec has it: `/v1/keys/{id}`, `/v1/models/{path}`. */
  path: string;
}

/** Swagger UI's own routes (the reference itself) and the web dashboard's: not part of the API it documents. */
export const REFERENCE_ROUTES = (url: string): boolean =>
  url === '/openapi.json' ||
  url === '/docs' ||
  url === '/docs-yaml' ||
  url.startsWith('/docs/') ||
  isDashboardRoute(url);

/**
 * Every method + path Fastify routes, read from its route tree (`printRoutes()`: one node per line, indented 4
 * characters per level, a node's path the concatenation of its ancestors'). Each is checked with
 * `hasRoute`, so a misread tree fails here rather than passing silently. HEAD routes Fastify adds for GETs and
 * the CORS preflight route are left out.
 */
export function servedRoutes(app: NestFastifyApplication): Route[] {
  const fastify = app.getHttpAdapter().getInstance();
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of fastify.printRoutes().split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) {
      continue;
    }
    const depth = match[1].length / 4;
    stack.length = depth;
    // Routes on more than one root (`/…` and the CORS preflight's `*`) hang under a root without a path.
    stack.push(match[2] === '(empty root node)' ? '' : match[2]);
    const url = stack.join('');
    for (const method of match[3]?.split(', ') ?? []) {
      if (method === 'OPTIONS' && url === '*') {
        continue; // the CORS preflight (@fastify/cors, any path): the browser's protocol, not an operation
      }
      routes.push({ method, url, path: url.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{path}') });
    }
  }
  for (const route of routes) {
    if (!fastify.hasRoute({ method: route.method as 'GET', url: route.url })) {
      throw new Error(`misread the route table: ${route.method} ${route.url} is not a route`);
    }
  }
  return routes.filter(
    (r) => !(r.method === 'HEAD' && routes.some((o) => o.method === 'GET' && o.url === r.url)),
  );
}

/** The controller method behind an operation (Nest's operationId is `Controller_method`). */
export interface Handler {
  controller: Type;
  method: string;
  guards: string[];
  takesBody: boolean;
}

export function handlerOf(app: NestFastifyApplication, operationId: string): Handler {
  const [controllerName, method] = operationId.split('_');
  const controllers = [...app.get(ModulesContainer).values()].flatMap((module) =>
    [...module.controllers.values()].map((wrapper) => wrapper.metatype as Type),
  );
  const controller = controllers.find((c) => c.name === controllerName);
  if (!controller || typeof controller.prototype[method] !== 'function') {
    throw new Error(`no controller method for operation ${operationId}`);
  }
  const handler = controller.prototype[method] as object;
  const guards = [
    ...((Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? []),
    ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []),
  ].map((guard) => (typeof guard === 'function' ? guard.name : (guard as object).constructor.name));
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<
    string,
    unknown
  >;
  const takesBody = Object.keys(args).some((key) => Number(key.split(':')[0]) === RouteParamtypes.BODY);
  return { controller, method, guards, takesBody };
}

const SPEC_ID = 'https://conflux.invalid/openapi.json';

/**
 * An OpenAPI 3.0 schema → JSON Schema: `nullable` → a `null` type (or an `anyOf` with null around a composition),
 * refs into one bundled document, annotations dropped. With `close`, an object that lists its properties and says
 * nothing of others gets `additionalProperties: false`: a real answer or an example with a field the reference
 * does not document fails.
 */
export function toJsonSchema(node: unknown, close: boolean): unknown {
  if (Array.isArray(node)) {
    return node.map((item) => toJsonSchema(item, close));
  }
  if (typeof node !== 'object' || node === null) {
    return node;
  }
  const source = node as Json;
  let out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (
      ['nullable', 'discriminator', 'example', 'examples', 'xml', 'externalDocs', 'deprecated'].includes(key)
    ) {
      continue;
    }
    if (key === '$ref') {
      out.$ref = (value as string).replace('#/components/schemas/', `${SPEC_ID}#/definitions/`);
    } else if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Json).map(([name, schema]) => [name, toJsonSchema(schema, close)]),
      );
    } else {
      out[key] = toJsonSchema(value, close);
    }
  }
  if (
    close &&
    out.type === 'object' &&
    out.properties &&
    !('additionalProperties' in out) &&
    !out.oneOf &&
    !out.anyOf &&
    !out.allOf
  ) {
    out.additionalProperties = false;
  }
  if (source.nullable === true) {
    if (out.$ref || out.allOf || out.oneOf || out.anyOf) {
      const { description, ...rest } = out;
      out = { ...(description ? { description } : {}), anyOf: [rest, { type: 'null' }] };
    } else {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) {
        out.enum = [...out.enum, null];
      }
    }
  }
  return out;
}

export interface SchemaValidator {
  /** Validates `value` against an OpenAPI schema of the spec (inline or a `$ref`). */
  check(schema: Json, value: unknown): string | null;
}

export function schemaValidator(spec: Spec, close: boolean): SchemaValidator {
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (ajv: Ajv) => Ajv)(ajv);
  const definitions = Object.fromEntries(
    Object.entries(spec.components.schemas).map(([name, schema]) => [name, toJsonSchema(schema, close)]),
  );
  ajv.addSchema({ $id: SPEC_ID, definitions });
  const compiled = new Map<string, ValidateFunction>();
  return {
    check(schema, value) {
      const key = JSON.stringify(schema);
      let validate = compiled.get(key);
      if (!validate) {
        validate = ajv.compile(toJsonSchema(schema, close) as Json);
        compiled.set(key, validate);
      }
      return validate(value) ? null : describe(validate.errors);
    },
  };
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 6)
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    .join('\n');
}

/** The `data:` payloads of a `text/event-stream` body (comment lines skipped). */
export function sseEvents(text: string): string[] {
  return text
    .split(/\n\n/)
    .map((frame) =>
      frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n'),
    )
    .filter((data) => data !== '');
}
