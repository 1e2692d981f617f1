import { describe, expect, it } from 'vitest';
import type { Deployment } from '../../common/deployment.js';
import { mapContext } from '../../../test/support/adapters.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { ChatCompletionRequest } from '../openai-types.js';
import type { MapContext, ToolCallState } from '../types.js';
import { anthropicAdapter } from './anthropic.adapter.js';
import type { AnthropicMessagesRequest } from './native-types.js';

function ctx(
  overrides: {
    deployment?: Partial<Deployment>;
    version?: string;
    toolState?: Map<string, ToolCallState>;
  } = {},
): MapContext {
  return mapContext('anthropic', {
    deployment: overrides.deployment,
    config: { anthropicVersion: overrides.version },
    toolState: overrides.toolState,
  });
}

function build(request: Partial<ChatCompletionRequest>, context = ctx(), stream = false) {
  const upstream = anthropicAdapter.buildChatRequest(
    { model: 'claude-sonnet', messages: [{ role: 'user', content: 'Hi' }], ...request },
    stream,
    context,
  );
  return { upstream, body: JSON.parse(upstream.body ?? '{}') as AnthropicMessagesRequest };
}

function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('anthropic buildChatRequest', () => {
  it('posts to {baseUrl}/messages with the key, the version header and the deployment model', () => {
    const { upstream, body } = build({ max_tokens: 100 });
    expect(upstream.method).toBe('POST');
    expect(upstream.url).toBe('https://api.anthropic.com/v1/messages');
    expect(upstream.headers['x-api-key']).toBe('sk-ant-test');
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expect(upstream.headers['content-type']).toBe('application/json');
    expect(upstream.url).not.toContain('sk-ant-test');
    expect(body).toEqual({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    });
  });

  it('uses the pinned anthropic-version', () => {
    const { upstream } = build({}, ctx({ version: '2026-10-21' }));
    expect(upstream.headers['anthropic-version']).toBe('2026-10-21');
  });

  it('fills max_tokens: max_completion_tokens, then max_tokens, then the deployment maximum', () => {
    expect(build({ max_completion_tokens: 10, max_tokens: 20 }).body.max_tokens).toBe(10);
    expect(build({ max_tokens: 20 }).body.max_tokens).toBe(20);
    expect(build({}).body.max_tokens).toBe(64_000);
  });

  it('sets stream only when streaming', () => {
    expect(build({}, ctx(), true).body.stream).toBe(true);
    expect(build({}, ctx(), true).upstream.headers.accept).toBe('text/event-stream');
    expect(build({}).body.stream).toBeUndefined();
  });

  it('moves system and developer messages from anywhere into top-level system, in order', () => {
    const { body } = build({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'assistant', content: 'Salut' },
        { role: 'user', content: 'Again' },
      ],
    });
    expect(body.system).toEqual([
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Answer in French.' },
    ]);
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('maps user content parts: text, data-URI image, URL image, PDF file; drops empty text', () => {
    const { body } = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look' },
            { type: 'text', text: '' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
            { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0x', filename: 'a.pdf' } },
          ],
        },
      ],
    });
    expect(body.messages[0].content).toEqual([
      { type: 'text', text: 'Look' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' } },
    ]);
  });

  it('rejects an image data URI of an unsupported type, audio input and non-PDF files, naming the part', () => {
    const image = thrown(() =>
      build({
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAA' } }],
          },
        ],
      }),
    );
    expect(image.code).toBe(ErrorCode.InvalidRequest);
    expect(image.param).toBe('messages[0].content[0].image_url.url');

    const audio = thrown(() =>
      build({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'input_audio', input_audio: { data: 'x', format: 'wav' } },
            ],
          },
        ],
      }),
    );
    expect(audio.code).toBe(ErrorCode.UnsupportedParameter);
    expect(audio.param).toBe('messages[0].content[1]');

    const docx = thrown(() =>
      build({
        messages: [
          {
            role: 'user',
            content: [{ type: 'file', file: { file_data: 'data:application/msword;base64,AA' } }],
          },
        ],
      }),
    );
    expect(docx.code).toBe(ErrorCode.UnsupportedParameter);
    expect(docx.param).toBe('messages[0].content[0].file.file_data');

    const fileId = thrown(() =>
      build({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] }),
    );
    expect(fileId.param).toBe('messages[0].content[0].file.file_id');
  });

  it('maps assistant tool_calls to tool_use and tool messages to ONE user turn of tool_result blocks first', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
  });

  it('keeps tool_result blocks first even when a user message precedes the tool messages', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'Go' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'user', content: 'note' },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'done' },
      ],
    });
    expect(body.messages[2].content.map((b) => b.type)).toEqual(['tool_result', 'text']);
  });

  it('merges consecutive same-role messages and drops messages left empty', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'one' },
        { role: 'user', content: 'two' },
        { role: 'assistant', content: '' },
        { role: 'assistant', content: 'three' },
      ],
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'three' }] },
    ]);
  });

  it('rejects tool call arguments that are not a JSON object, naming the exact param', () => {
    for (const args of ['{"city":', '[1,2]']) {
      const error = thrown(() =>
        build({
          messages: [
            { role: 'user', content: 'x' },
            {
              role: 'assistant',
              tool_calls: [
                { id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } },
                { id: 'b', type: 'function', function: { name: 'f', arguments: args } },
              ],
            },
          ],
        }),
      );
      expect(error.code).toBe(ErrorCode.InvalidRequest);
      expect(error.param).toBe('messages[1].tool_calls[1].function.arguments');
    }
  });

  it('rejects a conversation with no user or assistant message', () => {
    const error = thrown(() => build({ messages: [{ role: 'system', content: 'Only system' }] }));
    expect(error.param).toBe('messages');
  });

  describe('thinking blocks round trip', () => {
    const thinking = [
      { type: 'thinking', thinking: 'Need the weather tool.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA' },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' },
    ];
    const conversation = (id: string): Partial<ChatCompletionRequest> => ({
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: 'Let me check.',
          tool_calls: [
            { id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: id, content: 'Sunny' },
      ],
    });

    it('prepends saved thinking blocks verbatim for the same provider and model', () => {
      const toolState = new Map<string, ToolCallState>([
        ['toolu_9', { provider: 'anthropic', providerModel: 'claude-sonnet-5-5', thinkingBlocks: thinking }],
      ]);
      const { body } = build(conversation('toolu_9'), ctx({ toolState }));
      expect(body.messages[1].content).toEqual([
        ...thinking,
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: { city: 'Paris' } },
      ]);
    });

    it('ignores state saved by another model or another provider', () => {
      for (const state of [
        { provider: 'anthropic', providerModel: 'claude-opus-5-5', thinkingBlocks: thinking },
        {
          provider: 'gemini',
          providerModel: 'claude-sonnet-5-5',
          thinkingBlocks: thinking,
          thoughtSignature: 'x',
        },
      ] as ToolCallState[]) {
        const { body } = build(conversation('toolu_9'), ctx({ toolState: new Map([['toolu_9', state]]) }));
        expect(body.messages[1].content.map((b) => b.type)).toEqual(['text', 'tool_use']);
      }
    });
  });

  describe('tools and tool_choice', () => {
    const tools: ChatCompletionRequest['tools'] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: true,
        },
      },
      { type: 'function', function: { name: 'ping' } },
    ];

    it('maps tools to input_schema (empty object schema when no parameters)', () => {
      expect(build({ tools }).body.tools).toEqual([
        {
          name: 'get_weather',
          description: 'Weather for a city',
          input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: true,
        },
        { name: 'ping', input_schema: { type: 'object', properties: {} } },
      ]);
    });

    it('maps each tool_choice and parallel_tool_calls:false', () => {
      expect(build({ tools, tool_choice: 'auto' }).body.tool_choice).toEqual({ type: 'auto' });
      expect(build({ tools, tool_choice: 'required' }).body.tool_choice).toEqual({ type: 'any' });
      expect(build({ tools, tool_choice: 'none' }).body.tool_choice).toEqual({ type: 'none' });
      expect(
        build({ tools, tool_choice: { type: 'function', function: { name: 'ping' } } }).body.tool_choice,
      ).toEqual({ type: 'tool', name: 'ping' });
      expect(build({ tools, tool_choice: 'required', parallel_tool_calls: false }).body.tool_choice).toEqual({
        type: 'any',
        disable_parallel_tool_use: true,
      });
      expect(build({ tools, parallel_tool_calls: false }).body.tool_choice).toEqual({
        type: 'auto',
        disable_parallel_tool_use: true,
      });
      expect(build({ tools }).body.tool_choice).toBeUndefined();
    });

    it('fails fast on a forced tool_choice when the deployment cannot force tools', () => {
      const noForce = ctx({ deployment: { forcedToolChoice: false } });
      for (const choice of ['required', { type: 'function', function: { name: 'ping' } }] as const) {
        const error = thrown(() => build({ tools, tool_choice: choice }, noForce));
        expect(error.code).toBe(ErrorCode.UnsupportedParameter);
        expect(error.param).toBe('tool_choice');
      }
      expect(build({ tools, tool_choice: 'auto' }, noForce).body.tool_choice).toEqual({ type: 'auto' });
    });
  });

  it('maps response_format to output_config.format', () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, additionalProperties: false };
    expect(
      build({ response_format: { type: 'json_schema', json_schema: { name: 'r', schema } } }).body
        .output_config,
    ).toEqual({ format: { type: 'json_schema', schema } });
    expect(build({ response_format: { type: 'json_object' } }).body.output_config).toEqual({
      format: { type: 'json_schema', schema: { type: 'object' } },
    });
    expect(build({ response_format: { type: 'text' } }).body.output_config).toBeUndefined();
  });

  it('maps reasoning_effort through the deployment map, and rejects a value missing from it', () => {
    const mapped = ctx({ deployment: { reasoningEffort: { high: 'max', low: 'low' } } });
    expect(build({ reasoning_effort: 'high' }, mapped).body.output_config).toEqual({ effort: 'max' });
    const error = thrown(() => build({ reasoning_effort: 'minimal' }, mapped));
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('reasoning_effort');
    expect(
      thrown(() => build({ reasoning_effort: 'low' }, ctx({ deployment: { reasoningEffort: undefined } })))
        .param,
    ).toBe('reasoning_effort');
  });

  it('maps stop to stop_sequences and user / safety_identifier to metadata.user_id', () => {
    expect(build({ stop: 'END' }).body.stop_sequences).toEqual(['END']);
    expect(build({ stop: ['a', 'b'] }).body.stop_sequences).toEqual(['a', 'b']);
    expect(build({ stop: [] }).body.stop_sequences).toBeUndefined();
    expect(build({ user: 'u-1' }).body.metadata).toEqual({ user_id: 'u-1' });
    expect(build({ user: 'u-1', safety_identifier: 's-1' }).body.metadata).toEqual({ user_id: 's-1' });
  });

  it('passes temperature 0–1 and top_p under 2023-06-01 and refuses temperature above 1', () => {
    const { body } = build({ temperature: 0.7, top_p: 0.9 });
    expect(body.temperature).toBe(0.7);
    expect(body.top_p).toBe(0.9);
    const error = thrown(() => build({ temperature: 1.5 }));
    expect(error.code).toBe(ErrorCode.InvalidRequest);
    expect(error.param).toBe('temperature');
  });

  it('refuses temperature and top_p under 2026-10-21', () => {
    const v2 = ctx({ version: '2026-10-21' });
    expect(thrown(() => build({ temperature: 0.5 }, v2)).param).toBe('temperature');
    const topP = thrown(() => build({ top_p: 0.5 }, v2));
    expect(topP.code).toBe(ErrorCode.UnsupportedParameter);
    expect(topP.param).toBe('top_p');
    expect(build({}, v2).body.temperature).toBeUndefined();
  });

  it.each([
    ['n', { n: 2 }],
    ['seed', { seed: 42 }],
    ['logprobs', { logprobs: true }],
    ['top_logprobs', { top_logprobs: 3 }],
    ['logit_bias', { logit_bias: { '1234': 5 } }],
    ['presence_penalty', { presence_penalty: 0.5 }],
    ['frequency_penalty', { frequency_penalty: -0.5 }],
  ] as Array<[string, Partial<ChatCompletionRequest>]>)(
    'refuses %s with UnsupportedParameter',
    (param, extra) => {
      const error = thrown(() => build(extra));
      expect(error.code).toBe(ErrorCode.UnsupportedParameter);
      expect(error.param).toBe(param);
    },
  );

  it('accepts the default values of unsupported parameters (n:1, logprobs:false, zero penalties)', () => {
    expect(() =>
      build({ n: 1, logprobs: false, presence_penalty: 0, frequency_penalty: 0, seed: null }),
    ).not.toThrow();
  });

  it('builds the probe: GET {baseUrl}/models?limit=1 with the key header', () => {
    const probe = anthropicAdapter.probeRequest({
      id: 'anthropic',
      baseUrl: 'http://127.0.0.1:9/v1/',
      apiKey: 'k',
      anthropicVersion: '2026-10-21',
    });
    expect(probe).toEqual({
      method: 'GET',
      url: 'http://127.0.0.1:9/v1/models?limit=1',
      headers: { 'x-api-key': 'k', 'anthropic-version': '2026-10-21' },
    });
  });
});
