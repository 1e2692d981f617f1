import { endpoint } from '../wire/http.js';
import type { ChatCompletionRequest, ChatMessage } from '../openai-types.js';
import { mapReasoningEffort, unsupported } from '../policy.js';
import type { MapContext, ProviderConfig, UpstreamRequest } from '../types.js';
import { NO_OP_VALUES, type OpenAiCompatibleOptions } from './options.js';

/**
 * OpenAI request → OpenAI-compatible request. The request is already valid against the OpenAI schema, so it is
 * copied as it is (unknown-to-us OpenAI fields included: OpenAI is the pass-through case) and only what the
 * provider reads differently is rewritten:
 *
 * | OpenAI field                          | sent as                                                     | source |
 * |---------------------------------------|-------------------------------------------------------------|--------|
 * | `model`                               | `deployment.providerModel`                                  | §0 |
 * | `max_completion_tokens ?? max_tokens` | `max_completion_tokens` (`max_tokens` is rejected by reasoning models) | §1, §4, §5 |
 * | `reasoning_effort`                    | `deployment.reasoningEffort[value]`, missing → 400          | §1, §4, §5 |
 * | `stream`, `stream_options`            | `stream: true` + the provider's usage options               | §0, §6 include_usage |
 * | `options.unsupported`                 | 400 `unsupported_parameter`, no-op defaults left out         | §4, §5 |
 * | `options.strip`                       | left out                                                    | §4 |
 * | `n`                                   | as is, or 400 when > 1 on a single-choice provider          | §6 |
 * | `messages[].name`                     | as is, or 400 (Groq)                                        | §5 |
 * | `developer` role                      | `system` where not understood                               | §4 |
 */
export function buildChatRequest(
  options: OpenAiCompatibleOptions,
  request: ChatCompletionRequest,
  stream: boolean,
  ctx: MapContext,
): UpstreamRequest {
  const body: Record<string, unknown> = { ...request };

  for (const field of options.strip ?? []) {
    delete body[field];
  }
  for (const field of options.unsupported ?? []) {
    refuseUnlessNoOp(options, body, field);
  }
  for (const [field, allowed] of Object.entries(options.allowedValues ?? {})) {
    const value = body[field];
    if (isAbsent(value) || allowed.includes(value)) {
      continue;
    }
    if (NO_OP_VALUES[field]?.(value)) {
      delete body[field];
      continue;
    }
    throw unsupported(field, `${field} ${JSON.stringify(value)} is not supported by ${options.id}.`);
  }

  if (!options.multipleChoices && !isAbsent(body.n)) {
    if (body.n !== 1) {
      throw unsupported('n', `${options.id} returns a single choice: n must be 1.`);
    }
    delete body.n;
  }
  if (!options.safetyIdentifier && !isAbsent(body.safety_identifier)) {
    body.user ??= body.safety_identifier;
    delete body.safety_identifier;
  }

  body.model = ctx.deployment.providerModel;
  body.messages = request.messages.map((message, index) => mapMessage(options, message, index));

  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  delete body.max_tokens;
  delete body.max_completion_tokens;
  if (!isAbsent(maxTokens)) {
    body.max_completion_tokens = maxTokens;
  }

  delete body.reasoning_effort;
  const effort = mapReasoningEffort(request.reasoning_effort, ctx.deployment);
  if (effort !== undefined) {
    body.reasoning_effort = effort;
  }

  // The gateway bills from the provider's usage and builds the client's usage chunk itself, so the provider is
  // asked for usage whatever the client asked.
  delete body.stream;
  delete body.stream_options;
  if (stream) {
    body.stream = true;
    if (options.streamOptions) {
      body.stream_options = { ...options.streamOptions };
    }
  }

  return {
    method: 'POST',
    url: endpoint(ctx.config.baseUrl, '/chat/completions'),
    headers: {
      authorization: `Bearer ${ctx.config.apiKey}`,
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
    },
    body: JSON.stringify(body),
  };
}

/** `GET {base}/models`: lists models without spending tokens, and fails with 401 on a bad key. */
export function buildProbeRequest(config: ProviderConfig): UpstreamRequest {
  return {
    method: 'GET',
    url: endpoint(config.baseUrl, '/models'),
    headers: { authorization: `Bearer ${config.apiKey}`, accept: 'application/json' },
  };
}

function mapMessage(options: OpenAiCompatibleOptions, message: ChatMessage, index: number): ChatMessage {
  const out = { ...message } as ChatMessage & { name?: string };
  if (!options.messageNames && 'name' in out && !isAbsent(out.name)) {
    throw unsupported(`messages[${index}].name`, `${options.id} does not accept a name on messages.`);
  }
  if (out.role === 'developer' && !options.developerRole) {
    out.role = 'system';
  }
  if (out.role === 'user' && options.contentParts && Array.isArray(out.content)) {
    out.content.forEach((part, partIndex) => {
      if (!options.contentParts!.includes(part.type)) {
        throw unsupported(
          `messages[${index}].content[${partIndex}]`,
          `${options.id} does not accept "${part.type}" content parts.`,
        );
      }
    });
  }
  if (out.role === 'assistant' && !options.assistantRefusal) {
    return assistantWithoutRefusal(out);
  }
  return out;
}

/** A replayed refusal becomes the assistant's text: the provider has no field for it, the model should see it. */
function assistantWithoutRefusal(message: Extract<ChatMessage, { role: 'assistant' }>): ChatMessage {
  const { refusal, ...rest } = message;
  let content = rest.content;
  if (Array.isArray(content)) {
    content = content.map((part) => (part.type === 'refusal' ? { type: 'text', text: part.refusal } : part));
  }
  if ((content === undefined || content === null || content === '') && typeof refusal === 'string') {
    content = refusal;
  }
  return { ...rest, content };
}

function refuseUnlessNoOp(
  options: OpenAiCompatibleOptions,
  body: Record<string, unknown>,
  field: string,
): void {
  const value = body[field];
  if (isAbsent(value) || NO_OP_VALUES[field]?.(value)) {
    delete body[field];
    return;
  }
  throw unsupported(field, `${field} is not supported by ${options.id}.`);
}

function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}
