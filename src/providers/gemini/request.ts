/**
 * OpenAI Chat Completions request → Gemini `generateContent` request (providers.md §3 "Request mapping";
 * https://ai.google.dev/api/generate-content#request-body, https://ai.google.dev/gemini-api/docs/function-calling,
 * https://ai.google.dev/gemini-api/docs/thought-signatures).
 *
 * | OpenAI                                    | Gemini                                                          |
 * |-------------------------------------------|-----------------------------------------------------------------|
 * | system / developer messages (anywhere)    | `systemInstruction.parts[]`, in order                           |
 * | user / assistant                          | `contents[]` role `user` / `model`, consecutive same role merged |
 * | text / data-URI image / gs:// or Files URI| `text` / `inlineData` / `fileData`                              |
 * | input_audio, file.file_data (data URI)    | `inlineData`                                                    |
 * | assistant tool_calls                      | `functionCall` parts (+ saved `thoughtSignature`, same model)   |
 * | tool messages                             | `functionResponse` parts in one user turn (name by call id)     |
 * | tools / tool_choice                       | `functionDeclarations[].parametersJsonSchema` / `toolConfig`    |
 * | temperature, top_p, seed, penalties       | `generationConfig.*`                                            |
 * | max_completion_tokens ?? max_tokens       | `generationConfig.maxOutputTokens`                              |
 * | stop (≤5), n                              | `stopSequences`, `candidateCount`                               |
 * | response_format                           | `responseMimeType` + `responseJsonSchema`                       |
 * | reasoning_effort                          | `thinkingConfig.thinkingLevel` (through the deployment's map)   |
 * | logit_bias, logprobs, top_logprobs,       | rejected: no equivalent, or (logprobs) nothing in the gateway's |
 * | parallel_tool_calls:false                 | normalized answer could carry them back                         |
 */
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { ChatCompletionRequest, FunctionTool, ResponseFormat, ToolChoice } from '../openai-types.js';
import { mapReasoningEffort, unsupported } from '../policy.js';
import type { MapContext } from '../types.js';
import { mapMessages } from './messages.js';
import type {
  GeminiGenerateContentRequest,
  GeminiGenerationConfig,
  GeminiTool,
  GeminiToolConfig,
} from './native-types.js';

/** generationConfig.stopSequences: "up to 5 character sequences". */
const MAX_STOP_SEQUENCES = 5;

export function buildGenerateContentBody(
  request: ChatCompletionRequest,
  ctx: MapContext,
): GeminiGenerateContentRequest {
  rejectUnsupported(request);
  const { systemParts, contents } = mapMessages(request, ctx);
  const body: GeminiGenerateContentRequest = { contents };
  if (systemParts.length > 0) {
    body.systemInstruction = { parts: systemParts };
  }
  if (request.tools && request.tools.length > 0) {
    body.tools = mapTools(request.tools);
  }
  if (request.tool_choice !== undefined) {
    body.toolConfig = mapToolChoice(request.tool_choice);
  }
  const generationConfig = mapGenerationConfig(request, ctx);
  if (Object.keys(generationConfig).length > 0) {
    body.generationConfig = generationConfig;
  }
  return body;
}

function rejectUnsupported(request: ChatCompletionRequest): void {
  if (given(request.logit_bias) && Object.keys(request.logit_bias).length > 0) {
    throw unsupported(
      'logit_bias',
      'Gemini has no token bias: `logit_bias` is not supported for this model.',
    );
  }
  // Gemini can return logprobs (responseLogprobs), but the gateway's normalized answer has no place for them,
  // so they would be dropped on the way back: refuse rather than silently answer without them.
  if (request.logprobs === true) {
    throw unsupported('logprobs', '`logprobs` is not supported for this model.');
  }
  if (given(request.top_logprobs)) {
    throw unsupported('top_logprobs', '`top_logprobs` is not supported for this model.');
  }
  if (request.parallel_tool_calls === false) {
    throw unsupported(
      'parallel_tool_calls',
      'Gemini cannot be limited to one tool call per turn: `parallel_tool_calls: false` is not supported for this model.',
    );
  }
}

function mapTools(tools: FunctionTool[]): GeminiTool[] {
  // `parametersJsonSchema` takes plain JSON Schema; the older `parameters` is an OpenAPI subset that rejects
  // many keywords OpenAI clients send. `strict` has no per-function twin: Gemini decodes calls against the schema.
  return [
    {
      functionDeclarations: tools.map((tool) => ({
        name: tool.function.name,
        ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
        ...(tool.function.parameters !== undefined ? { parametersJsonSchema: tool.function.parameters } : {}),
      })),
    },
  ];
}

function mapToolChoice(choice: ToolChoice): GeminiToolConfig {
  switch (choice) {
    case 'auto':
      return { functionCallingConfig: { mode: 'AUTO' } };
    case 'required':
      return { functionCallingConfig: { mode: 'ANY' } };
    case 'none':
      return { functionCallingConfig: { mode: 'NONE' } };
    default:
      return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
}

function mapGenerationConfig(request: ChatCompletionRequest, ctx: MapContext): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  if (given(request.temperature)) {
    config.temperature = request.temperature;
  }
  if (given(request.top_p)) {
    config.topP = request.top_p;
  }
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (given(maxTokens)) {
    config.maxOutputTokens = maxTokens;
  }
  if (given(request.stop)) {
    const stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
    if (stop.length > MAX_STOP_SEQUENCES) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `This model accepts at most ${MAX_STOP_SEQUENCES} stop sequences; ${stop.length} were given.`,
        { param: 'stop' },
      );
    }
    if (stop.length > 0) {
      config.stopSequences = stop;
    }
  }
  if (given(request.n)) {
    config.candidateCount = request.n;
  }
  if (given(request.seed)) {
    config.seed = request.seed;
  }
  if (given(request.presence_penalty)) {
    config.presencePenalty = request.presence_penalty;
  }
  if (given(request.frequency_penalty)) {
    config.frequencyPenalty = request.frequency_penalty;
  }
  Object.assign(config, mapResponseFormat(request.response_format));
  const level = mapReasoningEffort(request.reasoning_effort, ctx.deployment);
  if (level !== undefined) {
    config.thinkingConfig = { thinkingLevel: level };
  }
  return config;
}

function mapResponseFormat(format: ResponseFormat | undefined): GeminiGenerationConfig {
  switch (format?.type) {
    case undefined:
    case 'text':
      return {};
    case 'json_object':
      return { responseMimeType: 'application/json' };
    case 'json_schema':
      return format.json_schema.schema
        ? { responseMimeType: 'application/json', responseJsonSchema: format.json_schema.schema }
        : { responseMimeType: 'application/json' };
  }
}

/** Set and not null (OpenAI clients send explicit nulls for "not given"). */
function given<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}
