import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CatalogService } from '../catalog/catalog.service.js';
import type { CatalogModel } from '../catalog/catalog.types.js';
import { costMicro, priceAt } from '../catalog/pricing.js';
import type { AuthContext } from '../common/auth-context.js';
import { toErrorResponse } from '../common/error-response.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { countTextTokens } from '../common/tokens.js';
import { CONFIG, type Config } from '../config/config.js';
import { ProviderHealth } from '../health/provider-health.js';
import { MeteringService } from '../billing/metering.service.js';
import type { Hold, UsageRecord, UsageStatus } from '../billing/metering.types.js';
import { formatCredits } from '../billing/plans.js';
import type { ChatCompletionRequest, Usage } from '../providers/openai-types.js';
import { PROVIDER_ADAPTERS } from '../providers/registry.js';
import { isFailure, ProviderTransport } from '../providers/transport.js';
import type {
  MapContext,
  NormalizedResponse,
  ProviderAdapter,
  ProviderFailure,
  ProviderId,
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
    const chain = candidates({
      request,
      chain: this.catalog.chain(model.id),
      promptTokens: flight.promptEstimate,
      enabled: (provider) => this.config.providers[provider].enabled,
      rank: (deployment) => this.health.rank(deployment.provider, deployment.providerModel),
      cost: (deployment, m) => priceAt(deployment, m.id, new Date()).outputPerM,
    });
    if (call.auth.key?.kind === 'test') {
      return this.completeWithMock(flight);
    }
    if (chain.length === 0) {
      throw this.unavailable(flight);
    }
    const servingModels = [...new Set(chain.map((c) => c.model))];
    const hold = await this.metering.reserve(
      call.auth,
      call.requestId,
      servingModels,
      flight.promptEstimate,
      this.maxOutput(flight),
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
      // No provider delivered anything: release the hold with a zero-cost usage event, then answer the error.
      raw.off('close', onClose);
      await this.metering.settle(hold, this.failedRecord(flight, error));
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

  private maxOutput(flight: Flight): number {
    return flight.request.max_completion_tokens ?? flight.request.max_tokens ?? flight.model.maxOutputTokens;
  }

  /** Tries each candidate in turn; returns the first that answers (for a stream: that produced content). */
  private async serve(flight: Flight, chain: Candidate[]): Promise<Served> {
    const saved = await this.toolState.load(flight.request);
    let mappingError: GatewayError | undefined;
    let lastFailure: ProviderFailure | undefined;
    for (const candidate of chain) {
      if (flight.client.signal.aborted) {
        break;
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
          continue;
        }
        throw error;
      }
      flight.attempts += 1;
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
        this.health.recordFailure(provider, providerModel, failure);
        if (failure.kind === 'auth') {
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
      await this.toolState.save('response' in outcome ? outcome.response.toolState : []);
      return { ...outcome, candidate, upstream: abort };
    }
    if (flight.client.signal.aborted) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'The client closed the request.');
    }
    if (mappingError && flight.attempts === 0) {
      throw mappingError;
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

  private async answerJson(flight: Flight, served: Served, hold: Hold | null): Promise<UsageRecord> {
    const response = served.response!;
    const { usage, estimated } = this.finalUsage(flight, response.usage, deliveredText(response), true);
    const record = this.record(flight, served.candidate, 'completed', 200, usage, estimated, null);
    const { remainingMicro } = await this.metering.settle(hold, record);
    usage.cost_credits = formatCredits(record.costMicro);
    const body = toCompletion(newCompletionId(), served.candidate.model.id, response, usage);
    void flight.call.reply
      .status(200)
      .headers({
        ...this.headers(flight, served.candidate),
        'x-conflux-cost-credits': usage.cost_credits,
        ...(remainingMicro !== null ? { 'x-conflux-credits-remaining': formatCredits(remainingMicro) } : {}),
      })
      .type('application/json')
      .send(body);
    return record;
  }

  private async answerStream(flight: Flight, served: Served, hold: Hold | null): Promise<UsageRecord> {
    const includeUsage = flight.request.stream_options?.include_usage === true;
    const builder = new ChunkBuilder(newCompletionId(), served.candidate.model.id, includeUsage);
    const writer = new SseWriter(flight.call.reply.raw);
    flight.call.reply.hijack();
    writer.open(this.headers(flight, served.candidate));
    let failure: ProviderFailure | undefined;
    const write = (part: StreamPart) => {
      for (const chunk of builder.push(part)) {
        writer.send(chunk);
      }
    };
    served.head!.forEach(write);
    try {
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
    if (complete) {
      usage.cost_credits = formatCredits(record.costMicro);
      if (includeUsage) {
        writer.send(builder.usageChunk(usage));
      }
      writer.done();
    } else if (!aborted) {
      const error = new GatewayError(
        ErrorCode.UpstreamError,
        failure
          ? `The provider failed mid-stream: ${failure.message}`
          : 'The provider closed the stream before it finished.',
      );
      writer.fail(toErrorResponse(error, flight.call.requestId).body);
    }
    await this.metering.settle(hold, record);
    return record;
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
    if (reported && complete) {
      return { usage: { ...reported }, estimated: false };
    }
    const prompt = reported?.prompt_tokens || flight.promptEstimate;
    const completion = Math.max(reported?.completion_tokens ?? 0, counted);
    return {
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ...(reported?.prompt_tokens_details ? { prompt_tokens_details: reported.prompt_tokens_details } : {}),
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

export type { ToolCallState };
