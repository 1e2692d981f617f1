import { ApiProperty, ApiPropertyOptional, type SchemaObject } from '@nestjs/swagger';
import { openApiComponents } from '../common/openapi.js';
import { CHAT_REQUEST_SCHEMA_PARTS } from './request-schema.js';

/**
 * The API reference of `POST /v1/chat/completions`: the request body (derived from the JSON Schema the gateway
 * validates with), the answer and stream chunk (documentation-only classes: the service builds these objects in
 * chunks.ts), and examples taken from real answers.
 */

const FINISH_REASONS = ['stop', 'length', 'tool_calls', 'content_filter', 'function_call'];

/** What the reference says about the request's main fields (the schema itself comes from request-schema.ts). */
const REQUEST_FIELD_DOCS: Record<string, string> = {
  model:
    'A model id from `GET /v1/models` (`gpt-6-luna`, `claude-sonnet-5-5`, `gemini-3.8-flash`, ' +
    '`openai/gpt-oss-120b`, …). Required unless `models` is sent.',
  messages:
    'The conversation: system/developer, user (text, images, audio, files), assistant (text, tool calls) and ' +
    'tool messages, discriminated by `role`.',
  stream:
    '`true`: the answer is a `text/event-stream` of `chat.completion.chunk` objects ending with `data: [DONE]`.',
  stream_options:
    'Only with `stream: true`. `include_usage: true` adds a last chunk with empty `choices` and the `usage` ' +
    '(with `cost_credits`).',
  max_tokens:
    'The most completion tokens per choice. A live key holds credits for the worst case (the model’s maximum ' +
    'output when unset): set it to hold less.',
  max_completion_tokens: 'Same as `max_tokens` (OpenAI’s newer name); it wins when both are set.',
  temperature: '0 to 2. A model that does not take it answers 400 naming it: never clamped or dropped.',
  n: 'How many choices to generate, for the models whose providers support it.',
  tools: 'Functions the model may call (translated to each provider’s own tool format).',
  tool_choice: '`none`, `auto`, `required`, or a named function.',
  response_format: '`text`, `json_object`, or `json_schema` (structured output).',
  reasoning_effort: 'For reasoning models; a value a model cannot honour is a 400 naming it.',
};

/**
 * The chat request as OpenAPI 3.0 components (`CreateChatCompletionRequest` and the parts it names), derived from
 * `CHAT_REQUEST_SCHEMA`: the reference documents what the validator checks, and nothing else.
 */
export function chatRequestComponents(): Record<string, SchemaObject> {
  const schemas = openApiComponents(CHAT_REQUEST_SCHEMA_PARTS);
  const request = schemas.CreateChatCompletionRequest;
  request.description =
    'OpenAI’s `CreateChatCompletionRequest`, as the gateway validates it: an unknown field or a value out of ' +
    'range is a 400 naming it (`param`).';
  for (const [field, description] of Object.entries(REQUEST_FIELD_DOCS)) {
    const property = request.properties?.[field];
    if (!property) {
      throw new Error(`chat.dto.ts documents a request field the schema does not have: ${field}`);
    }
    // A description beside a $ref is ignored in OpenAPI 3.0: wrap it.
    request.properties![field] =
      '$ref' in property ? { allOf: [property], description } : { ...property, description };
  }
  return schemas;
}

const hello = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hello!' }] };

/** Request examples (the first is what "Try it out" sends: it works with a `cf_test_…` key). */
export const CHAT_REQUEST_EXAMPLES = {
  hello: { summary: 'A first request (try it with a cf_test_… key)', value: hello },
  stream: {
    summary: 'Streamed, with a final usage chunk',
    value: { ...hello, stream: true, stream_options: { include_usage: true } },
  },
  tools: {
    summary: 'With a tool the model may call',
    value: {
      model: 'claude-sonnet-5-5',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'The current weather in a city',
            parameters: {
              type: 'object',
              properties: { location: { type: 'string' } },
              required: ['location'],
            },
          },
        },
      ],
    },
  },
  pinned: {
    summary: 'Pinned to one provider, no fallback (503 when it fails)',
    value: {
      model: 'openai/gpt-oss-120b',
      messages: [{ role: 'user', content: 'Hello!' }],
      provider: { only: ['groq'], allow_fallbacks: false },
    },
  },
  models: {
    summary: 'Own fallback models, the fastest provider first',
    value: {
      models: ['gpt-oss-120b', 'gpt-6-luna'],
      messages: [{ role: 'user', content: 'Hello!' }],
      provider: { sort: 'latency' },
    },
  },
  json_schema: {
    summary: 'Structured output (JSON schema)',
    value: {
      model: 'gemini-3.8-flash',
      messages: [
        { role: 'system', content: 'Extract the city.' },
        { role: 'user', content: 'I live in Lyon.' },
      ],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'city',
          schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: true,
        },
      },
      max_tokens: 50,
    },
  },
};

export class FunctionCallDto {
  @ApiProperty({ example: 'get_weather' }) name!: string;
  @ApiProperty({ description: 'The arguments, as a JSON text.', example: '{"location":"Paris"}' })
  arguments!: string;
}

export class ToolCallDto {
  @ApiProperty({ example: 'call_test_1_d0e2749d6dfb' }) id!: string;
  @ApiProperty({ enum: ['function'] }) type!: 'function';
  @ApiProperty({ type: FunctionCallDto }) function!: FunctionCallDto;
}

export class ChatCompletionMessageDto {
  @ApiProperty({ enum: ['assistant'] }) role!: 'assistant';
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The text (null when the model only calls tools).',
  })
  content!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The model’s refusal, if it refused.' })
  refusal!: string | null;
  @ApiPropertyOptional({ type: [ToolCallDto], description: 'Present when the model calls tools.' })
  tool_calls?: ToolCallDto[];
}

export class ChatCompletionChoiceDto {
  @ApiProperty({ type: 'integer' }) index!: number;
  @ApiProperty({ type: ChatCompletionMessageDto }) message!: ChatCompletionMessageDto;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'Always null: the gateway returns no log probabilities.',
  })
  logprobs!: null;
  @ApiProperty({ enum: FINISH_REASONS }) finish_reason!: string;
}

export class PromptTokensDetailsDto {
  @ApiPropertyOptional({
    type: 'integer',
    description: 'Prompt tokens read from the provider’s cache (cheaper).',
  })
  cached_tokens?: number;
  @ApiPropertyOptional({ type: 'integer' }) audio_tokens?: number;
}

export class CompletionTokensDetailsDto {
  @ApiPropertyOptional({ type: 'integer', description: 'Reasoning tokens (billed as output).' })
  reasoning_tokens?: number;
  @ApiPropertyOptional({ type: 'integer' }) audio_tokens?: number;
}

export class UsageDto {
  @ApiProperty({ type: 'integer' }) prompt_tokens!: number;
  @ApiProperty({ type: 'integer' }) completion_tokens!: number;
  @ApiProperty({ type: 'integer' }) total_tokens!: number;
  @ApiPropertyOptional({ type: PromptTokensDetailsDto }) prompt_tokens_details?: PromptTokensDetailsDto;
  @ApiPropertyOptional({ type: CompletionTokensDetailsDto })
  completion_tokens_details?: CompletionTokensDetailsDto;
  @ApiProperty({
    description:
      'Gateway extension: what the request cost, in credits (1 credit = $0.01); `0` for test keys.',
    example: '0.00042',
  })
  cost_credits!: string;
}

/** OpenAI's `CreateChatCompletionResponse`, with `usage.cost_credits`. */
export class ChatCompletionDto {
  @ApiProperty({ example: 'chatcmpl-K5IPiJO9own1EX8RyQvrpQ' }) id!: string;
  @ApiProperty({ enum: ['chat.completion'] }) object!: 'chat.completion';
  @ApiProperty({ type: 'integer', description: 'Unix seconds.', example: 1796012581 }) created!: number;
  @ApiProperty({ description: 'The model that served the request.', example: 'gpt-6-luna' }) model!: string;
  @ApiProperty({ type: [ChatCompletionChoiceDto] }) choices!: ChatCompletionChoiceDto[];
  @ApiProperty({ type: UsageDto }) usage!: UsageDto;
}

export class ToolCallDeltaFunctionDto {
  @ApiPropertyOptional({ description: 'On the tool call’s first chunk.' }) name?: string;
  @ApiPropertyOptional({ description: 'The next piece of the arguments’ JSON text.' }) arguments?: string;
}

export class ToolCallDeltaDto {
  @ApiProperty({ type: 'integer' }) index!: number;
  @ApiPropertyOptional({ description: 'On the tool call’s first chunk.' }) id?: string;
  @ApiPropertyOptional({ enum: ['function'] }) type?: 'function';
  @ApiPropertyOptional({ type: ToolCallDeltaFunctionDto }) function?: ToolCallDeltaFunctionDto;
}

export class ChunkDeltaDto {
  @ApiPropertyOptional({ enum: ['assistant'], description: 'On each choice’s first chunk.' })
  role?: 'assistant';
  @ApiPropertyOptional({ type: String, nullable: true }) content?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) refusal?: string | null;
  @ApiPropertyOptional({ type: [ToolCallDeltaDto] }) tool_calls?: ToolCallDeltaDto[];
}

export class ChunkChoiceDto {
  @ApiProperty({ type: 'integer' }) index!: number;
  @ApiProperty({ type: ChunkDeltaDto }) delta!: ChunkDeltaDto;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'Always null.' })
  logprobs!: null;
  @ApiProperty({
    enum: [...FINISH_REASONS, null],
    nullable: true,
    description: 'Set on the choice’s last chunk, null before.',
  })
  finish_reason!: string | null;
}

/** OpenAI's `CreateChatCompletionStreamResponse`: one per `data:` event of a stream. */
export class ChatCompletionChunkDto {
  @ApiProperty({
    description: 'The same on every chunk of a stream.',
    example: 'chatcmpl-uyyFApHG73VJgAkN_Z2RaA',
  })
  id!: string;
  @ApiProperty({ enum: ['chat.completion.chunk'] }) object!: 'chat.completion.chunk';
  @ApiProperty({
    type: 'integer',
    description: 'Unix seconds, the same on every chunk.',
    example: 1796012581,
  })
  created!: number;
  @ApiProperty({ example: 'gpt-6-luna' }) model!: string;
  @ApiProperty({
    type: [ChunkChoiceDto],
    description: 'Empty on the final usage chunk (`stream_options.include_usage`).',
  })
  choices!: ChunkChoiceDto[];
  @ApiPropertyOptional({
    type: UsageDto,
    nullable: true,
    description: 'With `stream_options.include_usage`: null on every chunk but the last, which carries it.',
  })
  usage?: UsageDto | null;
}

/** Answers captured from the gateway (test key, live key on a fake provider, tool call). */
export const CHAT_COMPLETION_EXAMPLES = {
  test_key: {
    summary: 'A test key’s answer (mock, free)',
    value: {
      id: 'chatcmpl-ObwWtozRUmwBIu5kzmn9RQ',
      object: 'chat.completion',
      created: 1796012581,
      model: 'gpt-6-luna',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content:
              'This is a test response from gpt-6-luna. Your Conflux test key works: the request was ' +
              'authenticated, rate-limited and validated, no provider was called, and nothing was billed.',
            refusal: null,
          },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 2, completion_tokens: 41, total_tokens: 43, cost_credits: '0' },
    },
  },
  live_key: {
    summary: 'A live key’s answer, with what it cost',
    value: {
      id: 'chatcmpl-K5IPiJO9own1EX8RyQvrpQ',
      object: 'chat.completion',
      created: 1796012581,
      model: 'gpt-6-luna',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 2,
        completion_tokens: 10,
        total_tokens: 12,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
        cost_credits: '0.00052',
      },
    },
  },
  tool_call: {
    summary: 'A tool call',
    value: {
      id: 'chatcmpl-9LGpJXyzGU2EhShsZ0goKQ',
      object: 'chat.completion',
      created: 1796012581,
      model: 'gpt-6-luna',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: 'call_test_1_d0e2749d6dfb',
                type: 'function',
                function: { name: 'get_weather', arguments: '{}' },
              },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 31, completion_tokens: 3, total_tokens: 34, cost_credits: '0' },
    },
  },
};

const chunk = (choices: unknown[], usage: unknown = null) => ({
  id: 'chatcmpl-uyyFApHG73VJgAkN_Z2RaA',
  object: 'chat.completion.chunk',
  created: 1796012581,
  model: 'gpt-6-luna',
  choices,
  usage,
});
const delta = (content: Record<string, unknown>, finish: string | null = null) =>
  chunk([{ index: 0, delta: content, logprobs: null, finish_reason: finish }]);
const sse = (...frames: Array<object | string>): string =>
  frames.map((frame) => (typeof frame === 'string' ? frame : `data: ${JSON.stringify(frame)}`)).join('\n\n') +
  '\n\n';

/** Streams captured from the gateway (a test key's, shortened with an SSE comment line; a provider failing). */
export const CHAT_STREAM_EXAMPLES = {
  stream: {
    summary: 'A stream with stream_options.include_usage (a test key: one word per chunk)',
    value: sse(
      delta({ role: 'assistant', content: 'This' }),
      delta({ content: ' is' }),
      delta({ content: ' a' }),
      ': … 23 more chunks, one word each …',
      delta({ content: ' billed.' }),
      delta({}, 'stop'),
      chunk([], { prompt_tokens: 2, completion_tokens: 41, total_tokens: 43, cost_credits: '0' }),
      'data: [DONE]',
    ),
  },
  provider_failed: {
    summary: 'A provider failing after the first chunk: an error event ends the stream, without [DONE]',
    value: sse(
      {
        ...delta({ role: 'assistant', content: 'Hello' }),
        usage: undefined,
      },
      { ...delta({ content: '! How' }), usage: undefined },
      {
        error: {
          message:
            'The provider failed mid-stream: The server had an error while processing your request. Sorry about ' +
            'that! (request id req_5f0c2a9be4d17c3a86f1e2d0)',
          type: 'server_error',
          param: null,
          code: 'upstream_error',
        },
      },
    ),
  },
};
