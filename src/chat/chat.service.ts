import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CatalogService } from '../catalog/catalog.service.js';
import type { CatalogDeployment, CatalogModel } from '../catalog/catalog.types.js';
import { formatCredits } from '../catalog/credits.js';
import { costMicro, priceAt } from '../catalog/pricing.js';
import { toErrorResponse } from '../common/error-response.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { ProviderId } from '../common/provider-ids.js';
import { countTextTokens } from '../common/tokens.js';
import { CONFIG, type Config } from '../config/config.js';
import { ProviderHealth } from '../health/provider-health.js';
import { IdempotencyService, type IdempotencyClaim } from '../billing/idempotency.service.js';
import { MeteringService } from '../billing/metering.service.js';
import type { Hold, UsageRecord, UsageStatus } from '../billing/metering.types.js';
import type { AuthContext } from '../keys/auth-context.js';
import type { ChatCompletionRequest, Usage } from '../providers/openai-types.js';
import { PROVIDER_ADAPTERS } from '../providers/registry.js';
import { isFailure, ProviderTransport } from '../providers/transport.js';
import type {
  MapContext,
  NormalizedResponse,
  ProviderAdapter,
  ProviderFailure,
  StreamPart,
  ToolCallState,
} from '../providers/types.js';
import { candidates, type Candidate } from '../routing/candidates.js';
import { ChunkBuilder, deliveredText, newCompletionId, toCompletion } from './chunks.js';
import { estimatePromptTokens } from './estimate.js';
import { MOCK_BEHAVIOURS, mockAnswer, mockStream, type MockBehaviour } from './mock-provider.js';
import { validateChatRequest } from './request-schema.js';
import { SseWriter } from './sse-writer.js';
import { ToolStateStore } from './tool-state.store.js';

export interface ChatCall {
  auth: AuthContext;
  body: unknown;
  requestId: string;
  /** `x-conflux-mock`: simulated behaviour for test keys. */
  mock?: string;
  /** The `Idempotency-Key` header, and the raw API key that seals the stored answer. */
  idempotencyKey?: string;
  rawKey: string;
  reply: FastifyReply;
}

/** A request on its way: what every step of the pipeline needs to know. */
interface Flight {
  call: ChatCall;
  request: ChatCompletionRequest;
  model: CatalogModel;
  promptEstimate: number;
  stream: boolean;
  started: number;
  attempts: number;
  /** Aborted when the client goes away: cancels the upstream request. */
  client: AbortController;
  /** Set when the request carries an Idempotency-Key it now owns. */
  claim?: IdempotencyClaim;
  /** Set once the usage event and its ledger entry are written: from then on the claim is never released. */
  settled?: boolean;
  /** The candidate of the latest attempt: the provider a client abort leaves holding the request. */
  inFlight?: Candidate;
}

/** The attempt that served the request, with what it produced. */
interface Served {
  candidate: Candidate;
  response?: NormalizedResponse;
  /** Streaming: the parts read so far (up to the first content) and the rest of the stream. */
  head?: StreamPart[];
  rest?: AsyncIterator<StreamPart>;
  upstream?: AbortController;
  ttftMs?: number;
}

/** Failover classes: retry the next candidate on these. */
function failsOver(failure: ProviderFailure): boolean {
  return failure.kind !== 'client';
}

const count = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Usage a provider reported that can be billed as it is: whole, non-negative counts, cached within the prompt. */
function sane(usage: Usage): boolean {
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  return (
    count(usage.prompt_tokens) &&
    count(usage.completion_tokens) &&
    count(cached) &&
    count(reasoning) &&
    cached <= usage.prompt_tokens
  );
}

function isContent(part: StreamPart): boolean {
  return (
    part.type === 'text' || part.type === 'refusal' || part.type === 'tool_call' || part.type === 'finish'
  );
}

/**
 * POST /v1/chat/completions: validate → admit (hold credits) → route over the failover chain → call the provider
 * → answer (JSON, or SSE through the raw reply) → settle (usage event + ledger entry, once).
 */
@Injectable()
export class ChatService {
  private readonly logger = new Logger(ChatService.name);

  constructor(
    private readonly catalog: CatalogService,
    private readonly transport: ProviderTransport,
    private readonly toolState: ToolStateStore,
    private readonly metering: MeteringService,
    private readonly idempotency: IdempotencyService,
    private readonly health: ProviderHealth,
    @Inject(PROVIDER_ADAPTERS) private readonly adapters: Record<ProviderId, ProviderAdapter>,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async complete(call: ChatCall): Promise<void> {
    const request = validateChatRequest(call.body);
    const model = this.catalog.require(request.model);
    const flight: Flight = {
      call,
      request,
      model,
      promptEstimate: estimatePromptTokens(request),
      stream: request.stream === true,
      started: Date.now(),
      attempts: 0,
      client: new AbortController(),
    };
    // Validation first (a 400 for what the model cannot honour), without asking health: a test key or a replay
    // must not take a half-open circuit's one trial request.
    this.route(flight, () => 0);
    if (call.idempotencyKey) {
      const claimed = await this.idempotency.claim(
        call.auth.accountId,
        call.rawKey,
        call.idempotencyKey,
        call.body,
      );
      if (claimed.kind === 'replay') {
        const { status, headers, body } = claimed.answer;
        void call.reply
          .status(status)
          .headers({ ...headers, 'x-request-id': call.requestId, 'x-conflux-idempotent-replay': 'true' })
          .type('application/json')
          .send(body);
        return;
      }
      flight.claim = claimed.claim;
    }
    try {
      await (call.auth.key?.kind === 'test'
        ? this.completeWithMock(flight)
        : this.completeLive(
            flight,
            this.route(flight, (d) => this.health.rank(d.provider, d.providerModel)),
          ));
    } catch (error) {
      if (flight.claim && !flight.settled) {
        await this.idempotency.release(flight.claim);
      }
      throw error;
    }
  }

  private async completeLive(flight: Flight, chain: Candidate[]): Promise<void> {
    const { call } = flight;
    if (chain.length === 0) {
      throw this.unavailable(flight);
    }
    const servingModels = [...new Set(chain.map((c) => c.model))];
    const hold = await this.metering.reserve(
      call.auth,
      call.requestId,
      servingModels,
      flight.promptEstimate,
      // every choice may run to max_tokens
      this.maxOutput(flight) * (flight.request.n ?? 1),
    );
    const raw = call.reply.raw;
    const onClose = () => {
      if (!raw.writableFinished) {
        flight.client.abort();
      }
    };
    raw.on('close', onClose);
    let served: Served | undefined;
    try {
      served = await this.serve(flight, chain);
    } catch (error) {
      // No provider delivered anything: record it (what reached a provider is billed), release the hold, answer.
      raw.off('close', onClose);
      await this.metering.settle(hold, this.failedRecord(flight, error));
      if (flight.client.signal.aborted) {
        raw.destroy(); // the client is gone: nothing to answer, and the connection must not linger
      }
      throw error;
    }
    try {
      await (served.response
        ? this.answerJson(flight, served, hold)
        : this.answerStream(flight, served, hold));
    } finally {
      raw.off('close', onClose);
    }
  }

  /** The failover chain for this request (see candidates()), ranked by `rank`. */
  private route(flight: Flight, rank: (deployment: CatalogDeployment) => number): Candidate[] {
    return candidates({
      request: flight.request,
      chain: this.catalog.chain(flight.model.id),
      promptTokens: flight.promptEstimate,
      enabled: (provider) => this.config.providers[provider].enabled,
      rank,
      cost: (deployment, m) => priceAt(deployment, m.id, new Date()).outputPerM,
    });
  }

  private maxOutput(flight: Flight): number {
    return flight.request.max_completion_tokens ?? flight.request.max_tokens ?? flight.model.maxOutputTokens;
  }

  /** Tries each candidate in turn; returns the first that answers (for a stream: that produced content). */
  private async serve(flight: Flight, chain: Candidate[]): Promise<Served> {
    const saved = await this.toolState.load(flight.call, flight.request);
    let mappingError: GatewayError | undefined;
    let lastFailure: ProviderFailure | undefined;
    let authFailures = 0;
    // A parameter every deployment of the requested model refuses is the client's error (400), never a reason to
    // answer with another model.
    const primaries = chain.filter((c) => c.primary).length;
    let primaryRefusals = 0;
    for (const candidate of chain) {
      if (flight.client.signal.aborted) {
        break;
      }
      if (!candidate.primary && primaries > 0 && primaryRefusals === primaries) {
        throw mappingError!;
      }
      const { provider, providerModel } = candidate.deployment;
      const adapter = this.adapters[provider];
      const ctx: MapContext = {
        deployment: candidate.deployment,
        config: this.config.providers[provider],
        // Provider-bound state is only handed to the provider and model that produced it.
        toolState: new Map(
          [...saved].filter(([, s]) => s.provider === provider && s.providerModel === providerModel),
        ),
      };
      let upstream;
      try {
        upstream = adapter.buildChatRequest(flight.request, flight.stream, ctx);
      } catch (error) {
        if (error instanceof GatewayError) {
          mappingError ??= error; // this deployment cannot honour the request: try the next one
          primaryRefusals += candidate.primary ? 1 : 0;
          continue;
        }
        throw error;
      }
      flight.attempts += 1;
      flight.inFlight = candidate;
      const attemptStarted = Date.now();
      const abort = new AbortController();
      const link = () => abort.abort();
      flight.client.signal.addEventListener('abort', link);
      const outcome = flight.stream
        ? await this.tryStream(flight, candidate, adapter, ctx, upstream, abort)
        : await this.tryJson(candidate, adapter, ctx, upstream, abort.signal);
      if ('failure' in outcome) {
        abort.abort();
        flight.client.signal.removeEventListener('abort', link);
        const failure = outcome.failure;
        lastFailure = failure;
        if (!flight.client.signal.aborted) {
          // A client that left is not the provider's failure.
          this.health.recordFailure(provider, providerModel, failure);
        }
        if (failure.kind === 'auth') {
          authFailures += 1;
          this.logger.error(
            { provider, status: failure.status, code: failure.code },
            `provider ${provider} refused our credentials: check ${provider.toUpperCase()}_API_KEY`,
          );
        }
        if (!failsOver(failure)) {
          throw new GatewayError(ErrorCode.UpstreamBadRequest, failure.message, {
            param: failure.param ?? null,
            code: failure.code ?? null,
          });
        }
        continue;
      }
      this.health.recordSuccess(provider, providerModel, Date.now() - attemptStarted);
      return { ...outcome, candidate, upstream: abort };
    }
    if (flight.client.signal.aborted) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'The client closed the request.');
    }
    if (mappingError && (flight.attempts === 0 || (primaries > 0 && primaryRefusals === primaries))) {
      throw mappingError;
    }
    if (flight.attempts > 0 && authFailures === flight.attempts) {
      // Every provider refused our credentials: the gateway is misconfigured (alerted above), not overloaded.
      throw new GatewayError(
        ErrorCode.UpstreamAuth,
        `The gateway could not authenticate with the provider of \`${flight.model.id}\`. Operators have been alerted.`,
        { headers: { 'x-should-retry': 'false', 'x-conflux-attempts': String(flight.attempts) } },
      );
    }
    throw this.unavailable(flight, lastFailure);
  }

  private async tryJson(
    candidate: Candidate,
    adapter: ProviderAdapter,
    ctx: MapContext,
    upstream: ReturnType<ProviderAdapter['buildChatRequest']>,
    signal: AbortSignal,
  ): Promise<{ failure: ProviderFailure } | { response: NormalizedResponse }> {
    const res = await this.transport.send(candidate.deployment.provider, upstream, signal);
    if (isFailure(res)) {
      return { failure: res };
    }
    try {
      if (res.status >= 400) {
        return { failure: adapter.mapError(res.status, await res.body.text(), res.headers) };
      }
      return { response: adapter.parseChatResponse(await res.body.json(), ctx) };
    } catch (error) {
      res.body.destroy();
      return {
        failure: {
          kind: 'retryable',
          status: res.status,
          message: `Unreadable answer: ${(error as Error).message}`,
        },
      };
    }
  }

  /** Holds the stream until the provider's first content event, so a provider failing before it is passed over. */
  private async tryStream(
    flight: Flight,
    candidate: Candidate,
    adapter: ProviderAdapter,
    ctx: MapContext,
    upstream: ReturnType<ProviderAdapter['buildChatRequest']>,
    abort: AbortController,
  ): Promise<
    { failure: ProviderFailure } | { head: StreamPart[]; rest: AsyncIterator<StreamPart>; ttftMs: number }
  > {
    const timer = setTimeout(() => abort.abort(), this.config.upstream.firstByteTimeoutMs);
    try {
      const res = await this.transport.send(candidate.deployment.provider, upstream, abort.signal);
      if (isFailure(res)) {
        return { failure: res };
      }
      if (res.status >= 400) {
        return { failure: adapter.mapError(res.status, await res.body.text(), res.headers) };
      }
      const rest = adapter.parseStream(res.body, ctx)[Symbol.asyncIterator]();
      const head: StreamPart[] = [];
      for (;;) {
        const next = await rest.next();
        if (next.done) {
          return {
            failure: {
              kind: 'retryable',
              status: 0,
              message: 'The provider ended the stream before any content.',
            },
          };
        }
        if (next.value.type === 'error') {
          return { failure: next.value.failure };
        }
        head.push(next.value);
        if (isContent(next.value)) {
          return { head, rest, ttftMs: Date.now() - flight.started };
        }
      }
    } catch {
      return {
        failure: {
          kind: 'retryable',
          status: 0,
          message: 'The provider timed out before its first event.',
          code: 'timeout',
        },
      };
    } finally {
      clearTimeout(timer);
    }
  }

  private headers(flight: Flight, served: Candidate): Record<string, string> {
    return {
      'x-request-id': flight.call.requestId,
      'x-conflux-provider': served.deployment.provider,
      'x-conflux-model': served.model.id,
      'x-conflux-attempts': String(flight.attempts),
    };
  }

  /**
   * Settles once (retried once on a database blip). After it, the request is on the books: nothing that follows
   * (storing tool state, the idempotency record, writing to the client) may undo or repeat it.
   */
  private async settle(flight: Flight, hold: Hold | null, record: UsageRecord): Promise<bigint | null> {
    try {
      const { remainingMicro } = await this.metering
        .settle(hold, record)
        .catch(() => this.metering.settle(hold, record));
      flight.settled = true;
      return remainingMicro;
    } catch (error) {
      this.logger.error(
        { requestId: flight.call.requestId, err: (error as Error).message },
        'could not record usage; the hold stays until the sweeper releases it',
      );
      throw error;
    }
  }

  /** Best-effort bookkeeping after settlement: logged, never failing the answer. */
  private async afterSettle(flight: Flight, work: () => Promise<void>, what: string): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.warn(
        { requestId: flight.call.requestId, err: (error as Error).message },
        `could not ${what}`,
      );
    }
  }

  private async answerJson(flight: Flight, served: Served, hold: Hold | null): Promise<UsageRecord> {
    const response = served.response!;
    const { usage, estimated } = this.finalUsage(flight, response.usage, deliveredText(response), true);
    const record = this.record(flight, served.candidate, 'completed', 200, usage, estimated, null);
    const remainingMicro = await this.settle(flight, hold, record);
    usage.cost_credits = formatCredits(record.costMicro);
    const body = toCompletion(newCompletionId(), served.candidate.model.id, response, usage);
    const headers = {
      ...this.headers(flight, served.candidate),
      'x-conflux-cost-credits': usage.cost_credits,
      ...(remainingMicro !== null ? { 'x-conflux-credits-remaining': formatCredits(remainingMicro) } : {}),
    };
    await this.afterSettle(
      flight,
      () => this.toolState.save(flight.call, response.toolState),
      'save tool-call state',
    );
    const claim = flight.claim;
    if (claim) {
      await this.afterSettle(
        flight,
        () => this.idempotency.complete(claim, { status: 200, headers, body }),
        'store the answer for Idempotency-Key replays',
      );
    }
    void flight.call.reply.status(200).headers(headers).type('application/json').send(body);
    return record;
  }

  private async answerStream(flight: Flight, served: Served, hold: Hold | null): Promise<UsageRecord> {
    const includeUsage = flight.request.stream_options?.include_usage === true;
    const builder = new ChunkBuilder(newCompletionId(), served.candidate.model.id, includeUsage);
    const writer = new SseWriter(flight.call.reply.raw);
    // Headers already set on the reply (x-request-id, the rate-limit headers) go out with the raw stream too.
    const earlier = Object.fromEntries(
      Object.entries(flight.call.reply.getHeaders()).map(([name, value]) => [name, String(value)]),
    );
    flight.call.reply.hijack();
    let ended = false;
    try {
      writer.open({ ...earlier, ...this.headers(flight, served.candidate) });
      let failure: ProviderFailure | undefined;
      const toolStates: Array<[string, ToolCallState]> = [];
      const write = (part: StreamPart) => {
        if (part.type === 'tool_call' && part.state) {
          toolStates.push([part.id, part.state]);
        }
        for (const chunk of builder.push(part)) {
          writer.send(chunk);
        }
      };
      try {
        served.head!.forEach(write);
        for (;;) {
          const next = await served.rest!.next();
          if (next.done) {
            break;
          }
          if (next.value.type === 'error') {
            failure = next.value.failure;
            break;
          }
          write(next.value);
        }
      } catch {
        // the body broke (cut connection or client abort)
      } finally {
        served.upstream?.abort();
      }
      const aborted = flight.client.signal.aborted;
      const complete = builder.complete && !failure && !aborted;
      if (!complete && !aborted) {
        // A stream that broke after its first token counts against its provider too.
        const { provider, providerModel } = served.candidate.deployment;
        this.health.recordFailure(
          provider,
          providerModel,
          failure ?? { kind: 'retryable', status: 0, message: 'The stream broke.', code: 'connection_error' },
        );
      }
      const status: UsageStatus = complete ? 'completed' : aborted ? 'aborted' : 'cut';
      const { usage, estimated } = this.finalUsage(flight, builder.usage, builder.deliveredText, complete);
      const record = this.record(
        flight,
        served.candidate,
        status,
        200,
        usage,
        estimated,
        failure?.code ?? null,
      );
      record.ttftMs = served.ttftMs ?? null;
      // Settle before the last frame: once a client has seen the end of a stream, its charge is on the books.
      await this.settle(flight, hold, record);
      await this.afterSettle(
        flight,
        () => this.toolState.save(flight.call, toolStates),
        'save tool-call state',
      );
      const claim = flight.claim;
      if (claim) {
        // A finished stream cannot be replayed, but its key stays used; a broken one may be retried.
        await this.afterSettle(
          flight,
          () => (complete ? this.idempotency.complete(claim, null) : this.idempotency.release(claim)),
          'record the Idempotency-Key',
        );
      }
      if (complete) {
        usage.cost_credits = formatCredits(record.costMicro);
        if (includeUsage) {
          writer.send(builder.usageChunk(usage));
        }
        writer.done();
        ended = true;
      } else if (!aborted) {
        const error = new GatewayError(
          ErrorCode.UpstreamError,
          failure
            ? `The provider failed mid-stream: ${failure.message}`
            : 'The provider closed the stream before it finished.',
        );
        writer.fail(toErrorResponse(error, flight.call.requestId).body);
        ended = true;
      }
      return record;
    } finally {
      if (!ended) {
        // Whatever went wrong after the first byte, the client gets an error frame and the stream ends.
        writer.fail(toErrorResponse(new GatewayError(ErrorCode.Internal), flight.call.requestId).body);
      }
    }
  }

  /**
   * The usage to bill: the provider's own counts when it reported them; otherwise (a cut or aborted stream) the
   * delivered completion counted with the tokenizer and the prompt estimate, flagged `estimated`.
   */
  private finalUsage(
    flight: Flight,
    reported: Usage | undefined,
    delivered: string,
    complete: boolean,
  ): { usage: Usage; estimated: boolean } {
    const counted = countTextTokens(delivered);
    if (reported && complete && sane(reported)) {
      return { usage: { ...reported }, estimated: false };
    }
    const trusted = reported && sane(reported) ? reported : undefined;
    const prompt = trusted?.prompt_tokens || flight.promptEstimate;
    const completion = Math.max(trusted?.completion_tokens ?? 0, counted);
    return {
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ...(trusted?.prompt_tokens_details ? { prompt_tokens_details: trusted.prompt_tokens_details } : {}),
      },
      estimated: true,
    };
  }

  private record(
    flight: Flight,
    served: Candidate | null,
    status: UsageStatus,
    httpStatus: number,
    usage: Usage | null,
    estimated: boolean,
    errorCode: string | null,
  ): UsageRecord {
    const auth = flight.call.auth;
    const test = auth.key?.kind === 'test';
    const price = served && !test ? priceAt(served.deployment, served.model.id, new Date()) : null;
    const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
    return {
      requestId: flight.call.requestId,
      accountId: auth.accountId,
      keyId: auth.key?.id ?? null,
      test,
      modelRequested: flight.request.model,
      modelServed: served?.model.id ?? null,
      provider: served?.deployment.provider ?? null,
      status,
      httpStatus,
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens: usage?.completion_tokens ?? 0,
      cachedTokens: cached,
      reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
      costMicro:
        price && usage
          ? costMicro(price, {
              promptTokens: usage.prompt_tokens,
              cachedTokens: cached,
              completionTokens: usage.completion_tokens,
            })
          : 0n,
      priceVersion: price?.version ?? null,
      latencyMs: Date.now() - flight.started,
      ttftMs: null,
      streamed: flight.stream,
      attempts: flight.attempts,
      estimated,
      errorCode,
    };
  }

  private failedRecord(flight: Flight, error: unknown): UsageRecord {
    const response = toErrorResponse(error, flight.call.requestId);
    const aborted = flight.client.signal.aborted;
    if (aborted && flight.inFlight) {
      // The client left while a provider was working on it: the prompt reached the provider and is billed
      // (estimated); nothing was delivered, so no completion tokens are.
      const prompt = flight.promptEstimate;
      const usage: Usage = { prompt_tokens: prompt, completion_tokens: 0, total_tokens: prompt };
      return this.record(flight, flight.inFlight, 'aborted', 499, usage, true, 'client_closed');
    }
    return this.record(
      flight,
      null,
      aborted ? 'aborted' : 'failed',
      response.status,
      null,
      false,
      response.body.error.code,
    );
  }

  private unavailable(flight: Flight, last?: ProviderFailure): GatewayError {
    const retryAfter = Math.max(1, Math.min(60, last?.retryAfterSeconds ?? 1));
    return new GatewayError(
      ErrorCode.ServiceUnavailable,
      `No provider could serve \`${flight.model.id}\` right now` +
        (flight.attempts ? ` (${flight.attempts} attempts, including fallback models)` : '') +
        '. Please retry later.',
      {
        headers: {
          'retry-after': String(retryAfter),
          'x-should-retry': 'false',
          'x-conflux-attempts': String(flight.attempts),
        },
      },
    );
  }

  /** Test keys: the same validation, then the deterministic mock; recorded as test traffic, never billed. */
  private async completeWithMock(flight: Flight): Promise<void> {
    const behaviour = (flight.call.mock ?? 'normal') as MockBehaviour;
    if (!MOCK_BEHAVIOURS.includes(behaviour)) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `x-conflux-mock must be one of ${MOCK_BEHAVIOURS.join(', ')}.`,
        { param: 'x-conflux-mock' },
      );
    }
    const chain = this.catalog.chain(flight.model.id);
    const servedModel = behaviour === 'failover' ? (chain[1] ?? chain[0]) : chain[0];
    const served: Candidate = {
      model: servedModel,
      deployment: servedModel.deployments[0],
      primary: servedModel === chain[0],
    };
    flight.attempts = behaviour === 'failover' ? 2 : 1;
    if (behaviour === 'rate_limit' || behaviour === 'server_error') {
      const error =
        behaviour === 'rate_limit'
          ? new GatewayError(
              ErrorCode.RateLimitExceeded,
              'Simulated provider rate limit (x-conflux-mock: rate_limit).',
              {
                headers: { 'retry-after': '1' },
              },
            )
          : this.unavailable(flight);
      await this.metering.settle(null, this.failedRecord(flight, error));
      throw error;
    }
    if (flight.stream) {
      const parts = mockStream(flight.request, servedModel.id)[Symbol.asyncIterator]();
      const first = await parts.next();
      await this.answerStream(
        flight,
        { candidate: served, head: first.done ? [] : [first.value], rest: parts },
        null,
      );
      return;
    }
    const response = mockAnswer(flight.request, servedModel.id);
    await this.answerJson(flight, { candidate: served, response }, null);
  }
}
