import { countTokensAsync, type PromptTokens } from '../common/tokens.js';
import type { ChatCompletionRequest, ChatMessage } from '../providers/openai-types.js';

/**
 * Allowances for parts that are not text. Providers count these their own way (tiles, pages, seconds); the
 * allowances keep the hold honest, and what a provider counts beyond a Free account's hold is written off
 * (billing), never taken past its balance.
 */
/** A high-detail 1024×1024 image is about this many tokens at most providers. */
const IMAGE_TOKENS = 765;
/** A document: at least a page, or a token per 4 bytes of the decoded file. */
const FILE_TOKENS = { min: 1_000, bytesPerToken: 4 };
/** Audio: at least a few seconds, or a token per 40 bytes of the decoded clip. */
const AUDIO_TOKENS = { min: 500, bytesPerToken: 40 };

function* messageTexts(message: ChatMessage): Generator<string> {
  const content = message.content;
  if (typeof content === 'string') {
    yield content;
  } else if (Array.isArray(content)) {
    for (const part of content) {
      if (part.type === 'text') {
        yield part.text;
      } else if (part.type === 'refusal') {
        yield part.refusal;
      }
    }
  }
  if (message.role === 'assistant') {
    for (const call of message.tool_calls ?? []) {
      yield call.function.name;
      yield call.function.arguments;
    }
  }
}

function* requestTexts(request: ChatCompletionRequest): Generator<string> {
  for (const message of request.messages) {
    yield* messageTexts(message);
  }
  if (request.tools?.length) {
    yield JSON.stringify(request.tools);
  }
}

/** Decoded size of a base64 payload (a data URI or bare base64), without decoding it. */
function base64Bytes(data: string): number {
  const comma = data.startsWith('data:') ? data.indexOf(',') + 1 : 0;
  return Math.floor(((data.length - comma) * 3) / 4);
}

/** Tokens of the parts that are not text: images, files and audio. */
function partTokens(request: ChatCompletionRequest): number {
  let tokens = 0;
  for (const message of request.messages) {
    if (message.role !== 'user' || !Array.isArray(message.content)) {
      continue;
    }
    for (const part of message.content) {
      if (part.type === 'image_url') {
        tokens += IMAGE_TOKENS;
      } else if (part.type === 'file') {
        const bytes = part.file.file_data ? base64Bytes(part.file.file_data) : 0;
        tokens += Math.max(FILE_TOKENS.min, Math.ceil(bytes / FILE_TOKENS.bytesPerToken));
      } else if (part.type === 'input_audio') {
        const bytes = base64Bytes(part.input_audio.data);
        tokens += Math.max(AUDIO_TOKENS.min, Math.ceil(bytes / AUDIO_TOKENS.bytesPerToken));
      }
    }
  }
  return tokens;
}

/**
 * The size of a request's prompt in tokens, two ways:
 * - `upper`: a bound computed in one linear pass without the tokenizer — a byte-level BPE token is at least one
 *   UTF-8 byte, so the bytes of the text bound its tokens; enough to size a hold on a balance with room to
 *   spare and to know a prompt fits a context window;
 * - `count()`: the o200k tokenizer's count, computed on demand (a tight balance, a prompt near a context
 *   window, billing a prompt no provider reported), slice by slice without holding the event loop, within a CPU
 *   budget (past it: the upper bound).
 */
export class PromptSize implements PromptTokens {
  readonly upper: number;
  private readonly parts: number;
  private counted: Promise<number | null> | undefined;
  /** The tokenizer's count once known (else undefined). */
  known: number | undefined;

  constructor(private readonly request: ChatCompletionRequest) {
    this.parts = partTokens(request);
    let bytes = 0;
    for (const text of requestTexts(request)) {
      bytes += Buffer.byteLength(text, 'utf8');
    }
    this.upper = bytes + this.parts;
  }

  /** The tokenizer's count (memoized), or null when counting would cost too much CPU (a hostile prompt). */
  exact(): Promise<number | null> {
    this.counted ??= countTokensAsync(requestTexts(this.request)).then((text) => {
      this.known = text === null ? undefined : text + this.parts;
      return this.known ?? null;
    });
    return this.counted;
  }

  /** The tokenizer's count, or the upper bound when it could not be afforded. */
  async count(): Promise<number> {
    return (await this.exact()) ?? this.upper;
  }
}
