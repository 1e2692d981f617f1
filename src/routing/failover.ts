import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';
import { ProviderHealth } from '../health/provider-health.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import { PROVIDER_ADAPTERS } from '../providers/registry.js';
import { isFailure, ProviderTransport } from '../providers/transport.js';
import type {
  NormalizedResponse,
  ProviderAdapter,
  ProviderFailure,
  StreamPart,
  UpstreamRequest,
} from '../providers/types.js';
import type { Candidate } from './candidates.js';

/**
 * Why a provider call is aborted once the gateway is done with it (its stream relayed, or its failure read): one
 * shared reason, since `abort()` without one builds a DOMException and its stack trace for every request.
 */
const RELEASED = new DOMException('The gateway released this provider call.', 'AbortError');

/** What running a request over its failover chain came to. */
export type RunResult =
  | { kind: 'json'; candidate: Candidate; attempts: number; response: NormalizedResponse }
  | {
      kind: 'stream';
      candidate: Candidate;
      attempts: number;
      /** The parts read up to and including the first content part. */
      head: StreamPart[];
      /** The rest of the provider's stream. */
      rest: AsyncIterator<StreamPart>;
      /** Cancels the provider's stream. */
      cancel: () => void;
      /** Reports a stream that broke after its first content (it counts against its provider too). */
      broke: (failure: ProviderFailure) => void;
      /** From the start of the request to the first content. */
      ttftMs: number;
      /** Reports how many tokens the stream delivered once it ended well (the provider's output speed). */
      finished: (completionTokens: number) => void;
    }
  | {
      kind: 'failed';
      error: GatewayError;
      attempts: number;
      /** The candidate that held the request when the client left (its prompt reached that provider). */
      abandoned: Candidate | null;
    };

export interface Run {
  chain: readonly Candidate[];
  request: ChatCompletionRequest;
  stream: boolean;
  /** Aborted when the client goes away: cancels the provider call, and no other candidate is tried. */
  signal: AbortSignal;
  /** When the request arrived (ms), for the time to first token. */
  started: number;
  /** Told of each candidate as the request goes to it. */
  onAttempt?: (candidate: Candidate) => void;
  /** Builds a candidate's provider request when feasibility did not (fallback models); the adapter's by default. */
  build?: (candidate: Candidate) => UpstreamRequest;
}

type Attempt =
  | { failure: ProviderFailure }
  | { response: NormalizedResponse }
  | { head: StreamPart[]; rest: AsyncIterator<StreamPart> };

/** The transport as the runner uses it: a test can hand in a fake. */
export type Send = ProviderTransport['send'];

function isContent(part: StreamPart): boolean {
  return (
    part.type === 'text' || part.type === 'refusal' || part.type === 'tool_call' || part.type === 'finish'
  );
}

/**
 * Tries each candidate of the chain in turn and returns the first answer: a JSON response, or a stream held
 * until its first content (so a provider failing before it is passed over silently). Fails over on what is
 * the provider's fault (connection errors, timeouts, 408, 429, 5xx); a 4xx the request caused is relayed as a
 * 400 at once. Every outcome is reported to the health tracker (a client leaving is nobody's failure).
 */
@Injectable()
export class FailoverRunner {
  private readonly logger = new Logger(FailoverRunner.name);
  private readonly send: Send;

  constructor(
    transport: ProviderTransport,
    private readonly health: ProviderHealth,
    @Inject(PROVIDER_ADAPTERS) private readonly adapters: Record<ProviderId, ProviderAdapter>,
    @Inject(CONFIG) private readonly config: Config,
    private readonly clock: Clock,
  ) {
    this.send = transport.send.bind(transport);
  }

  async run(run: Run): Promise<RunResult> {
    let attempts = 0;
    let authFailures = 0;
    let timeouts = 0;
    let lastFailure: ProviderFailure | undefined;
    let refused: GatewayError | undefined;
    let current: Candidate | null = null;
    const failed = (error: GatewayError): RunResult => ({
      kind: 'failed',
      error,
      attempts,
      abandoned: run.signal.aborted ? current : null,
    });
    for (const candidate of run.chain) {
      if (run.signal.aborted) {
        break;
      }
      const adapter = this.adapters[candidate.deployment.provider];
      let upstream: UpstreamRequest;
      try {
        upstream =
          candidate.upstream ??
          (run.build
            ? run.build(candidate)
            : adapter.buildChatRequest(run.request, run.stream, candidate.ctx));
      } catch (error) {
        if (error instanceof GatewayError) {
          refused ??= error; // this fallback cannot honour the request: try the next one
          continue;
        }
        throw error;
      }
      attempts += 1;
      current = candidate;
      run.onAttempt?.(candidate);
      const { provider, providerModel } = candidate.deployment;
      const began = this.clock.now();
      const abort = new AbortController();
      const link = () => abort.abort();
      run.signal.addEventListener('abort', link, { once: true });
      const outcome = run.stream
        ? await this.tryStream(adapter, candidate, upstream, abort)
        : await this.tryJson(adapter, candidate, upstream, abort.signal);
      if (!('failure' in outcome)) {
        const firstContentAt = this.clock.now();
        this.health.recordSuccess(provider, providerModel, firstContentAt - began);
        if ('response' in outcome) {
          run.signal.removeEventListener('abort', link);
          this.health.recordLatency(provider, providerModel, {
            kind: 'json',
            totalMs: firstContentAt - began,
            completionTokens: outcome.response.usage?.completion_tokens ?? 0,
          });
          return { kind: 'json', candidate, attempts, response: outcome.response };
        }
        this.health.recordLatency(provider, providerModel, {
          kind: 'stream',
          ttftMs: firstContentAt - began,
        });
        return {
          kind: 'stream',
          candidate,
          attempts,
          head: outcome.head,
          rest: outcome.rest,
          cancel: () => {
            abort.abort(RELEASED);
            run.signal.removeEventListener('abort', link);
          },
          broke: (failure) => this.health.recordFailure(provider, providerModel, failure),
          ttftMs: this.clock.now() - run.started,
          finished: (tokens) =>
            this.health.recordLatency(provider, providerModel, {
              kind: 'throughput',
              tokens,
              ms: this.clock.now() - firstContentAt,
            }),
        };
      }
      abort.abort(RELEASED);
      run.signal.removeEventListener('abort', link);
      const failure = outcome.failure;
      lastFailure = failure;
      if (!run.signal.aborted) {
        this.health.recordFailure(provider, providerModel, failure);
      }
      timeouts += failure.code === 'timeout' ? 1 : 0;
      if (failure.kind === 'auth') {
        authFailures += 1;
        this.logger.error(
          { provider, status: failure.status, code: failure.code },
          `provider ${provider} refused our credentials: check ${provider.toUpperCase()}_API_KEY`,
        );
      }
      if (failure.kind === 'client') {
        return failed(
          new GatewayError(ErrorCode.UpstreamBadRequest, failure.message, {
            param: failure.param ?? null,
            code: failure.code ?? null,
          }),
        );
      }
    }
    if (run.signal.aborted) {
      return failed(new GatewayError(ErrorCode.InvalidRequest, 'The client closed the request.'));
    }
    if (refused && attempts === 0) {
      return failed(refused);
    }
    if (attempts > 0 && authFailures === attempts) {
      // Every provider refused our credentials: the gateway is misconfigured (alerted above), not overloaded.
      return failed(
        new GatewayError(
          ErrorCode.UpstreamAuth,
          `The gateway could not authenticate with the provider of \`${run.request.model}\`. Operators have been alerted.`,
          { headers: { 'x-should-retry': 'false', 'x-conflux-attempts': String(attempts) } },
        ),
      );
    }
    if (attempts > 0 && timeouts === attempts) {
      // Every provider tried hung past its timeout: 504, and the client may retry (it is not overloaded).
      return failed(
        new GatewayError(
          ErrorCode.UpstreamTimeout,
          `No provider of \`${run.request.model}\` answered within ${this.config.upstream.firstByteTimeoutMs} ms ` +
            `(${attempts} attempts). Please retry.`,
          { headers: { 'x-conflux-attempts': String(attempts) } },
        ),
      );
    }
    return failed(unavailable(run.request.model, attempts, lastFailure));
  }

  private async tryJson(
    adapter: ProviderAdapter,
    candidate: Candidate,
    upstream: UpstreamRequest,
    signal: AbortSignal,
  ): Promise<Attempt> {
    const res = await this.send(candidate.deployment.provider, upstream, signal);
    if (isFailure(res)) {
      return { failure: res };
    }
    try {
      if (res.status >= 400) {
        return { failure: adapter.mapError(res.status, await res.body.text(), res.headers) };
      }
      return { response: adapter.parseChatResponse(await res.body.json(), candidate.ctx) };
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

  /** Reads the stream up to the provider's first content event, within the first-byte timeout. */
  private async tryStream(
    adapter: ProviderAdapter,
    candidate: Candidate,
    upstream: UpstreamRequest,
    abort: AbortController,
  ): Promise<Attempt> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.config.upstream.firstByteTimeoutMs);
    const timeout: ProviderFailure = {
      kind: 'retryable',
      status: 0,
      message: 'The provider timed out before its first event.',
      code: 'timeout',
    };
    try {
      const res = await this.send(candidate.deployment.provider, upstream, abort.signal);
      if (isFailure(res)) {
        return { failure: timedOut ? timeout : res };
      }
      if (res.status >= 400) {
        return { failure: adapter.mapError(res.status, await res.body.text(), res.headers) };
      }
      const rest = adapter.parseStream(res.body, candidate.ctx)[Symbol.asyncIterator]();
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
          return { head, rest };
        }
      }
    } catch {
      return {
        failure: timedOut
          ? timeout
          : {
              kind: 'retryable',
              status: 0,
              message: 'The stream broke before its first event.',
              code: 'connection_error',
            },
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** 503 after every candidate failed (or none was available), with the provider's wait hint when it gave one. */
export function unavailable(model: string, attempts: number, last?: ProviderFailure): GatewayError {
  const retryAfter = Math.max(1, Math.min(60, last?.retryAfterSeconds ?? 1));
  return new GatewayError(
    ErrorCode.ServiceUnavailable,
    `No provider could serve \`${model}\` right now` +
      (attempts ? ` (${attempts} attempts, including fallback models)` : '') +
      '. Please retry later.',
    {
      headers: {
        'retry-after': String(retryAfter),
        'x-should-retry': 'false',
        'x-conflux-attempts': String(attempts),
      },
    },
  );
}
