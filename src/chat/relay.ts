import type { FastifyReply } from 'fastify';
import type { Settlement, UsageStatus } from '../billing/metering.types.js';
import type { StoredAnswer } from '../billing/idempotency.service.js';
import { formatCredits } from '../catalog/credits.js';
import { toErrorResponse } from '../common/error-response.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { countTextTokens } from '../common/tokens.js';
import type { ChatCompletion, Usage } from '../providers/openai-types.js';
import type { ProviderFailure, StreamPart, ToolCallState } from '../providers/types.js';
import type { Candidate } from '../routing/candidates.js';
import type { RunResult } from '../routing/failover.js';
import { ChunkBuilder, deliveredText, newCompletionId, toCompletion } from './chunks.js';
import { SseWriter } from './sse-writer.js';

type JsonRun = Extract<RunResult, { kind: 'json' }>;
type StreamRun = Extract<RunResult, { kind: 'stream' }>;

/** What reached the client: what the pipeline settles. */
export interface Delivery {
  status: UsageStatus;
  reported?: Usage;
  delivered: string;
  errorCode: string | null;
  ttftMs: number | null;
  /** Provider-bound state of the tool calls in the answer, to keep for the next turn. */
  toolState: Array<[string, ToolCallState]>;
}

/** The headers that say what served a request. */
export function routingHeaders(
  requestId: string,
  candidate: Candidate,
  attempts: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...extra,
    'x-request-id': requestId,
    'x-conflux-provider': candidate.deployment.provider,
    'x-conflux-model': candidate.model.id,
    'x-conflux-attempts': String(attempts),
    // Sampling knobs this provider cannot take, left out rather than refused (x-conflux-strict-params refuses).
    ...(candidate.dropped?.length ? { 'x-conflux-dropped-params': candidate.dropped.join(', ') } : {}),
  };
}

/** What a JSON answer delivered. */
export function jsonDelivery(run: JsonRun): Delivery {
  return {
    status: 'completed',
    reported: run.response.usage,
    delivered: deliveredText(run.response),
    errorCode: null,
    ttftMs: null,
    toolState: run.response.toolState,
  };
}

/** The `chat.completion` answer, with what it cost. */
export function completionAnswer(
  requestId: string,
  run: JsonRun,
  settlement: Settlement,
  extra: Record<string, string> = {},
): StoredAnswer & { body: ChatCompletion } {
  const usage: Usage = { ...settlement.usage!, cost_credits: formatCredits(settlement.costMicro) };
  return {
    status: 200,
    headers: {
      ...routingHeaders(requestId, run.candidate, run.attempts, extra),
      'x-conflux-cost-credits': usage.cost_credits!,
      ...(settlement.remainingMicro !== null
        ? { 'x-conflux-credits-remaining': formatCredits(settlement.remainingMicro) }
        : {}),
    },
    body: toCompletion(newCompletionId(), run.candidate.model.id, run.response, usage),
  };
}

export function sendAnswer(
  reply: FastifyReply,
  answer: StoredAnswer,
  extra: Record<string, string> = {},
): void {
  void reply
    .status(answer.status)
    .headers({ ...answer.headers, ...extra })
    .type('application/json')
    .send(answer.body);
}

/**
 * A stream on its way to the client: `pump()` relays every chunk the provider sends and reports what was
 * delivered; `finish(settlement)` writes the last frames (the usage chunk and `[DONE]`, or an error frame) once
 * the request is billed, so a client that has seen the end of a stream can read its exact cost.
 */
export class RelayedStream {
  private readonly builder: ChunkBuilder;
  private readonly writer: SseWriter;
  private closed = false;
  private outcome: Delivery | undefined;
  private failure: ProviderFailure | undefined;
  private counted = { chars: 0, tokens: 0 };

  constructor(
    private readonly reply: FastifyReply,
    private readonly requestId: string,
    private readonly run: StreamRun,
    private readonly options: {
      includeUsage: boolean;
      headers: Record<string, string>;
      clientGone: () => boolean;
      stopped: () => boolean;
    },
  ) {
    this.builder = new ChunkBuilder(newCompletionId(), run.candidate.model.id, options.includeUsage);
    this.writer = new SseWriter(reply.raw);
  }

  /**
   * What the client has received so far, for the in-flight journal: the provider's latest usage and the
   * delivered completion's tokens (counted incrementally, each text once).
   */
  progress(): { reported?: Usage; deliveredTokens: number } {
    const text = this.builder.deliveredText;
    if (text.length > this.counted.chars) {
      this.counted.tokens += countTextTokens(text.slice(this.counted.chars));
      this.counted.chars = text.length;
    }
    return { reported: this.builder.usage, deliveredTokens: this.counted.tokens };
  }

  /** Opens the SSE response and relays the provider's stream to its end, a cut, or the client leaving. */
  async pump(): Promise<Delivery> {
    // Headers already set on the reply (x-request-id, the rate-limit headers) go out with the raw stream too.
    const earlier = Object.fromEntries(
      Object.entries(this.reply.getHeaders()).map(([name, value]) => [name, String(value)]),
    );
    this.reply.hijack();
    this.writer.open({
      ...earlier,
      ...routingHeaders(this.requestId, this.run.candidate, this.run.attempts, this.options.headers),
    });
    const toolState: Array<[string, ToolCallState]> = [];
    const write = (part: StreamPart) => {
      if (part.type === 'tool_call' && part.state) {
        toolState.push([part.id, part.state]);
      }
      for (const chunk of this.builder.push(part)) {
        this.writer.send(chunk);
      }
    };
    try {
      this.run.head.forEach(write);
      for (;;) {
        const next = await this.run.rest.next();
        if (next.done) {
          break;
        }
        if (next.value.type === 'error') {
          this.failure = next.value.failure;
          break;
        }
        write(next.value);
      }
    } catch {
      // the body broke (a cut connection, or the client left and the call was aborted)
    } finally {
      this.run.cancel();
    }
    const aborted = this.options.clientGone();
    const complete = this.builder.complete && !this.failure && !aborted;
    if (!complete && !aborted) {
      this.run.broke(
        this.failure ?? {
          kind: 'retryable',
          status: 0,
          message: 'The stream broke.',
          code: 'connection_error',
        },
      );
    }
    this.outcome = {
      status: complete ? 'completed' : aborted ? 'aborted' : 'cut',
      reported: this.builder.usage,
      delivered: this.builder.deliveredText,
      errorCode: this.failure?.code ?? null,
      ttftMs: this.run.ttftMs,
      toolState,
    };
    return this.outcome;
  }

  /** The last frames, after settlement: the usage chunk and `[DONE]`, or an error frame for a broken stream. */
  finish(settlement: Settlement): void {
    if (this.outcome?.status === 'completed') {
      const usage: Usage = { ...settlement.usage!, cost_credits: formatCredits(settlement.costMicro) };
      if (this.options.includeUsage) {
        this.writer.send(this.builder.usageChunk(usage));
      }
      this.writer.done();
    } else if (this.outcome?.status === 'cut') {
      const error = new GatewayError(
        ErrorCode.UpstreamError,
        this.options.stopped()
          ? 'This gateway instance is shutting down and ended the stream early. What was delivered is billed; ' +
              'retry the request.'
          : this.failure
            ? `The provider failed mid-stream: ${this.failure.message}`
            : 'The provider closed the stream before it finished.',
      );
      this.writer.fail(toErrorResponse(error, this.requestId).body);
    }
    this.closed = true;
  }

  /** Whatever went wrong after the first byte, the client gets an error frame and the stream ends. */
  abort(): void {
    if (!this.closed && this.writer.isOpen) {
      this.writer.fail(toErrorResponse(new GatewayError(ErrorCode.Internal), this.requestId).body);
    }
    this.closed = true;
  }
}
