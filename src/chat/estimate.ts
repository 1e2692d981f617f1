import { countTextTokens, countTexts } from '../common/tokens.js';
import type { ChatCompletionRequest, ChatMessage } from '../providers/openai-types.js';

/** A flat allowance per image part: a high-detail 1024×1024 image is about this many tokens at most providers. */
const IMAGE_TOKENS = 765;

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

/**
 * The prompt's size in tokens, estimated with the o200k tokenizer before any provider call: it sizes the credit
 * hold and checks the context window. The provider's own count is what gets billed.
 */
export function estimatePromptTokens(request: ChatCompletionRequest): number {
  let tokens = 0;
  let images = 0;
  for (const message of request.messages) {
    tokens += countTexts(messageTexts(message));
    if (message.role === 'user' && Array.isArray(message.content)) {
      images += message.content.filter((p) => p.type === 'image_url').length;
    }
  }
  if (request.tools?.length) {
    tokens += countTextTokens(JSON.stringify(request.tools));
  }
  return tokens + images * IMAGE_TOKENS;
}
