/**
 * OpenAI Chat Completions request → Anthropic Messages request (providers.md §2 "Request mapping";
 * https://docs.anthropic.com/en/api/messages, https://docs.anthropic.com/en/api/versioning).
 *
 * | OpenAI                                   | Anthropic                                                   |
 * |------------------------------------------|-------------------------------------------------------------|
 * | system / developer messages (anywhere)   | top-level `system` text blocks, in order                    |
 * | user text / image_url / file (PDF)       | text / image (base64 or url source) / document blocks       |
 * | assistant content + tool_calls           | text + tool_use blocks (saved thinking blocks first)        |
 * | tool messages                            | one user turn, tool_result blocks first                     |
 * | max_completion_tokens ?? max_tokens      | max_tokens (required: deployment default otherwise)         |
 * | tools / tool_choice / parallel_tool_calls| tools[].input_schema / tool_choice / disable_parallel_...   |
 * | response_format                          | output_config.format (json_schema)                          |
 * | reasoning_effort                         | output_config.effort (through the deployment's map)         |
 * | stop                                     | stop_sequences                                              |
 * | safety_identifier ?? user                | metadata.user_id                                            |
 * | n>1, seed, logprobs, logit_bias, penalties | rejected: Anthropic has no equivalent                     |
 */
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { ChatCompletionRequest } from '../openai-types.js';
import { mapReasoningEffort, unsupported } from '../policy.js';
import type { MapContext } from '../types.js';
import { mapMessages } from './messages.js';
import type { AnthropicMessagesRequest, AnthropicTool, AnthropicToolChoice } from './native-types.js';

export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';
/** From this version on, `temperature`, `top_p` and `top_k` are removed (400 "Extra inputs are not permitted"). */
const SAMPLING_REMOVED_SINCE = '2026-10-21';

export function buildMessagesBody(
  request: ChatCompletionRequest,
  stream: boolean,
  ctx: MapContext,
): AnthropicMessagesRequest {
  rejectUnsupported(request);
  const version = ctx.config.anthropicVersion ?? DEFAULT_ANTHROPIC_VERSION;
  const { system, messages } = mapMessages(request.messages, ctx);

  const body: AnthropicMessagesRequest = {
    model: ctx.deployment.providerModel,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? ctx.deployment.maxOutputTokens,
    messages,
  };
  if (system.length > 0) {
    body.system = system;
  }
  if (stream) {
    body.stream = true;
  }
  mapSampling(request, version, body);
  const stop = typeof request.stop === 'string' ? [request.stop] : (request.stop ?? []);
  if (stop.length > 0) {
    body.stop_sequences = stop;
  }
  mapTools(request, ctx, body);
  mapOutputConfig(request, ctx, body);
  const userId = request.safety_identifier ?? request.user;
  if (userId) {
    body.metadata = { user_id: userId };
  }
  return body;
}

/** Parameters Anthropic has no equivalent for: a non-default value is refused, never silently dropped. */
function rejectUnsupported(request: ChatCompletionRequest): void {
  if (request.n != null && request.n > 1) {
    throw unsupported('n', 'Anthropic models return one choice: `n` greater than 1 is not supported.');
  }
  if (request.seed != null) {
    throw unsupported('seed', 'Anthropic models do not support `seed`.');
  }
  if (request.logprobs) {
    throw unsupported(
      'logprobs',
      'Anthropic models do not return log probabilities: `logprobs` is not supported.',
    );
  }
  if (request.top_logprobs != null) {
    throw unsupported(
      'top_logprobs',
      'Anthropic models do not return log probabilities: `top_logprobs` is not supported.',
    );
  }
  if (request.logit_bias != null && Object.keys(request.logit_bias).length > 0) {
    throw unsupported('logit_bias', 'Anthropic models do not support `logit_bias`.');
  }
  if (request.presence_penalty != null && request.presence_penalty !== 0) {
    throw unsupported('presence_penalty', 'Anthropic models do not support `presence_penalty`.');
  }
  if (request.frequency_penalty != null && request.frequency_penalty !== 0) {
    throw unsupported('frequency_penalty', 'Anthropic models do not support `frequency_penalty`.');
  }
}

function mapSampling(request: ChatCompletionRequest, version: string, body: AnthropicMessagesRequest): void {
  const samplingRemoved = version >= SAMPLING_REMOVED_SINCE;
  if (request.temperature != null) {
    if (samplingRemoved) {
      throw unsupported(
        'temperature',
        `\`temperature\` is not supported by Anthropic API version ${version}.`,
      );
    }
    // OpenAI accepts 0–2, Anthropic 0–1: clamping would silently change the sampling the client asked for.
    if (request.temperature > 1) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `\`temperature\` must be between 0 and 1 for this model (got ${request.temperature}).`,
        { param: 'temperature' },
      );
    }
    body.temperature = request.temperature;
  }
  if (request.top_p != null) {
    if (samplingRemoved) {
      throw unsupported('top_p', `\`top_p\` is not supported by Anthropic API version ${version}.`);
    }
    body.top_p = request.top_p;
  }
}

function mapTools(request: ChatCompletionRequest, ctx: MapContext, body: AnthropicMessagesRequest): void {
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool): AnthropicTool => {
      const mapped: AnthropicTool = {
        name: tool.function.name,
        input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
      };
      if (tool.function.description !== undefined) {
        mapped.description = tool.function.description;
      }
      if (tool.function.strict === true) {
        mapped.strict = true;
      }
      return mapped;
    });
  }
  const choice = request.tool_choice;
  const forced = choice === 'required' || (typeof choice === 'object' && choice !== null);
  // Claude 5.x answers a forced tool_choice with a 400; fail fast rather than downgrade to `auto` behind the
  // client's back.
  if (forced && ctx.deployment.forcedToolChoice === false) {
    throw unsupported(
      'tool_choice',
      `Model ${ctx.deployment.providerModel} does not support forcing a tool call: use tool_choice "auto" or "none".`,
    );
  }
  let mapped: AnthropicToolChoice | undefined;
  if (choice === 'auto') {
    mapped = { type: 'auto' };
  } else if (choice === 'required') {
    mapped = { type: 'any' };
  } else if (choice === 'none') {
    mapped = { type: 'none' };
  } else if (typeof choice === 'object' && choice !== null) {
    mapped = { type: 'tool', name: choice.function.name };
  }
  if (request.parallel_tool_calls === false && body.tools) {
    mapped ??= { type: 'auto' };
    if (mapped.type !== 'none') {
      mapped.disable_parallel_tool_use = true;
    }
  }
  if (mapped) {
    body.tool_choice = mapped;
  }
}

function mapOutputConfig(
  request: ChatCompletionRequest,
  ctx: MapContext,
  body: AnthropicMessagesRequest,
): void {
  const config: NonNullable<AnthropicMessagesRequest['output_config']> = {};
  const format = request.response_format;
  if (format?.type === 'json_schema') {
    config.format = { type: 'json_schema', schema: format.json_schema.schema ?? { type: 'object' } };
  } else if (format?.type === 'json_object') {
    // No native JSON mode: a permissive object schema keeps the "valid JSON object" promise without forcing a
    // tool (which Claude 5.x refuses).
    config.format = { type: 'json_schema', schema: { type: 'object' } };
  }
  const effort = mapReasoningEffort(request.reasoning_effort, ctx.deployment);
  if (effort !== undefined) {
    config.effort = effort;
  }
  if (config.format || config.effort) {
    body.output_config = config;
  }
}
