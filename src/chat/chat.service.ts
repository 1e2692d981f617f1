import { Clock } from '../common/clock.js';
import { Injectable, Logger } from '@nestjs/common';
import type { CatalogDeployment, CatalogModel } from '../catalog/catalog.types.js';
import { IdempotencyService } from '../billing/idempotency.service.js';
import { MeteringService } from '../billing/metering.service.js';
import type { Settlement } from '../billing/metering.types.js';
import { toErrorResponse } from '../common/error-response.js';
import { Lifecycle } from '../ops/lifecycle.service.js';
import type { Candidate } from '../routing/candidates.js';
import { FailoverRunner, unavailable, type RunResult } from '../routing/failover.js';
import { RoutePlanner } from '../routing/route-planner.js';
import { UpstreamGate } from '../routing/upstream-gate.js';
import { PromptSize } from './estimate.js';
import { mockBehaviour, mockRun } from './mock-provider.js';
import { completionAnswer, jsonDelivery, RelayedStream, sendAnswer } from './relay.js';
import { parseChatRequest } from './request-schema.js';
import { ToolStateStore } from './tool-state.store.js';
import {
  facts,
  inflightEntry,
  newFlight,
  shuttingDown,
  watchingClient,
  type ChatCall,
  type Flight,
  type Outcome,
} from './flight.js';

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
    private readonly lifecycle: Lifecycle,
    private readonly clock: Clock,
  ) {}

  async complete(call: ChatCall): Promise<void> {
    const flight = await this.validate(call);
    const done = this.serve(flight);
    // A stop signal lets the request finish (within the grace), or stops it and waits for its settlement.
    this.lifecycle.follow(() => flight.stop.abort(), done);
    await done;
  }

  private async serve(flight: Flight): Promise<void> {
    const { call } = flight;
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
      await watchingClient(flight, async () => {
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
      // A request that ended in an error before its settlement must not keep the key's credit held.
      await this.metering.releaseKeyHold(flight.keyHold);
      throw error;
    } finally {
      flight.leave.forEach((leave) => leave());
    }
  }

  /** The body against the schema, the model and every candidate: all 400s and 404s come before anything else. */
  private async validate(call: ChatCall): Promise<Flight> {
    const { request, preferences } = parseChatRequest(call.body);
    const test = call.auth.key?.kind === 'test';
    const mock = test ? mockBehaviour(call.mock) : null;
    const prompt = new PromptSize(request);
    const saved = await this.toolState.load(call, request);
    const strict = call.strictParams || preferences.requireParameters;
    const chain = await this.routes.feasible(request, prompt, saved, {
      anyProvider: test,
      strict,
      preferences,
      allowedModels: call.auth.key?.allowedModels ?? null,
    });
    return newFlight(call, request, preferences, mock, prompt, chain, this.clock.now());
  }

  /**
   * Live keys: the failover order (503 when nothing allowed is up), then the hold on its worst case: the dearest
   * deployment the request may actually go to (the `provider` choice and the health of the others considered).
   */
  private async reserve(flight: Flight): Promise<void> {
    if (flight.mock) {
      return;
    }
    const { call, request } = flight;
    flight.chain = await this.routes.order(flight.chain, flight.preferences);
    if (flight.chain.length === 0) {
      throw unavailable(request.model, 0);
    }
    flight.leave.push(this.gate.enter(call.auth.key?.id ?? call.auth.accountId));
    const limit = request.max_completion_tokens ?? request.max_tokens ?? null;
    const reservation = await this.metering.reserve(
      call.auth,
      {
        models: candidateModels(flight.chain),
        prompt: flight.prompt,
        maxOutputTokens: limit,
        modelMaxOutputTokens: flight.chain[0].model.maxOutputTokens,
        choices: request.n ?? 1,
      },
      call.requestId,
    );
    flight.hold = reservation.hold;
    flight.keyHold = reservation.keyHold ?? null;
    if (reservation.maxOutputTokens !== undefined) {
      // No limit set and the balance cannot pay for the model's maximum: the provider is asked for what it can.
      flight.request = { ...request, max_completion_tokens: reservation.maxOutputTokens };
      flight.chain = flight.chain.map((c) => ({ ...c, upstream: undefined }));
      flight.headers['x-conflux-max-tokens'] = String(reservation.maxOutputTokens);
    }
    flight.leave.push(this.metering.follow(call.requestId, () => inflightEntry(flight)));
  }

  private run(flight: Flight): Promise<RunResult> {
    const { request, chain, started } = flight;
    if (flight.mock) {
      return Promise.resolve(mockRun(request, chain, flight.mock, started, this.clock.now()));
    }
    const stream = request.stream === true;
    const onAttempt = (candidate: Candidate) => {
      flight.current = { candidate, attempts: flight.current.attempts + 1, ttftMs: null };
    };
    const signal = AbortSignal.any([flight.client.signal, flight.stop.signal]);
    const build = (c: Candidate) => this.routes.build(request, c, flight.strict);
    return this.runner.run({ chain, request, stream, signal, started, onAttempt, build });
  }

  private async answer(flight: Flight, run: Extract<RunResult, { kind: 'json' }>): Promise<void> {
    const delivery = jsonDelivery(run);
    const settlement = await this.settle(flight, run.candidate, run.attempts, {
      ...delivery,
      httpStatus: 200,
    });
    const answer = completionAnswer(flight.call.requestId, run, settlement, flight.headers);
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
    const stream = new RelayedStream(reply, requestId, run, {
      includeUsage,
      headers: flight.headers,
      clientGone: () => flight.client.signal.aborted,
      stopped: () => flight.stop.signal.aborted,
    });
    flight.current.ttftMs = run.ttftMs;
    flight.progress = () => stream.progress();
    try {
      const delivery = await stream.pump();
      if (delivery.status === 'completed' && delivery.reported) {
        run.finished(delivery.reported.completion_tokens);
      }
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
    // Stopped by the instance's shutdown (its grace ran out): the client may retry on another instance.
    const error = !aborted && flight.stop.signal.aborted ? shuttingDown() : run.error;
    const left = run.abandoned !== null;
    const response = toErrorResponse(error, flight.call.requestId);
    await this.metering.settle(
      flight.hold,
      {
        ...facts(flight, run.abandoned, run.attempts),
        // The client left (or the instance stopped) while a provider worked on it: the prompt reached the provider
        // and is billed (estimated).
        status: aborted || left ? 'aborted' : 'failed',
        httpStatus: aborted ? 499 : response.status,
        errorCode: aborted ? 'client_closed' : response.body.error.code,
      },
      flight.keyHold,
    );
    if (aborted) {
      flight.call.reply.raw.destroy(); // the client is gone: nothing to answer, and the connection must not linger
    }
    throw error;
  }

  private async settle(
    flight: Flight,
    served: Candidate,
    attempts: number,
    outcome: Outcome,
  ): Promise<Settlement> {
    const settlement = await this.metering.settle(
      flight.hold,
      { ...facts(flight, served, attempts), ...outcome },
      flight.keyHold,
    );
    flight.settled = true;
    return settlement;
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

/**
 * The models of the chain, each with only the deployments the request may go to: the hold is sized on the
 * dearest of those, not on a provider the client excluded or one that is down.
 */
function candidateModels(chain: readonly Candidate[]): CatalogModel[] {
  const models = new Map<CatalogModel, CatalogDeployment[]>();
  for (const { model, deployment } of chain) {
    models.set(model, [...(models.get(model) ?? []), deployment]);
  }
  return [...models].map(([model, deployments]) => ({ ...model, deployments }));
}
