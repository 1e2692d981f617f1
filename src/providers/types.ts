import type { Deployment } from '../common/deployment.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { ChatCompletionRequest, FinishReason, ToolCall, Usage } from './openai-types.js';

/** Where and how to reach one provider (from the typed config). */
export interface ProviderConfig {
  id: ProviderId;
  baseUrl: string;
  apiKey: string;
  /** Anthropic only: the pinned `anthropic-version` header. */
  anthropicVersion?: string;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * Provider-bound state attached to a tool call the model made (Gemini thought signatures, Claude thinking
 * blocks). Saved by tool_call id, handed back when a later request carries that tool call, and used only by
 * the same provider and model: it is never replayed to another one.
 */
export interface ToolCallState {
  provider: ProviderId;
  providerModel: string;
  thoughtSignature?: string;
  /** Claude thinking/redacted_thinking blocks that preceded the tool_use blocks of that turn, verbatim. */
  thinkingBlocks?: unknown[];
}

export interface MapContext {
  deployment: Deployment;
  config: ProviderConfig;
  /** State saved for earlier tool calls, by tool_call id. */
  toolState: ReadonlyMap<string, ToolCallState>;
}

export interface NormalizedChoice {
  index: number;
  content: string | null;
  refusal: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
}

/** A provider's non-streaming answer, mapped to OpenAI terms; the gateway assembles the `chat.completion`. */
export interface NormalizedResponse {
  choices: NormalizedChoice[];
  usage?: Usage;
  /** State to save for tool calls made in this answer, by tool_call id. */
  toolState: Array<[string, ToolCallState]>;
}

/**
 * What a provider stream is turned into. One shared writer turns parts into `chat.completion.chunk`
 * objects (same id/created, role on the first delta) and frames them as SSE.
 * `choice` defaults to 0. Tool call `index` is the call's ordinal within the choice, not a provider block index.
 */
export type StreamPart =
  | { type: 'text'; choice?: number; text: string }
  | { type: 'refusal'; choice?: number; text: string }
  | {
      type: 'tool_call';
      choice?: number;
      index: number;
      id: string;
      name: string;
      arguments?: string;
      state?: ToolCallState;
    }
  | { type: 'tool_args'; choice?: number; index: number; arguments: string }
  | { type: 'finish'; choice?: number; reason: FinishReason }
  /** Cumulative usage so far: the last one wins (never add them up). */
  | { type: 'usage'; usage: Usage }
  /** The provider reported an error inside the stream. */
  | { type: 'error'; failure: ProviderFailure };

/**
 * How a provider failure is treated:
 * - `retryable`: the next candidate may serve the request (connection errors, timeouts, 408, 429, 5xx, 529, 498);
 * - `client`: the request itself is wrong (4xx caused by it) → relayed as a 400, never failed over;
 * - `auth`: our provider key was refused (401/403, Gemini API_KEY_INVALID) → 502-class, alert, try the next;
 * - `fatal`: anything else not worth retrying elsewhere.
 */
export type FailureKind = 'retryable' | 'client' | 'auth' | 'fatal';

export interface ProviderFailure {
  kind: FailureKind;
  /** The provider's HTTP status (0 for a connection error or a stream that broke). */
  status: number;
  message: string;
  type?: string;
  code?: string | null;
  param?: string | null;
  retryAfterSeconds?: number;
}

export interface ProviderAdapter {
  readonly id: ProviderId;
  /** Maps an OpenAI request onto the provider's. Throws `GatewayError(UnsupportedParameter)` naming the param. */
  buildChatRequest(request: ChatCompletionRequest, stream: boolean, ctx: MapContext): UpstreamRequest;
  /** Maps the provider's JSON answer (already parsed) to OpenAI terms. */
  parseChatResponse(body: unknown, ctx: MapContext): NormalizedResponse;
  /** Turns the provider's raw stream body into parts. Ends without a `finish` part if the stream broke. */
  parseStream(body: AsyncIterable<Uint8Array>, ctx: MapContext): AsyncIterable<StreamPart>;
  /** Maps a non-2xx answer (status, raw body text, lower-cased headers) to a failure. */
  mapError(status: number, bodyText: string, headers: Record<string, string>): ProviderFailure;
  /** The cheapest request that proves the provider answers and our key works (no tokens). */
  probeRequest(config: ProviderConfig): UpstreamRequest;
}
