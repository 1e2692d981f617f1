import { randomText } from '../common/random-id.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChunkToolCallDelta,
  FinishReason,
  Usage,
} from '../providers/openai-types.js';
import type { NormalizedResponse, StreamPart } from '../providers/types.js';

export function newCompletionId(): string {
  return `chatcmpl-${randomText(16, 'base64url')}`;
}

type Delta = ChatCompletionChunk['choices'][number]['delta'];

/**
 * Turns provider stream parts into OpenAI `chat.completion.chunk` objects: the same id and created throughout,
 * the role on each choice's first delta, tool calls indexed by ordinal, `finish_reason` on the last choice chunk,
 * and `usage: null` on every chunk when the client asked for a final usage chunk.
 */
export class ChunkBuilder {
  readonly created = Math.floor(Date.now() / 1000);
  private readonly started = new Set<number>();
  private readonly finished = new Map<number, FinishReason>();
  /** What was delivered, for counting tokens when the provider reports none. */
  private delivered = '';
  usage: Usage | undefined;
  contentChunks = 0;

  constructor(
    readonly id: string,
    readonly model: string,
    private readonly includeUsage: boolean,
  ) {}

  /** The chunks for one part (none for usage parts, which are kept for the end). */
  push(part: StreamPart): ChatCompletionChunk[] {
    switch (part.type) {
      case 'usage':
        this.usage = part.usage;
        return [];
      case 'error':
        return [];
      case 'text':
        this.delivered += part.text;
        return [this.delta(part.choice ?? 0, { content: part.text })];
      case 'refusal':
        this.delivered += part.text;
        return [this.delta(part.choice ?? 0, { refusal: part.text })];
      case 'tool_call': {
        this.delivered += part.name + (part.arguments ?? '');
        const call: ChunkToolCallDelta = {
          index: part.index,
          id: part.id,
          type: 'function',
          function: { name: part.name, arguments: part.arguments ?? '' },
        };
        return [this.delta(part.choice ?? 0, { tool_calls: [call] })];
      }
      case 'tool_args':
        this.delivered += part.arguments;
        return [
          this.delta(part.choice ?? 0, {
            tool_calls: [{ index: part.index, function: { arguments: part.arguments } }],
          }),
        ];
      case 'finish': {
        const choice = part.choice ?? 0;
        this.finished.set(choice, part.reason);
        return [this.delta(choice, {}, part.reason)];
      }
    }
  }

  /** True once every choice that started has finished (and at least one did). */
  get complete(): boolean {
    if (this.finished.size === 0) {
      return false;
    }
    for (const choice of this.started) {
      if (!this.finished.has(choice)) {
        return false;
      }
    }
    return true;
  }

  get deliveredText(): string {
    return this.delivered;
  }

  /** The final chunk with empty `choices` and the usage the gateway assembled. */
  usageChunk(usage: Usage): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [],
      usage,
    };
  }

  private delta(choice: number, delta: Delta, finish: FinishReason | null = null): ChatCompletionChunk {
    if (!this.started.has(choice)) {
      this.started.add(choice);
      delta = {
        role: 'assistant',
        ...(finish === null && Object.keys(delta).length === 0 ? { content: '' } : {}),
        ...delta,
      };
    }
    this.contentChunks += 1;
    const chunk: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: choice, delta, logprobs: null, finish_reason: finish }],
    };
    if (this.includeUsage) {
      chunk.usage = null;
    }
    return chunk;
  }
}

/** A provider's normalized answer → the OpenAI `chat.completion` object. */
export function toCompletion(
  id: string,
  model: string,
  response: NormalizedResponse,
  usage: Usage,
): ChatCompletion {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: response.choices.map((choice) => ({
      index: choice.index,
      message: {
        role: 'assistant',
        content: choice.content,
        refusal: choice.refusal,
        ...(choice.toolCalls.length > 0 ? { tool_calls: choice.toolCalls } : {}),
      },
      logprobs: null,
      finish_reason: choice.finishReason,
    })),
    usage,
    // no system_fingerprint: the spec types it as a string (never null), and the gateway has no fingerprint of
    // its own to give (the provider's describes the provider's backend, not the model the client asked for)
  };
}

/** Everything a normalized answer delivered, as text (for counting tokens when no usage came back). */
export function deliveredText(response: NormalizedResponse): string {
  return response.choices
    .map(
      (c) =>
        (c.content ?? '') +
        (c.refusal ?? '') +
        c.toolCalls.map((t) => t.function.name + t.function.arguments).join(''),
    )
    .join('');
}
