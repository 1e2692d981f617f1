import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { PROVIDER_IDS } from '../common/provider-ids.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import { DEFAULT_PREFERENCES, ROUTE_SORTS, type RoutePreferences } from '../routing/preferences.js';

/**
 * The OpenAI `CreateChatCompletionRequest`, as a JSON Schema compiled once at start. Out-of-range values are a
 * 400 naming the parameter, never clamped. Validation reads the body in place (no copy of `messages`).
 */
const text = { type: 'string' };

/** An object with exactly these properties (the OpenAI schema rejects unknown fields in these places). */
const closed = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  ...(required.length > 0 ? { required } : {}),
  properties,
  additionalProperties: false,
});

const textPart = closed({ type: { const: 'text' }, text }, ['type', 'text']);
const imagePart = closed(
  {
    type: { const: 'image_url' },
    image_url: closed({ url: { type: 'string', minLength: 1 }, detail: { enum: ['auto', 'low', 'high'] } }, [
      'url',
    ]),
  },
  ['type', 'image_url'],
);
const audioPart = closed(
  { type: { const: 'input_audio' }, input_audio: closed({ data: text, format: text }, ['data', 'format']) },
  ['type', 'input_audio'],
);
const filePart = closed(
  { type: { const: 'file' }, file: closed({ file_data: text, file_id: text, filename: text }) },
  ['type', 'file'],
);
const refusalPart = closed({ type: { const: 'refusal' }, refusal: text }, ['type', 'refusal']);
const partsOf = (...parts: object[]) => ({
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    required: ['type'],
    properties: {
      type: {
        enum: parts.map((p) => (p as { properties: { type: { const: string } } }).properties.type.const),
      },
    },
    // The part's `type` picks its schema: an unknown type is named as such, not as the first part's missing field.
    discriminator: { propertyName: 'type' },
    oneOf: parts,
  },
});
const toolCall = closed(
  {
    id: { type: 'string', minLength: 1 },
    type: { const: 'function' },
    function: closed({ name: { type: 'string', minLength: 1 }, arguments: text }, ['name', 'arguments']),
  },
  ['id', 'type', 'function'],
);
const name = { type: 'string', minLength: 1 };

const systemMessage = {
  properties: { role: { const: 'system' }, content: { anyOf: [text, partsOf(textPart)] }, name },
  required: ['content'],
  additionalProperties: false,
};
const developerMessage = {
  properties: { role: { const: 'developer' }, content: { anyOf: [text, partsOf(textPart)] }, name },
  required: ['content'],
  additionalProperties: false,
};
const userMessage = {
  properties: {
    role: { const: 'user' },
    content: { anyOf: [text, partsOf(textPart, imagePart, audioPart, filePart)] },
    name,
  },
  required: ['content'],
  additionalProperties: false,
};
const assistantMessage = {
  properties: {
    role: { const: 'assistant' },
    content: { anyOf: [text, { type: 'null' }, partsOf(textPart, refusalPart)] },
    refusal: { type: ['string', 'null'] },
    tool_calls: { type: 'array', items: toolCall },
    name,
    audio: { type: ['object', 'null'] },
    function_call: { type: ['object', 'null'] },
  },
  additionalProperties: false,
};
const toolMessage = {
  properties: {
    role: { const: 'tool' },
    content: { anyOf: [text, partsOf(textPart)] },
    tool_call_id: { type: 'string', minLength: 1 },
  },
  required: ['content', 'tool_call_id'],
  additionalProperties: false,
};

const message = {
  type: 'object',
  required: ['role'],
  properties: { role: { enum: ['system', 'developer', 'user', 'assistant', 'tool'] } },
  discriminator: { propertyName: 'role' },
  oneOf: [systemMessage, developerMessage, userMessage, assistantMessage, toolMessage],
};

const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });

const streamOptions = {
  type: 'object',
  properties: { include_usage: { type: 'boolean' }, include_obfuscation: { type: 'boolean' } },
  additionalProperties: false,
};
const tool = {
  type: 'object',
  required: ['type', 'function'],
  properties: {
    type: { const: 'function' },
    function: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
        description: text,
        parameters: { type: 'object' },
        strict: nullable({ type: 'boolean' }),
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};
const namedToolChoice = {
  type: 'object',
  required: ['type', 'function'],
  properties: {
    type: { const: 'function' },
    function: {
      type: 'object',
      required: ['name'],
      properties: { name: text },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};
const textFormat = { properties: { type: { const: 'text' } }, additionalProperties: false };
const jsonObjectFormat = { properties: { type: { const: 'json_object' } }, additionalProperties: false };
const jsonSchemaFormat = {
  properties: {
    type: { const: 'json_schema' },
    json_schema: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
        description: text,
        schema: { type: 'object' },
        strict: nullable({ type: 'boolean' }),
      },
      additionalProperties: false,
    },
  },
  required: ['json_schema'],
  additionalProperties: false,
};
const responseFormat = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: ['text', 'json_object', 'json_schema'] } },
  discriminator: { propertyName: 'type' },
  oneOf: [textFormat, jsonObjectFormat, jsonSchemaFormat],
};

const providerList = (description: string) => ({
  type: 'array',
  description,
  minItems: 1,
  items: { enum: [...PROVIDER_IDS] },
});
/** Conflux extension: which providers may serve the request, and in what order (OpenRouter's `provider`). */
const providerPreferences = {
  type: 'object',
  description:
    "Conflux extension: routing preferences. Provider names are the catalog's. From the OpenAI SDKs: " +
    '`extra_body={"provider": {...}}` in Python, a plain extra field in Node.',
  properties: {
    order: providerList(
      'Providers to try first, in this order; then the usual chain (unless allow_fallbacks is false).',
    ),
    only: providerList('The only providers allowed.'),
    ignore: providerList('Providers never used.'),
    allow_fallbacks: {
      type: 'boolean',
      description:
        'Default true. False: nothing outside `order`/`only` is tried (no other provider, no catalog fallback ' +
        'model), and the answer is 503 when those fail.',
    },
    sort: {
      enum: [...ROUTE_SORTS],
      description:
        '`health` (default: healthy before degraded, then cheaper, then faster), `price`, or `latency` (the ' +
        'measured time to first token).',
    },
    require_parameters: {
      type: 'boolean',
      description:
        'True: a parameter the provider cannot take is a 400 instead of being left out (as the header ' +
        '`x-conflux-strict-params: true`).',
    },
  },
  additionalProperties: false,
};
/** Conflux extension: the request's own model list (OpenRouter's `models`). */
const modelList = {
  type: 'array',
  description:
    'Conflux extension: models for this request, in order. The first is the primary (the same as `model`, which ' +
    "may then be left out); the rest replace the catalog's fallback chain for this request.",
  minItems: 1,
  maxItems: 16,
  items: { type: 'string', minLength: 1 },
};

export const CHAT_REQUEST_SCHEMA = {
  type: 'object',
  required: ['messages'],
  // `model`, or the `models` list whose first entry is the primary model.
  anyOf: [{ required: ['model'] }, { required: ['models'] }],
  properties: {
    model: { type: 'string', minLength: 1 },
    models: modelList,
    provider: providerPreferences,
    messages: { type: 'array', minItems: 1, items: message },
    stream: nullable({ type: 'boolean' }),
    stream_options: nullable(streamOptions),
    max_tokens: nullable({ type: 'integer', minimum: 1 }),
    max_completion_tokens: nullable({ type: 'integer', minimum: 1 }),
    temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
    top_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
    n: nullable({ type: 'integer', minimum: 1, maximum: 128 }),
    stop: nullable({
      anyOf: [text, { type: 'array', minItems: 1, maxItems: 4, items: text }],
    }),
    seed: nullable({ type: 'integer' }),
    presence_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
    frequency_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
    logit_bias: nullable({
      type: 'object',
      additionalProperties: { type: 'number', minimum: -100, maximum: 100 },
    }),
    logprobs: nullable({ type: 'boolean' }),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    tools: { type: 'array', items: tool },
    tool_choice: { anyOf: [{ enum: ['none', 'auto', 'required'] }, namedToolChoice] },
    parallel_tool_calls: { type: 'boolean' },
    response_format: responseFormat,
    reasoning_effort: nullable({ enum: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] }),
    user: text,
    safety_identifier: text,
    service_tier: nullable({ enum: ['auto', 'default', 'flex', 'scale', 'priority', 'fast'] }),
    metadata: nullable({ type: 'object', additionalProperties: { type: 'string' } }),
    store: nullable({ type: 'boolean' }),
    prompt_cache_key: text,
    verbosity: nullable({ enum: ['low', 'medium', 'high'] }),
  },
  additionalProperties: false,
} as const;

/**
 * The parts of the schema the API reference names, after OpenAI's own schema names: the very objects above, which
 * `chat.dto.ts` recognises by identity when it turns the schema into OpenAPI 3.0 components. Validation does not
 * read this.
 */
export const CHAT_REQUEST_SCHEMA_PARTS: Readonly<Record<string, object>> = {
  CreateChatCompletionRequest: CHAT_REQUEST_SCHEMA,
  ChatCompletionRequestMessage: message,
  ChatCompletionRequestSystemMessage: systemMessage,
  ChatCompletionRequestDeveloperMessage: developerMessage,
  ChatCompletionRequestUserMessage: userMessage,
  ChatCompletionRequestAssistantMessage: assistantMessage,
  ChatCompletionRequestToolMessage: toolMessage,
  ChatCompletionRequestMessageContentPartText: textPart,
  ChatCompletionRequestMessageContentPartImage: imagePart,
  ChatCompletionRequestMessageContentPartAudio: audioPart,
  ChatCompletionRequestMessageContentPartFile: filePart,
  ChatCompletionRequestMessageContentPartRefusal: refusalPart,
  ChatCompletionMessageToolCall: toolCall,
  ChatCompletionTool: tool,
  ChatCompletionNamedToolChoice: namedToolChoice,
  ChatCompletionStreamOptions: streamOptions,
  ResponseFormat: responseFormat,
  ResponseFormatText: textFormat,
  ResponseFormatJsonObject: jsonObjectFormat,
  ResponseFormatJsonSchema: jsonSchemaFormat,
  ProviderPreferences: providerPreferences,
};

const ajv = new Ajv({ allErrors: false, discriminator: true, strict: false });
const validate: ValidateFunction = ajv.compile(CHAT_REQUEST_SCHEMA);

/** JSON pointer `/messages/2/content` → OpenAI param `messages[2].content`. */
function toParam(pointer: string, extra?: string): string | null {
  const parts = pointer.split('/').filter(Boolean);
  if (extra) {
    parts.push(extra);
  }
  let out = '';
  for (const part of parts) {
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out || null;
}

/** The value at a JSON pointer of the body (`/messages/0/content`), for messages that say what was sent. */
function valueAt(body: unknown, pointer: string): unknown {
  let value = body;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof value !== 'object' || value === null) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A value as a message shows it: short (a prompt is never echoed whole), JSON-quoted. */
function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 40 ? `${json.slice(0, 37)}...` : json;
}

function typeName(value: unknown): string {
  return value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : `a ${typeof value}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  array: 'an array',
  object: 'an object',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

const quotedList = (values: unknown[]) => values.map((v) => `'${String(v)}'`).join(', ');

/**
 * What is wrong, in the words of the OpenAI API's own messages. `errors` are the ones of the deepest failing place:
 * several when a value matched none of the alternatives of an `anyOf` (each says what it expected).
 */
function describe(errors: ErrorObject[], param: string | null, body: unknown): string {
  const error = errors[0];
  const where = param ?? 'The request body';
  const value = valueAt(body, error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties':
      return `Unrecognized request argument supplied: ${param}`;
    case 'required':
      return `Missing required parameter: '${param}'.`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const { comparison, limit } = error.params as { comparison: string; limit: number };
      const side = comparison.startsWith('>') ? 'below minimum' : 'above maximum';
      return `Invalid '${where}': ${side} value. Expected a value ${comparison} ${limit}, but got ${shown(value)} instead.`;
    }
    case 'type': {
      const expected = [
        ...new Set(
          errors
            .filter((e) => e.keyword === 'type')
            .flatMap((e) => String((e.params as { type: string }).type).split(',')),
        ),
      ].map((t) => TYPE_NAMES[t] ?? t);
      const list =
        expected.length > 1 ? `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}` : expected[0];
      return `Invalid type for '${where}': expected ${list}, but got ${typeName(value)} instead.`;
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return `Invalid value for '${where}': ${shown(value)}. Supported values are: ${quotedList(allowed)}.`;
    }
    case 'const': {
      const allowed = (error.params as { allowedValue: unknown }).allowedValue;
      return `Invalid value for '${where}': ${shown(value)}. Expected '${String(allowed)}'.`;
    }
    case 'discriminator': {
      const { tag } = error.params as { tag: string };
      return `Invalid value for '${where}': ${shown(valueAt(body, error.instancePath + '/' + tag) ?? value)}.`;
    }
    case 'oneOf':
    case 'anyOf':
      return `Invalid value for '${where}'.`;
    default:
      return `Invalid '${where}': ${error.message ?? 'invalid value'}.`;
  }
}

/** The param an error names: its place in the body, plus the property it is about (missing or unknown). */
function paramOf(error: ErrorObject): string | null {
  const extra =
    error.keyword === 'additionalProperties'
      ? (error.params as { additionalProperty: string }).additionalProperty
      : error.keyword === 'required'
        ? (error.params as { missingProperty: string }).missingProperty
        : undefined;
  return toParam(error.instancePath, extra);
}

/**
 * The errors to report: those at the deepest place that failed. When a value matches none of an `anyOf`'s
 * alternatives, Ajv reports each alternative's error in turn, the first often being only "must be string" for a
 * field that may also be an array of parts: the alternative that came furthest (a `video` part's `type`) names
 * what is really wrong. The `anyOf`/`oneOf` summaries themselves say nothing.
 */
function deepest(errors: ErrorObject[]): ErrorObject[] {
  const specific = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const candidates = specific.length > 0 ? specific : errors;
  const depth = (e: ErrorObject) => (paramOf(e) ?? '').split(/[.[]/).length;
  const max = Math.max(...candidates.map(depth));
  const first = candidates.find((e) => depth(e) === max)!;
  return [
    first,
    ...candidates.filter((e) => e !== first && e.instancePath === first.instancePath && depth(e) === max),
  ];
}

/** Deeper than this is no real request (a JSON schema of 64 levels is already absurd), and recursion would fail. */
const MAX_DEPTH = 64;

/** The path of the first value nested deeper than `limit`, without recursion. */
function tooDeep(root: unknown, limit: number): string | null {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: root, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (typeof value !== 'object' || value === null) {
      continue;
    }
    if (depth > limit) {
      return path;
    }
    for (const [key, child] of Object.entries(value)) {
      stack.push({
        value: child,
        depth: depth + 1,
        path: Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key,
      });
    }
  }
  return null;
}

/** How a data URI of an image starts, up to its comma: `data:image/png;base64` (parameters allowed before base64). */
const IMAGE_DATA_URI_HEAD = /^data:image\/[\w.+-]+(?:;[\w.+-]+=[^;,]*)*;base64$/;

/**
 * Whether a provider may be given this image URL: a web URL (the provider fetches it) or an inline image (what the
 * providers' mappers read as one). Anything else (`file:`, `gopher:`, a relative path, a data URI of another type)
 * is no image, and some would make a provider's fetcher reach where it should not.
 */
function isImageUrl(url: string): boolean {
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',');
    return comma > 0 && IMAGE_DATA_URI_HEAD.test(url.slice(0, comma));
  }
  // The WHATWG parser forgives leading spaces and controls: the scheme is checked on the string as sent.
  return /^https?:\/\//i.test(url) && URL.canParse(url);
}

/** The first image part whose URL is refused, as its param (`messages[0].content[1].image_url.url`). */
function refusedImageUrl(request: ChatCompletionRequest): string | null {
  for (const [m, message] of request.messages.entries()) {
    if (message.role !== 'user' || typeof message.content === 'string') {
      continue;
    }
    for (const [p, part] of message.content.entries()) {
      if (part.type === 'image_url' && !isImageUrl(part.image_url.url)) {
        return `messages[${m}].content[${p}].image_url.url`;
      }
    }
  }
  return null;
}

/** The body as the gateway's own fields allow it: `provider` and `models` are for routing, not for the provider. */
type ChatBody = ChatCompletionRequest & {
  models?: string[];
  provider?: {
    order?: RoutePreferences['order'];
    only?: RoutePreferences['only'];
    ignore?: RoutePreferences['ignore'];
    allow_fallbacks?: boolean;
    sort?: RoutePreferences['sort'];
    require_parameters?: boolean;
  };
};

/** A list naming something twice is a mistake worth a 400 (which of the two did the client mean to move?). */
function listedOnce(field: string, list: readonly string[] | null | undefined): void {
  const twice = list?.findIndex((item, i) => list.indexOf(item) !== i) ?? -1;
  if (list && twice >= 0) {
    throw new GatewayError(
      ErrorCode.InvalidRequest,
      `Invalid '${field}[${twice}]': \`${list[twice]}\` is listed twice.`,
      {
        param: `${field}[${twice}]`,
      },
    );
  }
}

/**
 * The body validated (see `validateChatRequest`), split into the OpenAI request the providers get (without the
 * gateway's `provider` and `models`, a shallow copy only when they were sent) and the routing preferences.
 */
export function parseChatRequest(body: unknown): {
  request: ChatCompletionRequest;
  preferences: RoutePreferences;
} {
  const valid = validateChatRequest(body) as ChatBody;
  if (valid.provider === undefined && valid.models === undefined) {
    return { request: valid, preferences: DEFAULT_PREFERENCES };
  }
  const { provider, models, ...request } = valid;
  listedOnce('models', models);
  listedOnce('provider.order', provider?.order);
  listedOnce('provider.only', provider?.only);
  listedOnce('provider.ignore', provider?.ignore);
  if (models) {
    if (request.model === undefined) {
      request.model = models[0];
    } else if (request.model !== models[0]) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `Invalid 'models[0]': the first of \`models\` is the primary model, so it must be \`model\` ` +
          `(\`${request.model}\`), or \`model\` must be left out.`,
        { param: 'models[0]' },
      );
    }
  }
  return {
    request,
    preferences: {
      order: provider?.order ?? null,
      only: provider?.only ?? null,
      ignore: provider?.ignore ?? null,
      allowFallbacks: provider?.allow_fallbacks ?? true,
      sort: provider?.sort ?? 'health',
      requireParameters: provider?.require_parameters ?? false,
      models: models ?? null,
    },
  };
}

/**
 * Returns the body typed when it matches the schema, else throws a 400 with `param` set. The gateway's own
 * fields (`provider`, `models`) are validated here too and left in place: `parseChatRequest` splits them off.
 */
export function validateChatRequest(body: unknown): ChatCompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError(ErrorCode.InvalidRequest, 'The request body must be a JSON object.');
  }
  const deep = tooDeep(body, MAX_DEPTH);
  if (deep !== null) {
    throw new GatewayError(
      ErrorCode.InvalidRequest,
      `The request is nested more than ${MAX_DEPTH} levels deep.`,
      {
        param: deep.split('.').slice(0, 3).join('.'),
      },
    );
  }
  if (validate(body)) {
    const request = body as unknown as ChatCompletionRequest;
    if (request.stream_options && request.stream !== true) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        'stream_options is only allowed when stream is true.',
        {
          param: 'stream_options',
        },
      );
    }
    const image = refusedImageUrl(request);
    if (image !== null) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `Invalid '${image}': expected an http(s) URL or a base64 data URI of an image (data:image/…;base64,…).`,
        { param: image },
      );
    }
    return request;
  }
  const errors = deepest(validate.errors!);
  const param = paramOf(errors[0]);
  throw new GatewayError(ErrorCode.InvalidRequest, describe(errors, param, body), { param });
}
