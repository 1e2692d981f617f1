import { applyDecorators } from '@nestjs/common';
import {
  ApiProperty,
  ApiResponse,
  type ExampleObject,
  type HeaderObject,
  type ReferenceObject,
  type SchemaObject,
} from '@nestjs/swagger';
import { toErrorResponse } from './error-response.js';
import { ERROR_SHAPES, ErrorCode, GatewayError } from './errors.js';

/**
 * What the API reference (`/docs`, `openapi.json`) is built from besides the controllers' own decorators: the
 * error envelope, `@ApiErrors(...)` (error responses with their examples, from `ERROR_SHAPES`), the response
 * headers, and `openApiComponents()` (a JSON Schema the gateway validates with, as OpenAPI 3.0 components).
 */

/** The request id of every example (the real ones are `req_` and 24 hex digits). */
export const EXAMPLE_REQUEST_ID = 'req_5f0c2a9be4d17c3a86f1e2d0';

/** Every OpenAI `type` an error can have, read from the table the exception filter answers with. */
const ERROR_TYPES = [...new Set(Object.values(ERROR_SHAPES).map((shape) => shape.type))];

export class ErrorDetailDto {
  @ApiProperty({
    description: 'What went wrong, for a person to read. A 5xx names the request id (`x-request-id`).',
    example: "Missing required parameter: 'messages'.",
  })
  message!: string;

  @ApiProperty({
    enum: ERROR_TYPES,
    description: 'The OpenAI error type (what the OpenAI SDKs read).',
    example: 'invalid_request_error',
  })
  type!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The request field at fault (`temperature`, `messages[2].content`), or null.',
    example: 'messages',
  })
  param!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'A machine-readable code (`invalid_api_key`, `insufficient_quota`, `model_not_found`, `rate_limit_exceeded`, ' +
      '`service_unavailable`, …), or null for a plain invalid request.',
    example: null,
  })
  code!: string | null;
}

/** The OpenAI error envelope, as documented in the spec. */
export class ErrorDto {
  @ApiProperty({ type: ErrorDetailDto }) error!: ErrorDetailDto;
}

/** Security scheme names used in the spec. */
export const API_KEY_AUTH = 'apiKey';
export const SESSION_AUTH = 'session';

const stringHeader = (description: string, example?: string): HeaderObject => ({
  description,
  schema: { type: 'string', ...(example !== undefined ? { example } : {}) },
});

/** The response headers the reference documents, by name. */
export const RESPONSE_HEADERS = {
  'x-request-id': stringHeader(
    'The id of this request, on every answer (and in the log line): quote it to support.',
    EXAMPLE_REQUEST_ID,
  ),
  'retry-after': stringHeader('Seconds to wait before retrying.', '1'),
  'x-should-retry': stringHeader(
    '`false`: retrying the same request now will not help (the gateway already tried every provider, or the ' +
      'account is out of credits).',
    'false',
  ),
  'x-ratelimit-limit-requests': stringHeader(
    "Requests this key may make per window (its plan's limit).",
    '60',
  ),
  'x-ratelimit-remaining-requests': stringHeader('Requests left in the current window.', '59'),
  'x-ratelimit-reset-requests': stringHeader('Time until the window resets, e.g. `1m0s`, `12s`.', '1m0s'),
  'x-conflux-provider': stringHeader('The provider that served the request.', 'openai'),
  'x-conflux-model': stringHeader(
    'The model that served the request (the fallback model when it took over).',
    'gpt-6-luna',
  ),
  'x-conflux-attempts': stringHeader('How many providers were tried.', '1'),
  'x-conflux-cost-credits': stringHeader(
    'What the request cost, in credits (non-streaming answers; `0` for test keys).',
    '0.00042',
  ),
  'x-conflux-credits-remaining': stringHeader(
    "The account's balance after the request, in credits (live keys, non-streaming answers).",
    '499.99958',
  ),
  'x-conflux-idempotent-replay': stringHeader(
    '`true` when the answer is the stored one of an earlier request with the same Idempotency-Key (not charged ' +
      'again).',
    'true',
  ),
} satisfies Record<string, HeaderObject>;

export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/** The headers object of a response, from `RESPONSE_HEADERS`. */
export function responseHeaders(...names: ResponseHeader[]): Record<string, HeaderObject> {
  return Object.fromEntries(names.map((name) => [name, RESPONSE_HEADERS[name]]));
}

/** When each error happens, in one line (the default of an example's summary). */
const WHEN: Record<ErrorCode, string> = {
  [ErrorCode.InvalidRequest]: 'The request is invalid; `param` names the field at fault.',
  [ErrorCode.InvalidJson]: 'The body is not valid JSON.',
  [ErrorCode.UnsupportedParameter]:
    'A parameter the model cannot honour that changes the answer (tools, response_format, n, images, logprobs), ' +
    'or any it cannot take with `x-conflux-strict-params: true`; never clamped.',
  [ErrorCode.ContextLengthExceeded]:
    "The prompt (plus `max_tokens`) does not fit the model's context window.",
  [ErrorCode.UpstreamBadRequest]: 'The provider rejected the request as malformed: its message is relayed.',
  [ErrorCode.InvalidApiKey]: 'No key, or a malformed, unknown, revoked or expired one.',
  [ErrorCode.InvalidCredentials]: 'Wrong email or password.',
  [ErrorCode.InsufficientQuota]:
    "Free plan: not enough credits left for the request's worst case (prompt plus `max_tokens`).",
  [ErrorCode.KeyCreditLimit]:
    'The key spent its `credit_limit` for this billing period: raise or clear the limit (PATCH /v1/keys/{id}), use another key, or wait for the billing date.',
  [ErrorCode.ModelNotAllowed]:
    "The key's `allowed_models` does not include a model the request names (`model` or `models`).",
  [ErrorCode.PaymentOverdue]:
    'The subscription payment has failed for longer than `PAYMENT_GRACE_DAYS`: update the payment method.',
  [ErrorCode.PermissionDenied]: 'Not allowed with these credentials.',
  [ErrorCode.NotFound]: 'No such object.',
  [ErrorCode.ModelNotFound]: 'No such model (see `GET /v1/models`).',
  [ErrorCode.Conflict]: 'Conflicts with an existing object or a request in progress.',
  [ErrorCode.PayloadTooLarge]: 'The body is larger than the limit (`BODY_LIMIT_BYTES`, 10 MiB by default).',
  [ErrorCode.UnsupportedMediaType]: 'A body that is not `application/json`.',
  [ErrorCode.RateLimitExceeded]: 'Too many requests: wait `retry-after` seconds.',
  [ErrorCode.UpstreamAuth]: "The gateway's own provider credentials were refused: not your request's fault.",
  [ErrorCode.UpstreamError]: 'A provider failure that cannot be retried elsewhere.',
  [ErrorCode.UpstreamTimeout]: 'Every provider tried timed out before its first byte.',
  [ErrorCode.RequestTimeout]:
    'The request was not received in time (`REQUEST_TIMEOUT_MS`, `HEADERS_TIMEOUT_MS`).',
  [ErrorCode.HeaderFieldsTooLarge]: 'The request headers are larger than the server accepts.',
  [ErrorCode.ServiceUnavailable]:
    'Nothing can serve the request right now: retry after `retry-after` seconds.',
  [ErrorCode.Internal]: 'An unexpected error. The message names the request id: quote it to support.',
};

/** Headers an error of each code carries (besides `x-request-id`, on every answer). */
const ERROR_HEADERS: Partial<Record<ErrorCode, ResponseHeader[]>> = {
  [ErrorCode.RateLimitExceeded]: ['retry-after'],
  [ErrorCode.ServiceUnavailable]: ['retry-after'],
  [ErrorCode.InsufficientQuota]: ['x-should-retry'],
  [ErrorCode.PaymentOverdue]: ['x-should-retry'],
  [ErrorCode.KeyCreditLimit]: ['x-should-retry'],
  [ErrorCode.UpstreamAuth]: ['x-should-retry'],
};

/** One documented error answer: the domain error, and what the gateway says in this case. */
export interface ErrorExample {
  /** The domain error; its row of `ERROR_SHAPES` gives the status, the `type` and the `code`. */
  error: ErrorCode;
  /** The message the gateway sends (the row's default otherwise). */
  message?: string;
  /** The field at fault (`param`). */
  param?: string;
  /** The more specific `code` the gateway sends in this case (`email_taken`, `idempotency_key_in_use`, …). */
  code?: string | null;
  /** When it happens, one line (a default per error code otherwise). */
  when?: string;
  /** The example's key in the spec (the body's `code` otherwise, or the error code when that is null). */
  name?: string;
  /** Headers this answer carries besides `x-request-id` (a default per error code otherwise). */
  headers?: ResponseHeader[];
}

/**
 * The 503s of an instance rather than of a route: every route but `/health/*` and `/metrics` answers them (a
 * draining instance refuses new work before routing; a database out of reach fails any route that reads it).
 */
export const INSTANCE_UNAVAILABLE: ErrorExample[] = [
  {
    error: ErrorCode.ServiceUnavailable,
    name: 'shutting_down',
    message: 'This gateway instance is shutting down. Retry.',
    when: 'This instance is shutting down: retry (another instance answers).',
  },
  {
    error: ErrorCode.ServiceUnavailable,
    name: 'database_unreachable',
    message: 'The service is briefly unable to reach its database. Please retry shortly.',
    when: 'The database is restarting or out of reach: retry after `retry-after` seconds.',
  },
];

/** A key past its plan's requests per minute (`RateLimitGuard`). */
export const KEY_RATE_LIMITED: ErrorExample = {
  error: ErrorCode.RateLimitExceeded,
  message:
    'Rate limit reached for requests on key key_WgBkzvvM0wrSnafmDS8yQi7V: limit 60 per minute. Please try again ' +
    'in 42s.',
  when: 'The key made its plan’s requests per minute: wait `retry-after` seconds.',
  headers: [
    'retry-after',
    'x-ratelimit-limit-requests',
    'x-ratelimit-remaining-requests',
    'x-ratelimit-reset-requests',
  ],
};

const MISSING_KEY: ErrorExample = {
  error: ErrorCode.InvalidApiKey,
  name: 'missing_api_key',
  message:
    "You didn't provide an API key. Send it in the Authorization header: `Authorization: Bearer cf_live_…`.",
  when: 'No `Authorization: Bearer …` header.',
};

/** The key of a suspended account (support suspends it; the message says whom to ask). */
const ACCOUNT_SUSPENDED: ErrorExample = {
  error: ErrorCode.PermissionDenied,
  name: 'account_suspended',
  message: 'This account is suspended. Contact support to restore access.',
  when: "The key's account is suspended: contact support.",
};

/** What a route behind `ApiKeyGuard` and `RateLimitGuard` answers (a live or test key). */
export const API_KEY_ERRORS: ErrorExample[] = [
  {
    error: ErrorCode.InvalidApiKey,
    message: 'Incorrect API key provided. You can find your API keys in the Conflux dashboard.',
  },
  MISSING_KEY,
  ACCOUNT_SUSPENDED,
  KEY_RATE_LIMITED,
];

/** What a route behind `AccountAuthGuard` and `RateLimitGuard` answers (a session token or a live key). */
export const ACCOUNT_ERRORS: ErrorExample[] = [
  {
    error: ErrorCode.InvalidApiKey,
    message: 'Incorrect API key provided. You can find your API keys in the Conflux dashboard.',
    when: 'A malformed, unknown, revoked or expired key.',
  },
  {
    error: ErrorCode.InvalidApiKey,
    name: 'invalid_session',
    message: 'The session is invalid or has expired. Log in again.',
    when: 'A session token that is invalid or expired: log in again.',
  },
  MISSING_KEY,
  {
    error: ErrorCode.PermissionDenied,
    message: 'Test keys cannot manage the account. Use a live key.',
    when: 'A test key: account routes take a session token or a live key.',
  },
  ACCOUNT_SUSPENDED,
  {
    ...KEY_RATE_LIMITED,
    when: 'A key past its plan’s requests per minute (sessions are not metered): wait `retry-after` seconds.',
  },
];

/** What a route that takes a JSON body answers before it runs. */
export const BODY_ERRORS: ErrorExample[] = [
  { error: ErrorCode.PayloadTooLarge, message: 'Request body is too large' },
  { error: ErrorCode.UnsupportedMediaType },
  {
    error: ErrorCode.InvalidRequest,
    name: 'invalid_json',
    message: "Body is not valid JSON but content-type is set to 'application/json'",
    when: 'The body is not valid JSON.',
  },
];

/** What any route can answer (a bug; the instance unable to serve). */
export const SERVER_ERRORS: ErrorExample[] = [{ error: ErrorCode.Internal }, ...INSTANCE_UNAVAILABLE];

/** An example's answer body, built by the same function as the exception filter's, so the two cannot differ. */
export function errorExampleBody(example: ErrorExample): ReturnType<typeof toErrorResponse>['body'] {
  const error = new GatewayError(example.error, example.message, {
    param: example.param,
    ...(example.code !== undefined ? { code: example.code } : {}),
  });
  return toErrorResponse(error, EXAMPLE_REQUEST_ID).body;
}

/**
 * Documents error answers, grouped by status, each with its example built from `ERROR_SHAPES` (status, `type`,
 * `code`) and `toErrorResponse` (the body the exception filter sends): `@ApiErrors(ErrorCode.InvalidApiKey,
 * { error: ErrorCode.NotFound, message: 'No API key with id key_….', param: 'id' })`. Use it once per handler
 * (a class-level and a method-level response of the same status do not merge: the method's wins).
 */
export function ApiErrors(...errors: Array<ErrorCode | ErrorExample>): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ErrorExample[]>();
  for (const entry of errors) {
    const example = typeof entry === 'string' ? { error: entry } : entry;
    const status = ERROR_SHAPES[example.error].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), example]);
  }
  const decorators = [...byStatus].map(([status, examples]) => {
    const named: Record<string, ExampleObject> = {};
    const lines: string[] = [];
    const types = new Set<string>();
    const headers = new Set<ResponseHeader>(['x-request-id']);
    for (const example of examples) {
      const body = errorExampleBody(example);
      const name = example.name ?? body.error.code ?? example.error;
      if (name in named) {
        throw new Error(`@ApiErrors: two ${status} examples named "${name}": give one a name`);
      }
      const when = example.when ?? WHEN[example.error];
      named[name] = { summary: when, value: body };
      const code = body.error.code === null ? 'null' : `\`${body.error.code}\``;
      lines.push(`- ${when} (\`code\`: ${code})`);
      types.add(body.error.type);
      (example.headers ?? ERROR_HEADERS[example.error] ?? []).forEach((header) => headers.add(header));
    }
    const typeLine = `\`type\`: ${[...types].map((type) => `\`${type}\``).join(' or ')}.`;
    return ApiResponse({
      status,
      type: ErrorDto,
      description: [typeLine, ...lines].join('\n'),
      examples: named as Record<string, { summary: string; value: unknown }>,
      headers: responseHeaders(...headers),
    });
  });
  return applyDecorators(...decorators);
}

type Json = Record<string, unknown>;
type Schema = SchemaObject | ReferenceObject;

const schemaRef = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });

/** Keywords with the same meaning in JSON Schema and OpenAPI 3.0, copied as they are. */
const SAME = new Set([
  'required',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'pattern',
  'enum',
  'description',
  'format',
]);

const isNullType = (schema: unknown): boolean =>
  typeof schema === 'object' &&
  schema !== null &&
  (schema as Json).type === 'null' &&
  Object.keys(schema).length === 1;

function typeOfValues(values: unknown[]): string | undefined {
  const types = new Set(values.filter((v) => v !== null).map((v) => typeof v));
  return types.size === 1 ? [...types][0] : undefined;
}

/**
 * A JSON Schema (draft 7, as ajv compiles it) → OpenAPI 3.0 schema components, one per entry of `named`; a named
 * object met inside another is a `$ref` to its component. The translations: `const: x` → `enum: [x]`;
 * `type: [t, 'null']` and `anyOf: [S, {type: 'null'}]` → `nullable: true` (with `null` in an `enum`, and on each
 * branch of an `anyOf`); `discriminator` → the same with its `mapping` (its `oneOf` branches must be named);
 * `type` spelled out where JSON Schema leaves it implied (an `enum`, `properties`). Any other keyword throws:
 * the reference never silently says less than the validator checks.
 */
export function openApiComponents(named: Readonly<Record<string, object>>): Record<string, SchemaObject> {
  const names = new Map<object, string>(Object.entries(named).map(([name, schema]) => [schema, name]));
  /** Branches of a discriminated `oneOf` → the discriminating property, required in each (as OpenAPI wants). */
  const discriminated = new Map<object, string>();
  const nullableOf = (schema: Schema): Schema => {
    if ('$ref' in schema) {
      return { type: 'object', nullable: true, allOf: [schema] };
    }
    if (schema.anyOf || schema.oneOf) {
      const key = schema.anyOf ? 'anyOf' : 'oneOf';
      return { ...schema, [key]: schema[key]!.map(nullableOf) };
    }
    if (!schema.type) {
      throw new Error(`openApiComponents: cannot make ${JSON.stringify(schema)} nullable without a type`);
    }
    return { ...schema, nullable: true, ...(schema.enum ? { enum: [...schema.enum, null] } : {}) };
  };

  const convert = (schema: Json, root?: string): Schema => {
    const name = names.get(schema);
    if (name !== undefined && name !== root) {
      return schemaRef(name);
    }
    let out: SchemaObject = {};
    for (const [key, value] of Object.entries(schema)) {
      if (SAME.has(key)) {
        (out as Json)[key] = value;
      } else if (key === 'const') {
        out.enum = [value];
      } else if (key === 'type') {
        const types = ([] as unknown[]).concat(value).filter((t) => t !== 'null') as string[];
        if (types.length !== 1) {
          throw new Error(`openApiComponents: OpenAPI 3.0 has no type ${JSON.stringify(value)}`);
        }
        out.type = types[0];
        if (Array.isArray(value) && value.includes('null')) {
          out.nullable = true;
        }
      } else if (key === 'properties') {
        out.properties = Object.fromEntries(
          Object.entries(value as Record<string, Json>).map(([property, inner]) => [
            property,
            convert(inner),
          ]),
        );
      } else if (key === 'items') {
        out.items = convert(value as Json);
      } else if (key === 'additionalProperties') {
        out.additionalProperties = typeof value === 'boolean' ? value : convert(value as Json);
      } else if (key === 'anyOf' || key === 'oneOf') {
        const branches = value as Json[];
        const rest = branches.filter((branch) => !isNullType(branch)).map((branch) => convert(branch));
        const nullable = rest.length < branches.length;
        if (rest.length === 1 && Object.keys(schema).length === 1) {
          out = nullable ? (nullableOf(rest[0]) as SchemaObject) : (rest[0] as SchemaObject);
        } else {
          out[key] = nullable ? rest.map(nullableOf) : rest;
        }
      } else if (key === 'discriminator') {
        const propertyName = (value as { propertyName: string }).propertyName;
        const mapping: Record<string, string> = {};
        for (const branch of (schema.oneOf ?? []) as Json[]) {
          const branchName = names.get(branch);
          const tag = ((branch.properties as Record<string, Json> | undefined)?.[propertyName] ?? {}).const;
          if (branchName === undefined || typeof tag !== 'string') {
            throw new Error(
              `openApiComponents: each oneOf branch of a discriminator (${propertyName}) must be named and ` +
                'fix its value with const',
            );
          }
          mapping[tag] = schemaRef(branchName).$ref;
          discriminated.set(branch, propertyName);
        }
        out.discriminator = { propertyName, mapping };
      } else {
        throw new Error(`openApiComponents: no OpenAPI 3.0 form for the JSON Schema keyword "${key}"`);
      }
    }
    if (!out.type && out.enum) {
      out.type = typeOfValues(out.enum);
    }
    if (!out.type && out.properties) {
      out.type = 'object';
    }
    return out;
  };

  const schemas: Record<string, SchemaObject> = {};
  for (const [name, schema] of Object.entries(named)) {
    schemas[name] = convert(schema as Json, name) as SchemaObject;
  }
  for (const [branch, propertyName] of discriminated) {
    const schema = schemas[names.get(branch)!];
    schema.required = [propertyName, ...(schema.required ?? []).filter((p) => p !== propertyName)];
  }
  return schemas;
}
