import 'reflect-metadata';
import { randomText } from './common/random-id.js';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Logger as NestLogger, ValidationPipe } from '@nestjs/common';
import fastifyCors, { type FastifyCorsOptionsDelegateCallback } from '@fastify/cors';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { ValidationError } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module.js';
import { chatRequestComponents } from './chat/chat.dto.js';
import { type Clock, SystemClock } from './common/clock.js';
import { answerClientError, answeredOnConnection } from './common/client-errors.js';
import { toErrorResponse } from './common/error-response.js';
import { ErrorCode, GatewayError } from './common/errors.js';
import { registerJsonBodyParser } from './common/json-body.js';
import { API_KEY_AUTH, SESSION_AUTH } from './common/openapi.js';
import type { Config } from './config/config.js';
import { serveDashboard } from './dashboard/dashboard.js';
import { Lifecycle } from './ops/lifecycle.service.js';
import { MetricsService } from './ops/metrics.service.js';

function newRequestId(raw: IncomingMessage): string {
  const id = `req_${randomText(12, 'hex')}`;
  (raw as IncomingMessage & { id?: string }).id = id; // pino-http reads it from the raw request
  return id;
}

/** The first failing field of a DTO, as an OpenAI error with `param` set. */
function validationError(errors: ValidationError[]): GatewayError {
  let error = errors[0];
  const path = [error.property];
  while (error.children && error.children.length > 0 && !error.constraints) {
    error = error.children[0];
    path.push(error.property);
  }
  const param = path.join('.');
  if (error.constraints && 'whitelistValidation' in error.constraints) {
    return new GatewayError(ErrorCode.InvalidRequest, `Unrecognized request argument supplied: ${param}`, {
      param,
    });
  }
  if (error.value === undefined) {
    // Every other constraint of an absent field fails too, and would only say what its value should look like.
    return new GatewayError(ErrorCode.InvalidRequest, `Missing required parameter: '${param}'.`, { param });
  }
  // class-validator checks a field's decorators from the bottom up, so its constraints come in that order: the
  // last is the top one, which the DTOs make the type check ("must be a string" before "must be 1 to 100
  // characters", "must be a date-time" before "must be before the year 10000").
  const message = Object.values(error.constraints ?? {}).at(-1) ?? `${param} is invalid`;
  return new GatewayError(ErrorCode.InvalidRequest, message, { param });
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  return (
    (headers['content-length'] !== undefined && headers['content-length'] !== '0') ||
    headers['transfer-encoding'] !== undefined
  );
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/(.+\+)?json\s*(;|$)/i.test(contentType);
}

/** The status logged for a request whose answer never finished because the client left first (nginx's). */
const CLIENT_CLOSED_REQUEST = 499;

/** Whose `X-Forwarded-For` is believed, in Fastify's terms. */
function trustProxy(
  setting: Config['http']['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting === 'number') {
    // Fastify 5 now takes a bare hop count as "trust nobody" (a count cannot tell a proxy from a client that
    // connects directly). Set here, it means what it says, the N nearest hops are believed; the README says when
    // that is safe.
    return (_address, hop) => hop < setting;
  }
  return setting;
}

/**
 * How often Node looks for requests past `headersTimeout`/`requestTimeout` (30 s by default, which would let a
 * 10 s limit run to 40 s): a small fraction of the shorter one, at most once a second.
 */
function timeoutCheckInterval(config: Config): number {
  const shorter = Math.min(config.http.headersTimeoutMs, config.http.requestTimeoutMs);
  return Math.max(10, Math.min(1_000, Math.floor(shorter / 4)));
}

/** What a browser page may read of an answer besides the CORS-safelisted headers: what the gateway tells. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-conflux-provider',
  'x-conflux-model',
  'x-conflux-attempts',
  'x-conflux-cost-credits',
  'x-conflux-credits-remaining',
  'x-conflux-max-tokens',
  'x-conflux-dropped-params',
  'x-conflux-idempotent-replay',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-remaining-tokens-minute',
  'x-ratelimit-reset-tokens-minute',
  'x-should-retry',
  'retry-after',
];

/**
 * CORS for browser clients, on the API (`/v1/*`) only: any origin by default, as OpenAI's API (keys travel in the
 * Authorization header, never in a cookie, so no credentials mode), or the configured list. The request headers a
 * preflight asks for are allowed (the OpenAI SDK sends its own `x-stainless-*` ones besides Authorization and
 * Content-Type). Other paths get no CORS headers, and a preflight there is a 404.
 */
function corsFor(origins: Config['corsOrigins']): FastifyCorsOptionsDelegateCallback {
  const api = {
    origin: origins === '*' ? '*' : origins,
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
    strictPreflight: false,
  };
  return (request, callback) => {
    callback(null, request.url.startsWith('/v1/') ? api : { origin: false });
  };
}

export interface AppOptions {
  /** Where JSON logs go (stdout by default; tests capture them to check nothing secret is logged). */
  logStream?: DestinationStream;
  /** The time the services decide by (the system clock by default; tests pass a `ManualClock` and move it). */
  clock?: Clock;
}

/** Builds the whole application on Fastify, ready to `listen`. Used by main.ts and by the e2e tests. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    genReqId: newRequestId,
    trustProxy: trustProxy(config.http.trustProxy),
    // Shutdown never waits on a client that went silent: connections still open are cut.
    forceCloseConnections: true,
    // A client has this long to send its request, body included. Node counts it until the request is received,
    // not answered: a stream may then last as long as the model writes. No socket idle timeout
    // (`connectionTimeout`): a request waiting on a slow provider's first byte is silent, and must not be cut.
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    http: {
      requestTimeout: config.http.requestTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      connectionsCheckingInterval: timeoutCheckInterval(config),
    },
    // What Node refuses before a route runs (malformed, headers too large, too slow) gets the OpenAI envelope too.
    clientErrorHandler: answerClientError,
    // Errors Fastify meets before routing (a malformed URL, a path too long) get the OpenAI envelope too.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      const response = toErrorResponse(error, request.id);
      void reply
        .status(response.status)
        .headers({ ...response.headers, 'x-request-id': request.id })
        .type('application/json')
        .send(response.body);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, options.clock ?? new SystemClock(), options.logStream),
    adapter,
    {
      bufferLogs: true,
      // Bodies are read by registerJsonBodyParser (below), not by Nest's parsers.
      bodyParser: false,
    },
  );
  registerJsonBodyParser(app.getHttpAdapter().getInstance());
  const logger = app.get(Logger);
  app.useLogger(logger);
  // No shutdown hooks: a stop signal drains first (main.ts), then closes the app.
  app.useGlobalPipes(
    new ValidationPipe({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      exceptionFactory: validationError,
    }),
  );

  // First of the hooks: every answer of /v1/* carries the CORS headers, errors (401, 429, 503) included.
  await app.register(fastifyCors, { delegator: corsFor(config.corsOrigins) });

  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(MetricsService);
  // One line and one sample per request: id, method, route, status, duration. Never headers, query strings or bodies.
  const recorded = new WeakSet<FastifyRequest>();
  const record = (request: FastifyRequest, reply: FastifyReply, status: number) => {
    if (recorded.has(request)) {
      return; // one answer may both end ('finish' or 'error': onResponse) and close
    }
    recorded.add(request);
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observe(route, request.method, status, reply.elapsedTime / 1000);
    if (route !== '/health/live' && route !== '/metrics') {
      logger.log(
        {
          requestId: request.id,
          method: request.method,
          route,
          status,
          ms: Math.round(reply.elapsedTime),
          key: request.auth?.key?.publicId,
        },
        'http',
      );
    }
  };
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    // `onResponse` runs when an answer finishes. One that never does (the client left before the end, or never
    // sent its whole body) is recorded when the connection closes. Fastify's `onRequestAbort` would not do: it
    // fires only for a request whose body was not fully received, and a chat request waiting on its provider has
    // been received.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) {
        record(request, reply, answeredOnConnection(reply.raw) ?? CLIENT_CLOSED_REQUEST);
      }
    });
  });
  // A draining instance takes no new work: the client retries elsewhere (readiness already says 503).
  const lifecycle = app.get(Lifecycle);
  fastify.addHook('onRequest', async (request, reply) => {
    if (lifecycle.draining && !request.url.startsWith('/health/') && request.url !== '/metrics') {
      void reply.header('connection', 'close');
      throw new GatewayError(ErrorCode.ServiceUnavailable, 'This gateway instance is shutting down. Retry.', {
        headers: { 'retry-after': '1' },
      });
    }
  });
  // Every body is JSON: anything else is 415, never parsed as text or a form.
  fastify.addHook('onRequest', async (request) => {
    if (hasBody(request.headers) && !isJson(request.headers['content-type'])) {
      throw new GatewayError(ErrorCode.UnsupportedMediaType);
    }
  });
  fastify.addHook('onResponse', async (request, reply) => record(request, reply, reply.statusCode));

  await serveDashboard(app);
  SwaggerModule.setup('docs', app, () => buildOpenApi(app), { jsonDocumentUrl: 'openapi.json' });
  await app.init();
  NestLogger.flush();
  return app;
}

export function buildOpenApi(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Conflux Router')
    .setDescription(
      'One OpenAI-compatible API in front of 16 models from OpenAI, Anthropic, Google Gemini, Cerebras and Groq. ' +
        'Point any OpenAI SDK at this server (`baseURL: <this server>/v1`) and use a Conflux key.\n\n' +
        '**First request:** sign up (`POST /auth/signup`), create a test key with the session token (`POST /v1/keys`, ' +
        '`{"name":"dev","kind":"test"}`), press *Authorize*, paste the `cf_test_…` key under `apiKey`, then try ' +
        '`POST /v1/chat/completions`: test keys get a free mock answer.\n\n' +
        '**Errors** use the OpenAI envelope `{"error":{"message","type","param","code"}}`; each route lists the ' +
        'statuses it can answer, with an example of each. Every answer carries `x-request-id`; a key-authenticated ' +
        'answer carries the `x-ratelimit-*-requests` headers.',
    )
    .setVersion('1.0')
    .addSecurity(API_KEY_AUTH, {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'API key',
      description:
        'A Conflux API key, `Authorization: Bearer cf_live_…` (real, billed calls) or `Bearer cf_test_…` (free mock ' +
        'answers): the prefix, 32 random base62 characters and a 6-character checksum. Create one with ' +
        '`POST /v1/keys`. Not a JWT.',
    })
    .addSecurity(SESSION_AUTH, {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'A dashboard session token (a JWT) from `POST /auth/signup` or `POST /auth/login`, valid for `expires_in` ' +
        'seconds: `Authorization: Bearer <token>`. Account routes (`/v1/keys`, `/v1/credits`) take it, or a live key.',
    })
    .addTag('chat', 'Chat completions, OpenAI-compatible (streaming included)')
    .addTag('models', 'The model catalog: providers, context, prices in credits, fallbacks')
    .addTag('keys', 'API keys of the account (session token or live key)')
    .addTag('billing', 'Credits: balance, plan, use')
    .addTag('auth', 'Dashboard accounts and session tokens')
    .addTag('status', 'Provider and model health (public)')
    .addTag('ops', 'Liveness, readiness and Prometheus metrics, for operators')
    .addTag('admin', 'Support staff: accounts, credits, keys, plans, deletion, providers, staff, audit log')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  const schemas = (document.components ??= {}).schemas ?? {};
  for (const [name, schema] of Object.entries(chatRequestComponents())) {
    if (name in schemas) {
      throw new Error(`OpenAPI: two schemas named ${name}`);
    }
    schemas[name] = schema;
  }
  document.components.schemas = schemas;
  return document;
}
