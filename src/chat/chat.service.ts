import { Injectable, Logger } from '@nestjs/common';
import { IdempotencyService } from '../billing/idempotency.service.js';
import { MeteringService } from '../billing/metering.service.js';
import type { Settlement } from '../billing/metering.types.js';
import { toErrorResponse } from '../common/error-response.js';
import type { Candidate } from '../routing/candidates.js';
import { FailoverRunner, unavailable, type RunResult } from '../routing/failover.js';
import { RoutePlanner } from '../routing/route-planner.js';
import { UpstreamGate } from '../routing/upstream-gate.js';
import { PromptSize } from './estimate.js';
import { mockBehaviour, mockRun } from './mock-provider.js';
import { completionAnswer, jsonDelivery, RelayedStream, sendAnswer } from './relay.js';
import { validateChatRequest } from './request-schema.js';
import { ToolStateStore } from './tool-state.store.js';
import { facts, type ChatCall, type Flight, type Outcome } from './flight.js';

/**
 * POST /v1/chat/completions: validate → claim (Idempotency-Key) → reserve (hold credits) → run (the failover
 * chain, or the mock for test keys) → relay (JSON, or SSE through the raw reply) → settle (bill once).
 */
@Injectable()
export class ChatService {
  private readonly logger = new Logger(ChatService.name);

  constructor(
    private readonly routes: RoutePlanner,
    private readonly runner: FailoverRunner,
    private readonly gate: UpstreamGate,
    private readonly metering: MeteringService,
    private readonly idempotency: IdempotencyService,
    private readonly toolState: ToolStateStore,
  ) {}

  async complete(call: ChatCall): Promise<void> {
    const flight = await this.validate(call);
    if (call.idempotencyKey) {
      const claimed = await this.idempotency.claim(
        call.auth.accountId,
        call.rawKey,
        call.idempotencyKey,
        call.body,
      );
      if (claimed.kind === 'replay') {
        const replay = { 'x-request-id': call.requestId, 'x-conflux-idempotent-replay': 'true' };
        return sendAnswer(call.reply, claimed.answer, replay);
      }
      flight.claim = claimed.claim;
    }
    try {
      await this.reserve(flight);
      await this.watchingClient(flight, async () => {
        const run = await this.run(flight);
        switch (run.kind) {
          case 'failed':
            return this.fail(flight, run);
          case 'json':
            return this.answer(flight, run);
          case 'stream':
            return this.relay(flight, run);
        }
      });
    } catch (error) {
      if (flight.claim && !flight.settled) {
        await this.idempotency.release(flight.claim);
      }
      throw error;
    } finally {
      flight.leave?.();
    }
  }

  /** The body against the schema, the model and every candidate: all 400s and 404s come before anything else. */
  private async validate(call: ChatCall): Promise<Flight> {
    const started = Date.now();
    const request = validateChatRequest(call.body);
    const test = call.auth.key?.kind === 'test';
    const mock = test ? mockBehaviour(call.mock) : null;
    const prompt = new PromptSize(request);
    const saved = await this.toolState.load(call, request);
    const chain = await this.routes.feasible(request, prompt, saved, test);
    const client = new AbortController();
    return { call, request, mock, prompt, started, chain, hold: null, settled: false, client };
  }

  /** Live keys: the failover order by health (503 when nothing is up), then the hold on its worst case. */
  private async reserve(flight: Flight): Promise<void> {
    if (flight.mock) {
      return;
    }
    const { call, request } = flight;
    flight.chain = this.routes.order(flight.chain);
    if (flight.chain.length === 0) {
      throw unavailable(request.model, 0);
    }
    flight.leave = this.gate.enter();
    flight.hold = await this.metering.reserve(call.auth, {
      models: [...new Set(flight.chain.map((c) => c.model))],
      prompt: flight.prompt,
      maxOutputTokens:
        request.max_completion_tokens ?? request.max_tokens ?? flight.chain[0].model.maxOutputTokens,
      choices: request.n ?? 1,
    });
  }

  private run(flight: Flight): Promise<RunResult> {
    const { request, chain, started } = flight;
    if (flight.mock) {
      return Promise.resolve(mockRun(request, chain, flight.mock, started));
    }
    const stream = request.stream === true;
    return this.runner.run({ chain, request, stream, signal: flight.client.signal, started });
  }

  private async answer(flight: Flight, run: Extract<RunResult, { kind: 'json' }>): Promise<void> {
    const delivery = jsonDelivery(run);
    const settlement = await this.settle(flight, run.candidate, run.attempts, {
      ...delivery,
      httpStatus: 200,
    });
    const answer = completionAnswer(flight.call.requestId, run, settlement);
    const claim = flight.claim;
    await this.bookkeeping(
      flight,
      delivery.toolState,
      claim && (() => this.idempotency.complete(claim, answer)),
    );
    sendAnswer(flight.call.reply, answer);
  }

  private async relay(flight: Flight, run: Extract<RunResult, { kind: 'stream' }>): Promise<void> {
    const { reply, requestId } = flight.call;
    const includeUsage = flight.request.stream_options?.include_usage === true;
    const stream = new RelayedStream(reply, requestId, run, includeUsage, () => flight.client.signal.aborted);
    try {
      const delivery = await stream.pump();
      // Billed before the last frame: once a client has seen the end of a stream, its charge is on the books.
      const settlement = await this.settle(flight, run.candidate, run.attempts, {
        ...delivery,
        httpStatus: 200,
      });
      const claim = flight.claim;
      // A finished stream cannot be replayed, but its key stays used; a broken one may be retried.
      const done = delivery.status === 'completed';
      const record =
        claim && (() => (done ? this.idempotency.complete(claim, null) : this.idempotency.release(claim)));
      await this.bookkeeping(flight, delivery.toolState, record);
      stream.finish(settlement);
    } finally {
      stream.abort();
    }
  }

  /** Nothing was delivered: what reached a provider is billed, the hold released, and the error answered. */
  private async fail(flight: Flight, run: Extract<RunResult, { kind: 'failed' }>): Promise<never> {
    const aborted = flight.client.signal.aborted;
    const left = run.abandoned !== null;
    const response = toErrorResponse(run.error, flight.call.requestId);
    await this.metering.settle(flight.hold, {
      ...facts(flight, run.abandoned, run.attempts),
      // The client left while a provider worked on it: the prompt reached the provider and is billed (estimated).
      status: aborted ? 'aborted' : 'failed',
      httpStatus: left ? 499 : response.status,
      errorCode: left ? 'client_closed' : response.body.error.code,
    });
    if (aborted) {
      flight.call.reply.raw.destroy(); // the client is gone: nothing to answer, and the connection must not linger
    }
    throw run.error;
  }

  private async settle(
    flight: Flight,
    served: Candidate,
    attempts: number,
    outcome: Outcome,
  ): Promise<Settlement> {
    const settlement = await this.metering.settle(flight.hold, {
      ...facts(flight, served, attempts),
      ...outcome,
    });
    flight.settled = true;
    return settlement;
  }

  /** Cancels the provider call when the client goes away while `work` runs. */
  private async watchingClient(flight: Flight, work: () => Promise<void>): Promise<void> {
    const raw = flight.call.reply.raw;
    const onClose = () => {
      if (!raw.writableFinished) {
        flight.client.abort();
      }
    };
    raw.on('close', onClose);
    try {
      await work();
    } finally {
      raw.off('close', onClose);
    }
  }

  /**
   * After the request is billed: tool-call state for the next turn, the Idempotency-Key record. Best effort,
   * logged, never undoing or repeating the charge.
   */
  private async bookkeeping(
    flight: Flight,
    toolState: Parameters<ToolStateStore['save']>[1],
    idempotency?: () => Promise<void>,
  ): Promise<void> {
    const steps: Array<[string, () => Promise<void>]> = [
      ['save tool-call state', () => this.toolState.save(flight.call, toolState)],
    ];
    if (idempotency) {
      steps.push(['record the Idempotency-Key', idempotency]);
    }
    for (const [what, step] of steps) {
      await step().catch((error: Error) =>
        this.logger.warn({ requestId: flight.call.requestId, err: error.message }, `could not ${what}`),
      );
    }
  }
}
