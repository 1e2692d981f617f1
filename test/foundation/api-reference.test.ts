import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateChatRequest } from '../../src/chat/request-schema.js';
import { ManualClock } from '../../src/common/clock.js';
import { ERROR_SHAPES } from '../../src/common/errors.js';
import { Lifecycle } from '../../src/ops/lifecycle.service.js';
import { createKey, signup, startApp, type TestApp } from '../support/app.js';
import { liveAccount, setBalance } from '../support/billing.js';
import { useGateway } from '../support/gateway.js';
import { SmtpCatcher, tokenOf } from '../fakes/smtp.js';
import { stripeEventPayload } from '../fakes/stripe.js';
import {
  handlerOf,
  REFERENCE_ROUTES,
  schemaValidator,
  servedRoutes,
  sseEvents,
  type Handler,
  type Json,
  type Media,
  type Operation,
  type Route,
  type SchemaValidator,
  type Spec,
} from '../support/openapi.js';
import { waitFor } from '../support/wait.js';
import { describeErrors, loadOpenAiSpec } from '../conformance/openai-spec.js';

/**
 * The API reference (`/openapi.json`, Swagger UI at `/docs`) against the app itself: every route Fastify serves
 * is documented, with every status it can answer (read from its guards, whether it takes a body, and what it
 * does); every error example has the `type` and `code` of `ERROR_SHAPES`; every example matches its schema; the
 * chat body's schema accepts and refuses what the validator does; and real answers — successes and errors, of
 * every route — have a documented status, match its schema, carry only documented headers, and are among its
 * error examples.
 */

/** What each guard answers. A new guard fails the test until it is listed here (and documented on its routes). */
const GUARD_STATUSES: Record<string, number[]> = {
  ApiKeyGuard: [401, 403],
  StaffGuard: [401, 403],
  AccountAuthGuard: [401, 403],
  RateLimitGuard: [429],
  AuthRateLimitGuard: [429],
  SessionGuard: [401, 403],
  MetricsTokenGuard: [401],
};

/** What a route answers because of what it does (beyond its guards, its body and the instance). */
const ROUTE_STATUSES: Record<string, number[]> = {
  'POST /v1/chat/completions': [400, 402, 404, 409, 429, 502, 503, 504],
  'DELETE /v1/keys/{id}': [404],
  'GET /v1/keys/{id}': [404],
  'PATCH /v1/keys/{id}': [404],
  'POST /v1/keys/{id}/rotate': [404],
  'GET /v1/models/{path}': [404],
  'POST /auth/signup': [409],
  'POST /auth/login': [401, 403],
  'POST /auth/verify/resend': [409, 429],
  'POST /auth/password/forgot': [429],
  'GET /health/ready': [503],
};

/** Error answers that are not the OpenAI error envelope. */
const NOT_ENVELOPES = new Set(['GET /health/ready 503']);

const opKey = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

/** The statuses a route can answer, beside its success: what the test requires the reference to list. */
function requiredStatuses(route: Route, handler: Handler): number[] {
  const statuses = new Set<number>([500]); // anything can fail
  for (const guard of handler.guards) {
    const answers = GUARD_STATUSES[guard];
    if (!answers) {
      throw new Error(
        `${opKey(route.method, route.path)}: which statuses does ${guard} answer? List it here.`,
      );
    }
    answers.forEach((s) => statuses.add(s));
  }
  if (handler.takesBody || ['POST', 'PUT', 'PATCH'].includes(route.method)) {
    [400, 413, 415].forEach((s) => statuses.add(s)); // validation, BODY_LIMIT_BYTES, the JSON-only hook
  }
  if (!route.url.startsWith('/health/') && route.url !== '/metrics') {
    statuses.add(503); // a draining instance refuses everything but these (app.ts), a database out of reach
  }
  (ROUTE_STATUSES[opKey(route.method, route.path)] ?? []).forEach((s) => statuses.add(s));
  return [...statuses].sort();
}

/** Served routes the reference lacks (Swagger UI's own routes aside). */
function missingRoutes(routes: Route[], spec: Spec): string[] {
  return routes
    .filter((r) => !REFERENCE_ROUTES(r.url) && !spec.paths[r.path]?.[r.method.toLowerCase()])
    .map((r) => opKey(r.method, r.path));
}

/** Statuses a route can answer that its operation does not list (and a missing 2xx). */
function missingStatuses(routes: Route[], spec: Spec, handlers: (operationId: string) => Handler): string[] {
  const missing: string[] = [];
  for (const route of routes.filter((r) => !REFERENCE_ROUTES(r.url))) {
    const operation = spec.paths[route.path]?.[route.method.toLowerCase()];
    if (!operation) {
      continue; // missingRoutes reports it
    }
    const documented = Object.keys(operation.responses).map(Number);
    const successes = Object.entries(operation.responses).filter(([s]) => s.startsWith('2'));
    if (
      successes.length === 0 ||
      successes.some(([, r]) => !Object.values(r.content ?? {}).some((m) => m.schema))
    ) {
      missing.push(`${opKey(route.method, route.path)} 2xx with a schema`);
    }
    for (const status of requiredStatuses(route, handlers(operation.operationId))) {
      if (!documented.includes(status)) {
        missing.push(`${opKey(route.method, route.path)} ${status}`);
      }
    }
  }
  return missing;
}

function operations(spec: Spec): Array<[string, Operation]> {
  return Object.entries(spec.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, Operation] => [
      opKey(method, path),
      operation,
    ]),
  );
}

function examplesOf(media: Media): Array<[string, unknown]> {
  return [
    ...(media.example !== undefined ? [['example', media.example] as [string, unknown]] : []),
    ...Object.entries(media.examples ?? {}).map(([name, e]): [string, unknown] => [name, e.value]),
  ];
}

const ERROR_REF = { $ref: '#/components/schemas/ErrorDto' };

/** A body of `media` checked against its schema: JSON, an SSE stream of its events, or plain text. */
function bodyProblem(v: SchemaValidator, mediaType: string, media: Media, body: unknown): string | null {
  if (mediaType.startsWith('text/event-stream')) {
    if (typeof body !== 'string') {
      return 'a stream is text';
    }
    const events = sseEvents(body);
    for (const [i, data] of events.entries()) {
      if (data === '[DONE]') {
        if (i !== events.length - 1) {
          return '[DONE] before the end';
        }
        continue;
      }
      const event = JSON.parse(data) as Json;
      const problem = v.check('error' in event ? ERROR_REF : media.schema!, event);
      if (problem) {
        return `event ${i}: ${problem}`;
      }
    }
    return events.length > 0 ? null : 'no events';
  }
  if (mediaType.startsWith('text/plain')) {
    return typeof body === 'string' ? null : 'not text';
  }
  return v.check(media.schema!, body);
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

describe('the API reference', () => {
  const g = useGateway({ env: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '300' } });
  let spec: Spec;
  let routes: Route[];
  /** Closed objects: an undocumented field in an example or a real answer fails. */
  let strict: SchemaValidator;
  /** Seen (operation, status) pairs of real answers. */
  const seen = new Set<string>();

  beforeAll(async () => {
    spec = (await (await fetch(`${g.t.url}/openapi.json`)).json()) as Spec;
    routes = servedRoutes(g.t.app);
    strict = schemaValidator(spec, true);
  });

  const handlers = (operationId: string) => handlerOf(g.t.app, operationId);

  it('documents every route the app serves, and no other', () => {
    expect(routes.length).toBeGreaterThan(10);
    expect(missingRoutes(routes, spec)).toEqual([]);
    const served = new Set(routes.map((r) => opKey(r.method, r.path)));
    expect(
      operations(spec)
        .map(([op]) => op)
        .filter((op) => !served.has(op)),
    ).toEqual([]);
    expect(Object.keys(ROUTE_STATUSES).filter((op) => !served.has(op))).toEqual([]);
  });

  it('documents every status each route can answer: its guards, its body, the instance, its own', () => {
    expect(missingStatuses(routes, spec, handlers)).toEqual([]);
    // The guards were really read: the chat route is behind the key and rate-limit guards.
    const chat = handlers(spec.paths['/v1/chat/completions'].post.operationId);
    expect(chat.guards).toEqual(['ApiKeyGuard', 'RateLimitGuard']);
    expect(chat.takesBody).toBe(true);
  });

  it('would report a route added without documentation, and a status a route no longer documents', () => {
    const without: Spec = structuredClone(spec);
    delete without.paths['/v1/status'];
    delete without.paths['/v1/chat/completions'].post.responses['413'];
    delete without.paths['/v1/keys'].get.responses['403'];
    expect(missingRoutes(routes, without)).toEqual(['GET /v1/status']);
    expect(missingStatuses(routes, without, handlers)).toEqual([
      'GET /v1/keys 403',
      'POST /v1/chat/completions 413',
    ]);
  });

  it('documents each error with the OpenAI envelope and examples of its own, with the type and code of ERROR_SHAPES', () => {
    const shapes = Object.values(ERROR_SHAPES);
    for (const [op, operation] of operations(spec)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400 || NOT_ENVELOPES.has(`${op} ${status}`)) {
          continue;
        }
        const media = response.content?.['application/json'];
        expect(media?.schema, `${op} ${status}`).toEqual(ERROR_REF);
        const examples = Object.values(media?.examples ?? {});
        expect(examples.length, `${op} ${status} has examples`).toBeGreaterThan(0);
        expect(response.headers, `${op} ${status} documents x-request-id`).toHaveProperty('x-request-id');
        for (const example of examples) {
          const error = (example.value as { error: { type: string; code: string | null; message: string } })
            .error;
          const rows = shapes.filter((s) => s.status === Number(status) && s.type === error.type);
          expect(
            rows.length,
            `${op} ${status}: type ${error.type} is not a ${status} of ERROR_SHAPES`,
          ).toBeGreaterThan(0);
          if (Number(status) >= 500) {
            expect(error.message, `${op} ${status}: a 5xx names the request id`).toMatch(/\(request id req_/);
          }
          expect(example.summary, `${op} ${status}: an example says when`).toBeTruthy();
        }
      }
    }
    // Not invalid_request_error for all: each status has its own.
    const chat = spec.paths['/v1/chat/completions'].post.responses;
    const codes = (status: string) =>
      Object.values(chat[status].content!['application/json'].examples!).map(
        (e) => (e.value as { error: { code: string } }).error.code,
      );
    expect(codes('401')).toContain('invalid_api_key');
    expect(codes('402')).toEqual(['insufficient_quota', 'payment_overdue', 'key_credit_limit']);
    expect(codes('404')).toEqual(['model_not_found']);
    expect(codes('413')).toEqual(['payload_too_large']);
    expect(codes('415')).toEqual(['unsupported_media_type']);
    expect(codes('429')).toContain('rate_limit_exceeded');
    expect(codes('502')).toEqual(['upstream_auth_error']);
    expect(codes('503')).toContain('service_unavailable');
    expect(codes('504')).toEqual(['upstream_timeout']);
  });

  it('has examples that match their own schemas (request bodies, JSON answers, streams, metrics)', () => {
    let checked = 0;
    for (const [op, operation] of operations(spec)) {
      const medias = [
        ...Object.entries(operation.requestBody?.content ?? {}).map(
          ([type, media]) => [`request ${type}`, type, media] as const,
        ),
        ...Object.entries(operation.responses).flatMap(([status, response]) =>
          Object.entries(response.content ?? {}).map(
            ([type, media]) => [`${status} ${type}`, type, media] as const,
          ),
        ),
      ];
      for (const [where, type, media] of medias) {
        for (const [name, value] of examplesOf(media)) {
          expect(bodyProblem(strict, type, media, value), `${op} ${where} example ${name}`).toBeNull();
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThan(80);
    // The chat body's examples pass the gateway's own validation.
    for (const [name, example] of Object.entries(chatRequestExamples(spec))) {
      expect(() => validateChatRequest(structuredClone(example)), name).not.toThrow();
    }
  });

  it('has OpenAI-shaped examples: they conform to OpenAI’s own schemas (the vendored subset)', () => {
    const openai = loadOpenAiSpec();
    const conform = (schema: string, value: unknown, label: string) => {
      const validate = openai.validator(schema);
      expect(validate(value), `${label} vs OpenAI ${schema}:\n${describeErrors(validate.errors)}`).toBe(true);
    };
    const chat = spec.paths['/v1/chat/completions'].post.responses['200'].content!;
    for (const [name, value] of examplesOf(chat['application/json'])) {
      conform('CreateChatCompletionResponse', value, name);
    }
    for (const [name, value] of examplesOf(chat['text/event-stream'])) {
      for (const data of sseEvents(value as string).filter((d) => d !== '[DONE]')) {
        const event = JSON.parse(data) as Json;
        conform('error' in event ? 'ErrorResponse' : 'CreateChatCompletionStreamResponse', event, name);
      }
    }
    for (const [name, value] of examplesOf(
      spec.paths['/v1/models'].get.responses['200'].content!['application/json'],
    )) {
      conform('ListModelsResponse', value, name);
    }
    for (const [name, value] of examplesOf(
      spec.paths['/v1/models/{path}'].get.responses['200'].content!['application/json'],
    )) {
      conform('Model', value, name);
    }
    for (const [op, operation] of operations(spec)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400 && !NOT_ENVELOPES.has(`${op} ${status}`)) {
          for (const [name, value] of examplesOf(response.content!['application/json'])) {
            conform('ErrorResponse', value, `${op} ${status} ${name}`);
          }
        }
      }
    }
  });

  it('describes the chat body with the schema the gateway validates with: both accept and refuse the same bodies', () => {
    const loose = schemaValidator(spec, false);
    const request = { $ref: '#/components/schemas/CreateChatCompletionRequest' };
    const hello = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hello!' }] };
    const bodies: Array<[string, unknown]> = [
      ...Object.entries(chatRequestExamples(spec)),
      [
        'every role',
        {
          ...hello,
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'developer', content: [{ type: 'text', text: 'no markdown' }] },
            {
              role: 'user',
              content: [
                { type: 'text', text: 'look' },
                { type: 'image_url', image_url: { url: 'data:image/png;base64,AA', detail: 'low' } },
              ],
            },
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
            },
            { role: 'tool', tool_call_id: 'c1', content: 'result' },
          ],
          temperature: 2,
          top_p: 0,
          n: 1,
          stop: ['a', 'b'],
          seed: 7,
          max_tokens: null,
          reasoning_effort: null,
          response_format: { type: 'json_object' },
          tool_choice: 'auto',
          logit_bias: { '50256': -100 },
          metadata: { a: 'b' },
          stream: true,
          stream_options: { include_usage: true },
        },
      ],
      [
        'audio and file parts',
        {
          ...hello,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } },
                { type: 'file', file: { file_data: 'AA', filename: 'a.pdf' } },
              ],
            },
          ],
        },
      ],
      [
        'a named tool choice',
        {
          ...hello,
          tools: [
            { type: 'function', function: { name: 'f', parameters: { type: 'object' }, strict: null } },
          ],
          tool_choice: { type: 'function', function: { name: 'f' } },
        },
      ],
      ['no model', { messages: hello.messages }],
      ['an empty model', { ...hello, model: '' }],
      ['no messages', { model: 'gpt-6-luna', messages: [] }],
      ['an unknown field', { ...hello, additionalProp1: {} }],
      ['temperature 5', { ...hello, temperature: 5 }],
      ['n 0', { ...hello, n: 0 }],
      ['5 stops', { ...hello, stop: ['a', 'b', 'c', 'd', 'e'] }],
      ['an unknown role', { ...hello, messages: [{ role: 'robot', content: 'hi' }] }],
      ['a user without content', { ...hello, messages: [{ role: 'user' }] }],
      ['a user with a null content', { ...hello, messages: [{ role: 'user', content: null }] }],
      [
        'a refusal part from the user',
        { ...hello, messages: [{ role: 'user', content: [{ type: 'refusal', refusal: 'no' }] }] },
      ],
      [
        'an image part without url',
        { ...hello, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] },
      ],
      [
        'a system message with a tool_call_id',
        { ...hello, messages: [{ role: 'system', content: 'x', tool_call_id: 'c' }] },
      ],
      ['a tool message without tool_call_id', { ...hello, messages: [{ role: 'tool', content: 'x' }] }],
      ['json_schema without its schema', { ...hello, response_format: { type: 'json_schema' } }],
      ['text format with extras', { ...hello, response_format: { type: 'text', strict: true } }],
      ['a bad tool name', { ...hello, tools: [{ type: 'function', function: { name: 'has space' } }] }],
      ['an unknown tool choice', { ...hello, tool_choice: 'always' }],
      ['an unknown reasoning effort', { ...hello, reasoning_effort: 'extreme' }],
      ['a string stream', { ...hello, stream: 'yes' }],
      ['extra stream options', { ...hello, stream: true, stream_options: { include_usage: true, x: 1 } }],
      ['a non-number logit bias', { ...hello, logit_bias: { '1': 'x' } }],
    ];
    const verdicts = { accepted: 0, refused: 0 };
    for (const [name, body] of bodies) {
      let gateway = true;
      try {
        validateChatRequest(structuredClone(body));
      } catch {
        gateway = false;
      }
      const reference = loose.check(request, body) === null;
      expect(reference, `${name}: the gateway ${gateway ? 'accepts' : 'refuses'} it`).toBe(gateway);
      verdicts[gateway ? 'accepted' : 'refused'] += 1;
    }
    expect(verdicts.accepted).toBeGreaterThanOrEqual(7);
    expect(verdicts.refused).toBeGreaterThanOrEqual(20);
  });

  it('describes an API key as a bearer key (not a JWT) and the session token as its own scheme', () => {
    const { apiKey, session } = spec.components.securitySchemes;
    expect(apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(apiKey.bearerFormat).not.toBe('JWT');
    expect(apiKey.description).toMatch(/cf_live_…/);
    expect(apiKey.description).toMatch(/cf_test_…/);
    expect(session).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(spec.paths['/v1/chat/completions'].post.security).toEqual([{ apiKey: [] }]);
    expect(spec.paths['/v1/keys'].get.security).toEqual(
      expect.arrayContaining([{ apiKey: [] }, { session: [] }]),
    );
    // No real key in the reference: only placeholders.
    const text = JSON.stringify(spec);
    for (const key of text.match(/cf_(live|test)_[0-9A-Za-z]{20,}/g) ?? []) {
      expect(key, 'a key in the reference is a placeholder').toMatch(/^cf_(live|test)_X+$/);
    }
  });

  /** Sends a request and checks the answer against the reference: status, body, headers, error example. */
  async function expectDocumented(op: string, answer: Answer): Promise<void> {
    const [method, path] = op.split(' ');
    const response = spec.paths[path][method.toLowerCase()].responses[String(answer.status)];
    const label = `${op} answered ${answer.status} ${answer.text.slice(0, 300)}`;
    expect(response, `${label}: status not documented`).toBeDefined();
    seen.add(`${op} ${answer.status}`);
    const type = answer.headers.get('content-type') ?? '';
    const mediaType = Object.keys(response.content ?? {}).find((t) => type.startsWith(t));
    expect(mediaType, `${label}: content-type ${type} not documented`).toBeDefined();
    const media = response.content![mediaType!];
    const body = mediaType!.startsWith('text/') ? answer.text : (JSON.parse(answer.text) as unknown);
    expect(bodyProblem(strict, mediaType!, media, body), `${label}: does not match its schema`).toBeNull();
    for (const [name] of answer.headers) {
      if (/^(x-conflux-|x-should-retry$|retry-after$)/.test(name)) {
        expect(response.headers ?? {}, `${label}: header ${name} not documented`).toHaveProperty(name);
      }
    }
    if (answer.status >= 400 && !NOT_ENVELOPES.has(`${op} ${answer.status}`)) {
      const error = (body as { error: { type: string; code: string | null } }).error;
      const documented = Object.values(media.examples ?? {}).map(
        (e) => (e.value as typeof body & { error: typeof error }).error,
      );
      expect(
        documented.some((d) => d.type === error.type && d.code === error.code),
        `${label}: no ${answer.status} example with type ${error.type} and code ${error.code}`,
      ).toBe(true);
    }
  }

  async function send(
    t: Pick<TestApp, 'url'>,
    op: string,
    url: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Answer> {
    const res = await fetch(t.url + url, {
      method: op.split(' ')[0],
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body:
        options.body === undefined
          ? undefined
          : typeof options.body === 'string'
            ? options.body
            : JSON.stringify(options.body),
      signal: options.signal,
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  const check = async (
    op: string,
    url: string,
    options: Parameters<typeof send>[3] & { expect: number },
    t: Pick<TestApp, 'url'> = g.t,
  ) => {
    const answer = await send(t, op, url, options);
    expect(answer.status, `${op} ${url}: ${answer.text.slice(0, 300)}`).toBe(options.expect);
    await expectDocumented(op, answer);
    return answer;
  };

  it('"Try it out": every documented chat body, sent as documented with a test key, gets a documented 200', async () => {
    for (const [name, body] of Object.entries(chatRequestExamples(spec))) {
      const answer = await check('POST /v1/chat/completions', '/v1/chat/completions', {
        body,
        token: g.testKey,
        expect: 200,
      });
      const streamed = (body as { stream?: boolean }).stream === true;
      expect(answer.headers.get('content-type'), name).toMatch(
        streamed ? /^text\/event-stream/ : /^application\/json/,
      );
    }
  });

  it('real answers of every route have a documented status, schema, headers and error example', async () => {
    const chat = 'POST /v1/chat/completions';
    const hello = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hello!' }] };
    const big = { ...hello, messages: [{ role: 'user', content: 'x'.repeat(g.t.config.bodyLimitBytes) }] };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    await check('GET /health/live', '/health/live', { expect: 200 });
    await check('GET /health/ready', '/health/ready', { expect: 200 });
    await check('GET /metrics', '/metrics', { expect: 200 });
    await check('GET /v1/status', '/v1/status', { expect: 200 });

    const email = `reference-${Date.now()}@example.com`;
    const credentials = { email, password: 'a-long-password' };
    await check('POST /auth/signup', '/auth/signup', { body: credentials, expect: 201 });
    await check('POST /auth/signup', '/auth/signup', { body: credentials, expect: 409 });
    await check('POST /auth/signup', '/auth/signup', {
      body: { ...credentials, email: 'nope' },
      expect: 400,
    });
    await check('POST /auth/signup', '/auth/signup', { body: 'email=a', headers: form, expect: 415 });
    await check('POST /auth/login', '/auth/login', { body: credentials, expect: 200 });
    await check('POST /auth/login', '/auth/login', {
      body: { ...credentials, password: 'wrong-password' },
      expect: 401,
    });
    await check('POST /auth/login', '/auth/login', { body: '{"email":', expect: 400 });
    await check('POST /auth/login', '/auth/login', {
      body: { ...credentials, password: big.messages[0].content },
      expect: 413,
    });

    const created = await check('POST /v1/keys', '/v1/keys', {
      body: { name: 'ci', kind: 'test' },
      token: g.session,
      expect: 201,
    });
    await check('POST /v1/keys', '/v1/keys', {
      body: { name: 'ci', kind: 'gold' },
      token: g.session,
      expect: 400,
    });
    await check('POST /v1/keys', '/v1/keys', {
      body: { name: 'ci', kind: 'live' },
      token: g.testKey,
      expect: 403,
    });
    await check('POST /v1/keys', '/v1/keys', { body: { name: 'ci', kind: 'live' }, expect: 401 });
    await check('GET /v1/keys', '/v1/keys', { token: g.liveKey, expect: 200 });
    await check('GET /v1/keys', '/v1/keys', { token: 'eyJhbGciOiJIUzI1NiJ9.e30.x', expect: 401 });
    await check('DELETE /v1/keys/{id}', '/v1/keys/key_nope', { token: g.session, expect: 404 });
    const id = (JSON.parse(created.text) as { id: string }).id;
    await check('GET /v1/keys/{id}', `/v1/keys/${id}`, { token: g.session, expect: 200 });
    await check('GET /v1/keys/{id}', '/v1/keys/key_nope', { token: g.session, expect: 404 });
    await check('PATCH /v1/keys/{id}', `/v1/keys/${id}`, {
      body: { name: 'ci', credit_limit: '25', allowed_models: ['gpt-6-luna'], rate_limit_rpm: 30 },
      token: g.session,
      expect: 200,
    });
    await check('PATCH /v1/keys/{id}', `/v1/keys/${id}`, {
      body: { allowed_models: ['gpt-6-luna', 'gpt-9'] },
      token: g.session,
      expect: 400,
    });
    await check('PATCH /v1/keys/{id}', '/v1/keys/key_nope', {
      body: { name: 'x' },
      token: g.session,
      expect: 404,
    });
    await check('POST /v1/keys/{id}/rotate', `/v1/keys/${id}/rotate`, {
      body: { grace_seconds: 60 },
      token: g.session,
      expect: 201,
    });
    await check('POST /v1/keys/{id}/rotate', `/v1/keys/${id}/rotate`, {
      body: { grace_seconds: 10_000_000 },
      token: g.session,
      expect: 400,
    });
    await check('POST /v1/keys/{id}/rotate', '/v1/keys/key_nope/rotate', {
      body: {},
      token: g.session,
      expect: 404,
    });
    await check('GET /v1/alerts', '/v1/alerts', { token: g.session, expect: 200 });
    await check('PATCH /v1/alerts', '/v1/alerts', {
      body: { thresholds: { usage_80: false } },
      token: g.session,
      expect: 200,
    });
    await check('PATCH /v1/alerts', '/v1/alerts', {
      body: { alert_webhook_url: 'http://127.0.0.1/x' },
      token: g.session,
      expect: 400,
    });
    await check('POST /v1/alerts/webhook-secret', '/v1/alerts/webhook-secret', {
      token: g.session,
      expect: 200,
    });
    const spare = await createKey(g.t, g.session, 'live');
    await send(g.t, 'PATCH /v1/keys/{id}', `/v1/keys/${spare.id}`, {
      body: { credit_limit: '0.000001', allowed_models: ['gpt-6-luna'] },
      token: g.session,
    });
    await check('POST /v1/chat/completions', '/v1/chat/completions', {
      body: hello,
      token: spare.key,
      expect: 402,
    });
    await check('POST /v1/chat/completions', '/v1/chat/completions', {
      body: { ...hello, model: 'claude-haiku-5-5' },
      token: spare.key,
      expect: 403,
    });
    await check('DELETE /v1/keys/{id}', `/v1/keys/${id}`, { token: g.session, expect: 200 });

    await check('GET /v1/models', '/v1/models', { token: g.testKey, expect: 200 });
    await check('GET /v1/models', '/v1/models', { token: 'cf_live_nope', expect: 401 });
    await check('GET /v1/models/{path}', '/v1/models/gpt-6-luna', { token: g.testKey, expect: 200 });
    await check('GET /v1/models/{path}', '/v1/models/openai/gpt-oss-120b', { token: g.testKey, expect: 200 });
    await check('GET /v1/models/{path}', '/v1/models/gpt-0', { token: g.testKey, expect: 404 });

    await check(chat, '/v1/chat/completions', { body: hello, token: g.liveKey, expect: 200 });
    await check(chat, '/v1/chat/completions', {
      body: { ...hello, stream: true, stream_options: { include_usage: true } },
      token: g.liveKey,
      expect: 200,
    });
    await check(chat, '/v1/chat/completions', {
      body: hello,
      token: g.liveKey,
      headers: { 'idempotency-key': 'ref-1' },
      expect: 200,
    });
    await check(chat, '/v1/chat/completions', {
      body: hello,
      token: g.liveKey,
      headers: { 'idempotency-key': 'ref-1' },
      expect: 200,
    });
    await check(chat, '/v1/chat/completions', {
      body: { ...hello, model: 'gemini-3.8-flash' },
      token: g.testKey,
      headers: { 'x-conflux-mock': 'failover' },
      expect: 200,
    });
    await check(chat, '/v1/chat/completions', {
      body: { ...hello, temperature: 5 },
      token: g.testKey,
      expect: 400,
    });
    await check(chat, '/v1/chat/completions', {
      body: { ...hello, additionalProp1: {} },
      token: g.testKey,
      expect: 400,
    });
    await check(chat, '/v1/chat/completions', { body: '{"model":', token: g.testKey, expect: 400 });
    await check(chat, '/v1/chat/completions', {
      body: { ...hello, model: 'gemini-3.5-flash-lite', presence_penalty: 1 },
      token: g.testKey,
      headers: { 'x-conflux-strict-params': 'true' },
      expect: 400,
    });
    await check(chat, '/v1/chat/completions', {
      body: hello,
      token: g.testKey,
      headers: { 'x-conflux-mock': 'sometimes' },
      expect: 400,
    });
    await check(chat, '/v1/chat/completions', { body: hello, expect: 401 });
    await check(chat, '/v1/chat/completions', {
      body: { ...hello, model: 'gpt-0' },
      token: g.testKey,
      expect: 404,
    });
    await check(chat, '/v1/chat/completions', {
      body: 'model=gpt-6-luna',
      token: g.testKey,
      headers: form,
      expect: 415,
    });
    await check(chat, '/v1/chat/completions', { body: big, token: g.testKey, expect: 413 });
    await check(chat, '/v1/chat/completions', {
      body: hello,
      token: g.testKey,
      headers: { 'x-conflux-mock': 'rate_limit' },
      expect: 429,
    });
    await check(chat, '/v1/chat/completions', {
      body: hello,
      token: g.testKey,
      headers: { 'x-conflux-mock': 'server_error' },
      expect: 503,
    });

    const poor = await liveAccount(g.t);
    await setBalance(g.t, poor.accountId, 0n);
    await check(chat, '/v1/chat/completions', { body: hello, token: poor.key, expect: 402 });
    await check('GET /v1/credits', '/v1/credits', { token: poor.token, expect: 200 });
    await check('GET /v1/credits', '/v1/credits', { token: g.testKey, expect: 403 });

    await check('GET /v1/usage', '/v1/usage', { token: g.session, expect: 200 });
    await check('GET /v1/usage', '/v1/usage?group_by=day,model', { token: g.liveKey, expect: 200 });
    await check('GET /v1/usage', '/v1/usage?group_by=key&format=csv', { token: g.session, expect: 200 });
    await check('GET /v1/usage', '/v1/usage?format=csv', { token: g.session, expect: 200 });
    await check('GET /v1/usage', '/v1/usage?group_by=week', { token: g.session, expect: 400 });
    await check('GET /v1/usage', '/v1/usage', { token: g.testKey, expect: 403 });
    await check('GET /v1/usage', '/v1/usage', { expect: 401 });
    await check('GET /v1/usage/stream', '/v1/usage/stream', { token: g.testKey, expect: 403 });
    // A stream whose key is revoked while it listens ends: its whole text is checked (ready, usage, error).
    const listener = await createKey(g.t, g.session, 'live');
    const stream = await fetch(`${g.t.url}/v1/usage/stream`, {
      headers: { authorization: `Bearer ${listener.key}` },
    });
    const reader = stream.body!.getReader();
    let text = '';
    const readUntil = async (marker: string) => {
      while (!text.includes(marker)) {
        const chunk = await reader.read();
        if (chunk.done) {
          break;
        }
        text += new TextDecoder().decode(chunk.value);
      }
    };
    await readUntil('event: ready');
    await send(g.t, chat, '/v1/chat/completions', { body: hello, token: listener.key });
    await readUntil('event: usage');
    await send(g.t, 'DELETE /v1/keys/{id}', `/v1/keys/${listener.id}`, { token: g.session });
    await readUntil('event: error');
    await readUntil('\u0000'); // to the end
    await expectDocumented('GET /v1/usage/stream', { status: stream.status, headers: stream.headers, text });

    for (const fake of [g.fakes.openai, g.fakes.anthropic]) {
      fake.addFault({ kind: 'status', status: 401 }, { times: Infinity });
    }
    await check(chat, '/v1/chat/completions', { body: hello, token: g.liveKey, expect: 502 });
    g.fakes.reset();
    for (const fake of [g.fakes.openai, g.fakes.anthropic]) {
      fake.addFault({ kind: 'status', status: 500 }, { times: Infinity });
    }
    await check(chat, '/v1/chat/completions', { body: hello, token: g.liveKey, expect: 503 });
    g.fakes.reset();
    for (const fake of [g.fakes.openai, g.fakes.anthropic]) {
      fake.addFault({ kind: 'hang' }, { times: Infinity });
    }
    await check(chat, '/v1/chat/completions', { body: hello, token: g.liveKey, expect: 504 });
    g.fakes.reset();
    g.fakes.openai.addFault({ kind: 'stream_error', afterChunks: 2 });
    const cut = await check(chat, '/v1/chat/completions', {
      body: { ...hello, stream: true },
      token: g.liveKey,
      expect: 200,
    });
    expect(cut.text).toContain('"code":"upstream_error"');
    g.fakes.reset();

    g.fakes.openai.addFault({ kind: 'hang' }, { times: 1 });
    const first = new AbortController();
    const inFlight = send(g.t, chat, '/v1/chat/completions', {
      body: hello,
      token: g.liveKey,
      headers: { 'idempotency-key': 'ref-2' },
      signal: first.signal,
    }).catch(() => null);
    await waitFor(() => g.fakes.openai.chatRequests().length > 0, 5_000, 'the first request at the provider');
    await check(chat, '/v1/chat/completions', {
      body: hello,
      token: g.liveKey,
      headers: { 'idempotency-key': 'ref-2' },
      expect: 409,
    });
    first.abort();
    await inFlight;
    g.fakes.reset();

    const buyer = await liveAccount(g.t);
    await check('POST /v1/billing/portal', '/v1/billing/portal', { token: buyer.token, expect: 404 });
    const checkout = await check('POST /v1/billing/checkout', '/v1/billing/checkout', {
      body: { plan: 'power' },
      token: buyer.token,
      expect: 200,
    });
    await check('POST /v1/billing/checkout', '/v1/billing/checkout', {
      body: { plan: 'gold' },
      token: buyer.token,
      expect: 400,
    });
    await check('POST /v1/billing/portal', '/v1/billing/portal', { token: buyer.key, expect: 200 });
    const [expired] = g.fakes.stripe.expireCheckout((JSON.parse(checkout.text) as { id: string }).id);
    const payload = stripeEventPayload(expired);
    await check('POST /webhooks/stripe', '/webhooks/stripe', {
      body: payload,
      headers: { 'stripe-signature': g.fakes.stripe.sign(payload) },
      expect: 200,
    });
    await check('POST /webhooks/stripe', '/webhooks/stripe', { body: payload, expect: 400 });

    // The admin API (a staff session) and the owner's deletion.
    const staff = await signup(g.t);
    await g.t.db.query(`UPDATE accounts SET role = 'admin' WHERE id = $1`, [staff.accountId]);
    const admin = staff.token;
    const customer = await signup(g.t);
    const customerKey = await createKey(g.t, customer.token, 'live');
    const acct = `/admin/accounts/${customer.accountId}`;
    const reason = { reason: 'Ticket #1: reference' };
    await check('GET /admin/accounts', `/admin/accounts?q=${customer.email}`, { token: admin, expect: 200 });
    await check('GET /admin/accounts', '/admin/accounts?limit=1000', { token: admin, expect: 400 });
    await check('GET /admin/accounts', '/admin/accounts', { expect: 401 });
    await check('GET /admin/accounts', '/admin/accounts', { token: g.session, expect: 403 });
    await check('GET /admin/accounts', '/admin/accounts', { token: g.testKey, expect: 403 });
    await check('GET /admin/accounts/{id}', acct, { token: admin, expect: 200 });
    await check('GET /admin/accounts/{id}', `/admin/accounts/${crypto.randomUUID()}`, {
      token: admin,
      expect: 404,
    });
    await check('POST /admin/accounts/{id}/suspend', `${acct}/suspend`, {
      body: reason,
      token: admin,
      expect: 200,
    });
    await check('POST /admin/accounts/{id}/suspend', `${acct}/suspend`, {
      body: {},
      token: admin,
      expect: 400,
    });
    await check('GET /v1/models', '/v1/models', { token: customerKey.key, expect: 403 });
    await check('POST /admin/accounts/{id}/reactivate', `${acct}/reactivate`, {
      body: reason,
      token: admin,
      expect: 200,
    });
    const credits = 'POST /admin/accounts/{id}/credits';
    const grant = { credits: '250', reason: 'Ticket #1: refund' };
    await check(credits, `${acct}/credits`, {
      body: grant,
      token: admin,
      headers: { 'idempotency-key': 'r1' },
      expect: 200,
    });
    await check(credits, `${acct}/credits`, { body: grant, token: admin, expect: 400 });
    await check(credits, `${acct}/credits`, {
      body: { ...grant, credits: '-5000' },
      token: admin,
      headers: { 'idempotency-key': 'r2' },
      expect: 400,
    });
    await check('GET /admin/accounts/{id}/ledger', `${acct}/ledger?limit=2`, { token: admin, expect: 200 });
    await check('POST /admin/accounts/{id}/plan', `${acct}/plan`, {
      body: { ...reason, plan: 'pro' },
      token: admin,
      expect: 200,
    });
    await check('DELETE /admin/keys/{key_id}', `/admin/keys/${customerKey.id}?reason=leaked`, {
      token: admin,
      expect: 200,
    });
    await check('DELETE /admin/keys/{key_id}', '/admin/keys/key_nope', { token: admin, expect: 404 });
    await check('GET /admin/providers', '/admin/providers', { token: admin, expect: 200 });
    await check('POST /admin/providers/{provider}/drain', '/admin/providers/groq/drain', {
      body: reason,
      token: admin,
      expect: 200,
    });
    await check('POST /admin/providers/{provider}/restore', '/admin/providers/groq/restore', {
      body: reason,
      token: admin,
      expect: 200,
    });
    await check('POST /admin/providers/{provider}/drain', '/admin/providers/nope/drain', {
      body: reason,
      token: admin,
      expect: 404,
    });
    await check('GET /admin/staff', '/admin/staff', { token: admin, expect: 200 });
    const staffCreated = await check('POST /admin/staff', '/admin/staff', {
      body: { email: `support-${Date.now()}@example.com`, password: 'support-password', role: 'support' },
      token: admin,
      expect: 201,
    });
    const supportId = (JSON.parse(staffCreated.text) as { id: string }).id;
    await check('PATCH /admin/staff/{id}', `/admin/staff/${supportId}`, {
      body: { role: 'admin' },
      token: admin,
      expect: 200,
    });
    await check('PATCH /admin/staff/{id}', `/admin/staff/${supportId}`, {
      body: { role: 'root' },
      token: admin,
      expect: 400,
    });
    await check('POST /admin/accounts/{id}/deletion', `${acct}/deletion`, {
      body: reason,
      token: admin,
      expect: 200,
    });
    await check('DELETE /admin/accounts/{id}/deletion', `${acct}/deletion`, {
      body: reason,
      token: admin,
      expect: 200,
    });
    await check('DELETE /admin/accounts/{id}/deletion', `${acct}/deletion`, {
      body: reason,
      token: admin,
      expect: 409,
    });
    await check('GET /admin/audit', `/admin/audit?target=${customer.accountId}&limit=3`, {
      token: admin,
      expect: 200,
    });
    const leaving = await signup(g.t);
    await check('DELETE /v1/account', '/v1/account', {
      body: { password: 'wrong-password' },
      token: leaving.token,
      expect: 401,
    });
    await check('DELETE /v1/account', '/v1/account', {
      body: { password: 'a-long-password' },
      token: leaving.token,
      expect: 200,
    });

    // The account's life, on a gateway that sends mail (to the SMTP catcher) and moves by a clock of its own.
    await check('POST /auth/password/forgot', '/auth/password/forgot', { body: { email }, expect: 503 });
    const smtp = new SmtpCatcher();
    await smtp.start();
    const clock = new ManualClock();
    const mailed = await startApp(smtp.env, { clock });
    try {
      const who = await signup(mailed);
      const verification = tokenOf(await smtp.nextMail(who.email));
      const on = (op: string, url: string, options: Parameters<typeof check>[2]) =>
        check(op, url, options, mailed);
      await on('POST /auth/verify/resend', '/auth/verify/resend', { token: who.token, expect: 429 });
      clock.advance(61_000);
      await on('POST /auth/verify/resend', '/auth/verify/resend', { token: who.token, expect: 202 });
      await on('POST /auth/verify/resend', '/auth/verify/resend', { expect: 401 });
      await on('POST /auth/verify', '/auth/verify', { body: { token: 'unknown' }, expect: 400 });
      await on('POST /auth/verify', '/auth/verify', { body: { token: verification }, expect: 200 });
      await on('POST /auth/verify/resend', '/auth/verify/resend', { token: who.token, expect: 409 });
      await smtp.nextMail(who.email); // the resent one

      await on('POST /auth/password/forgot', '/auth/password/forgot', {
        body: { email: who.email },
        expect: 202,
      });
      await on('POST /auth/password/forgot', '/auth/password/forgot', { body: { email: 'x' }, expect: 400 });
      const reset = tokenOf(await smtp.nextMail(who.email));
      await on('POST /auth/password/reset', '/auth/password/reset', {
        body: { token: reset, password: 'password1234' },
        expect: 400,
      });
      await on('POST /auth/password/reset', '/auth/password/reset', {
        body: { token: reset, password: 'a new long pass phrase' },
        expect: 200,
      });
      await on('POST /auth/logout', '/auth/logout', { token: who.token, expect: 401 }); // the reset ended it
      const login = await send(mailed, 'POST /auth/login', '/auth/login', {
        body: { email: who.email, password: 'a new long pass phrase' },
      });
      const session = (JSON.parse(login.text) as { token: string }).token;
      await on('POST /auth/password/change', '/auth/password/change', {
        body: { current_password: 'wrong', password: 'the third long phrase' },
        token: session,
        expect: 400,
      });
      await on('POST /auth/password/change', '/auth/password/change', {
        body: { current_password: 'a new long pass phrase', password: 'the third long phrase' },
        token: session,
        expect: 200,
      });
      const test = await createKey(mailed, session, 'test');
      await on('POST /auth/logout', '/auth/logout', { token: test.key, expect: 403 });
      await on('POST /auth/logout', '/auth/logout', { token: session, expect: 200 });
      const again = await send(mailed, 'POST /auth/login', '/auth/login', {
        body: { email: who.email, password: 'the third long phrase' },
      });
      const last = (JSON.parse(again.text) as { token: string }).token;
      await on('POST /auth/logout-all', '/auth/logout-all', { token: last, expect: 200 });
      await on('POST /auth/logout-all', '/auth/logout-all', { token: last, expect: 401 });
    } finally {
      await mailed.close();
      await smtp.close();
    }

    // Every route answered a documented success at least once.
    for (const [op, operation] of operations(spec)) {
      const success = Object.keys(operation.responses).find((s) => s.startsWith('2'));
      expect(seen.has(`${op} ${success}`), `${op} was called`).toBe(true);
    }
  });

  describe('limits and a draining instance', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ RATE_LIMIT_RPM: '1', AUTH_RATE_LIMIT_RPM: '1' });
    });
    afterAll(() => t.close());

    it('answer as documented: per-key and per-address 429s, then 503 while shutting down', async () => {
      const { token } = await signup(t);
      const { key } = await createKey(t, token, 'test');
      await check('GET /v1/models', '/v1/models', { token: key, expect: 200 }, t);
      await check('GET /v1/models', '/v1/models', { token: key, expect: 429 }, t);
      await check(
        'POST /auth/login',
        '/auth/login',
        { body: { email: 'a@example.com', password: 'a-long-password' }, expect: 429 },
        t,
      );
      await t.app.get(Lifecycle).drain();
      await check('GET /health/ready', '/health/ready', { expect: 503 }, t);
      await check('GET /v1/status', '/v1/status', { expect: 503 }, t);
      await check('GET /health/live', '/health/live', { expect: 200 }, t);
    });
  });
});

function chatRequestExamples(spec: Spec): Record<string, unknown> {
  const media = spec.paths['/v1/chat/completions'].post.requestBody!.content['application/json'];
  return Object.fromEntries(Object.entries(media.examples ?? {}).map(([name, e]) => [name, e.value]));
}
