import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { ChatCompletionRequest } from '../openai-types.js';
import { geminiAdapter } from './gemini.adapter.js';
import type { GeminiGenerateContentRequest } from './native-types.js';

function build(request: Partial<ChatCompletionRequest>, ctx = mapContext('gemini'), stream = false) {
  const upstream = geminiAdapter.buildChatRequest(
    { model: 'gemini-3.8-flash', messages: [{ role: 'user', content: 'Hi' }], ...request },
    stream,
    ctx,
  );
  return { upstream, body: JSON.parse(upstream.body!) as GeminiGenerateContentRequest };
}

function rejection(request: Partial<ChatCompletionRequest>, ctx = mapContext('gemini')): GatewayError {
  try {
    build(request, ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected the mapping to throw');
}

const weatherCall = {
  id: 'call_abc',
  type: 'function' as const,
  function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
};

describe('gemini request: endpoint and auth', () => {
  it('posts generateContent with the key in x-goog-api-key, never in the URL', () => {
    const { upstream } = build({});
    expect(upstream.method).toBe('POST');
    expect(upstream.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-3.8-flash:generateContent',
    );
    expect(upstream.headers['x-goog-api-key']).toBe('AIza-test');
    expect(upstream.headers['content-type']).toBe('application/json');
    expect(upstream.url).not.toContain('key=');
  });

  it('streams with streamGenerateContent?alt=sse and has no model in the body', () => {
    const { upstream, body } = build({}, mapContext('gemini'), true);
    expect(upstream.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse',
    );
    expect(body).not.toHaveProperty('model');
    expect(body).not.toHaveProperty('stream');
  });

  it('uses the deployment model, drops a models/ prefix and a trailing slash of the base URL', () => {
    const ctx = mapContext('gemini', { model: 'models/gemini-4-argon' });
    const config = { ...ctx.config, baseUrl: 'http://127.0.0.1:9/v1beta/' };
    const upstream = geminiAdapter.buildChatRequest(
      { model: 'x', messages: [{ role: 'user', content: 'Hi' }] },
      false,
      { ...ctx, config },
    );
    expect(upstream.url).toBe('http://127.0.0.1:9/v1beta/models/gemini-4-argon:generateContent');
  });

  it('probes GET /models?pageSize=1 with the key header', () => {
    const probe = geminiAdapter.probeRequest(mapContext('gemini').config);
    expect(probe).toEqual({
      method: 'GET',
      url: 'https://generativelanguage.googleapis.com/v1beta/models?pageSize=1',
      headers: { 'x-goog-api-key': 'AIza-test' },
    });
  });
});

describe('gemini request: messages', () => {
  it('moves system and developer messages (anywhere) to systemInstruction, in order', () => {
    const { body } = build({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
      ],
    });
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'Hi' }] }]);
  });

  it('maps user/assistant to user/model and merges consecutive same-role turns', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'One' },
        { role: 'user', content: [{ type: 'text', text: 'Two' }] },
        { role: 'assistant', content: 'Three' },
        { role: 'assistant', content: [{ type: 'text', text: 'Four' }] },
        { role: 'user', content: 'Five' },
      ],
    });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'One' }, { text: 'Two' }] },
      { role: 'model', parts: [{ text: 'Three' }, { text: 'Four' }] },
      { role: 'user', parts: [{ text: 'Five' }] },
    ]);
  });

  it('maps a data-URI image to inlineData and gs:// / Files API URIs to fileData', () => {
    const { body } = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'gs://bucket/cat.JPG' } },
            {
              type: 'image_url',
              image_url: { url: 'https://generativelanguage.googleapis.com/v1beta/files/abc-123' },
            },
          ],
        },
      ],
    });
    expect(body.contents[0].parts).toEqual([
      { text: 'Compare' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'gs://bucket/cat.JPG' } },
      { fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc-123' } },
    ]);
  });

  it('rejects any other http(s) image URL naming the part (the gateway does not fetch URLs)', () => {
    const error = rejection({
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
      ],
    });
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('messages[1].content[1].image_url');
    expect(error.message).toMatch(/data URI/);
  });

  it('maps input audio and inline files to inlineData, and rejects file_id', () => {
    const { body } = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
          ],
        },
      ],
    });
    expect(body.contents[0].parts).toEqual([
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    ]);
    const error = rejection({
      messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-123' } }] }],
    });
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('messages[0].content[0].file');
  });

  it('maps assistant tool_calls to functionCall parts with args as an object', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: 'Let me check.', tool_calls: [weatherCall] },
      ],
    });
    expect(body.contents[1]).toEqual({
      role: 'model',
      parts: [
        { text: 'Let me check.' },
        { functionCall: { id: 'call_abc', name: 'get_weather', args: { location: 'Paris' } } },
      ],
    });
  });

  it('replays the thought signature saved for the same Gemini model, never another model or provider', () => {
    const messages: ChatCompletionRequest['messages'] = [
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [weatherCall, { ...weatherCall, id: 'call_def' }, { ...weatherCall, id: 'call_ghi' }],
      },
    ];
    const ctx = mapContext('gemini', {
      toolState: [
        ['call_abc', { provider: 'gemini', providerModel: 'gemini-3.8-flash', thoughtSignature: 'c2lnLTE=' }],
        ['call_def', { provider: 'gemini', providerModel: 'gemini-4-argon', thoughtSignature: 'b3RoZXI=' }],
        [
          'call_ghi',
          { provider: 'anthropic', providerModel: 'gemini-3.8-flash', thoughtSignature: 'Zm9yZWlnbg==' },
        ],
      ],
    });
    const parts = build({ messages }, ctx).body.contents[1].parts!;
    expect(parts[0].thoughtSignature).toBe('c2lnLTE=');
    expect(parts[1]).not.toHaveProperty('thoughtSignature');
    expect(parts[2]).not.toHaveProperty('thoughtSignature');
  });

  it('rejects tool call arguments that are not a JSON object, naming them', () => {
    const error = rejection({
      messages: [
        { role: 'user', content: 'Hi' },
        {
          role: 'assistant',
          tool_calls: [weatherCall, { ...weatherCall, function: { name: 'f', arguments: '{bad' } }],
        },
      ],
    });
    expect(error.code).toBe(ErrorCode.InvalidRequest);
    expect(error.param).toBe('messages[1].tool_calls[1].function.arguments');
  });

  it('maps tool messages to functionResponse parts in one user turn, name looked up by tool_call_id', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { role: 'assistant', content: null, tool_calls: [weatherCall, { ...weatherCall, id: 'call_def' }] },
        { role: 'tool', tool_call_id: 'call_abc', content: '{"temp_c":21}' },
        { role: 'tool', tool_call_id: 'call_def', content: [{ type: 'text', text: 'Sunny, 25°C' }] },
        { role: 'tool', tool_call_id: 'call_def', content: '[1,2]' },
      ],
    });
    expect(body.contents).toHaveLength(3);
    expect(body.contents[2]).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { id: 'call_abc', name: 'get_weather', response: { temp_c: 21 } } },
        { functionResponse: { id: 'call_def', name: 'get_weather', response: { result: 'Sunny, 25°C' } } },
        { functionResponse: { id: 'call_def', name: 'get_weather', response: { result: '[1,2]' } } },
      ],
    });
  });

  it('rejects a tool message whose tool_call_id matches no earlier tool call', () => {
    const error = rejection({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', tool_calls: [weatherCall] },
        { role: 'tool', tool_call_id: 'call_unknown', content: 'x' },
      ],
    });
    expect(error.code).toBe(ErrorCode.InvalidRequest);
    expect(error.param).toBe('messages[2].tool_call_id');
  });
});

describe('gemini request: tools and generation config', () => {
  const tools: ChatCompletionRequest['tools'] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
      },
    },
    { type: 'function', function: { name: 'now' } },
  ];

  it('maps tools to functionDeclarations with parametersJsonSchema', () => {
    const { body } = build({ tools });
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Current weather',
            parametersJsonSchema: {
              type: 'object',
              properties: { location: { type: 'string' } },
              required: ['location'],
            },
          },
          { name: 'now' },
        ],
      },
    ]);
    expect(body).not.toHaveProperty('toolConfig');
  });

  it.each([
    ['auto', { mode: 'AUTO' }],
    ['required', { mode: 'ANY' }],
    ['none', { mode: 'NONE' }],
    [
      { type: 'function', function: { name: 'now' } },
      { mode: 'ANY', allowedFunctionNames: ['now'] },
    ],
  ] as const)('maps tool_choice %j', (choice, expected) => {
    const { body } = build({ tools, tool_choice: choice });
    expect(body.toolConfig).toEqual({ functionCallingConfig: expected });
  });

  it('maps the sampling parameters to generationConfig', () => {
    const { body } = build({
      temperature: 1.5,
      top_p: 0.9,
      max_tokens: 50,
      max_completion_tokens: 100,
      stop: ['END', 'STOP'],
      n: 2,
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      reasoning_effort: 'low',
    });
    expect(body.generationConfig).toEqual({
      temperature: 1.5,
      topP: 0.9,
      maxOutputTokens: 100,
      stopSequences: ['END', 'STOP'],
      candidateCount: 2,
      seed: 42,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
      thinkingConfig: { thinkingLevel: 'LOW' },
    });
  });

  it('falls back to max_tokens and accepts a single stop string; sends no generationConfig when empty', () => {
    expect(build({ max_tokens: 7, stop: 'END' }).body.generationConfig).toEqual({
      maxOutputTokens: 7,
      stopSequences: ['END'],
    });
    expect(build({}).body).not.toHaveProperty('generationConfig');
  });

  it('rejects more than 5 stop sequences', () => {
    const error = rejection({ stop: ['a', 'b', 'c', 'd', 'e', 'f'] });
    expect(error.code).toBe(ErrorCode.InvalidRequest);
    expect(error.param).toBe('stop');
  });

  it('maps response_format to responseMimeType / responseJsonSchema', () => {
    expect(build({ response_format: { type: 'json_object' } }).body.generationConfig).toEqual({
      responseMimeType: 'application/json',
    });
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
    expect(
      build({ response_format: { type: 'json_schema', json_schema: { name: 'r', schema, strict: true } } })
        .body.generationConfig,
    ).toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema });
    expect(build({ response_format: { type: 'text' } }).body).not.toHaveProperty('generationConfig');
  });

  it('rejects a reasoning_effort the deployment does not map', () => {
    const error = rejection({ reasoning_effort: 'xhigh' });
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('reasoning_effort');
    const none = rejection(
      { reasoning_effort: 'low' },
      mapContext('gemini', { deployment: { reasoningEffort: undefined } }),
    );
    expect(none.param).toBe('reasoning_effort');
  });

  it.each([
    [{ logit_bias: { '50256': -100 } }, 'logit_bias'],
    [{ logprobs: true }, 'logprobs'],
    [{ top_logprobs: 3 }, 'top_logprobs'],
    [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
  ] as const)('rejects %j as unsupported', (params, param) => {
    const error = rejection(params);
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe(param);
  });

  it('accepts the harmless forms of those parameters', () => {
    expect(() => build({ logprobs: false, parallel_tool_calls: true, logit_bias: {} })).not.toThrow();
  });
});
