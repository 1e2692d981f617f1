import { describe, expect, it } from 'vitest';
import { GatewayError } from '../common/errors.js';
import { parseChatRequest, validateChatRequest } from './request-schema.js';

const base = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }] };

function paramOf(body: unknown): string | null {
  try {
    validateChatRequest(body);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return (error as GatewayError).param;
  }
  throw new Error('expected a validation error');
}

describe('chat request validation', () => {
  it('accepts a full, valid request without copying it', () => {
    const body = {
      ...base,
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'result' },
      ],
      temperature: 2,
      top_p: 0,
      n: 1,
      stop: ['a', 'b'],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'out', schema: { type: 'object' }, strict: true },
      },
      stream: true,
      stream_options: { include_usage: true },
      reasoning_effort: 'low',
    };
    expect(validateChatRequest(body)).toBe(body);
  });

  it.each([
    [{ ...base, temperature: 5 }, 'temperature'],
    [{ ...base, temperature: -0.1 }, 'temperature'],
    [{ ...base, top_p: 1.5 }, 'top_p'],
    [{ ...base, n: 0 }, 'n'],
    [{ ...base, max_tokens: 0 }, 'max_tokens'],
    [{ ...base, max_completion_tokens: 1.5 }, 'max_completion_tokens'],
    [{ ...base, presence_penalty: 3 }, 'presence_penalty'],
    [{ ...base, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ ...base, foo: 1 }, 'foo'],
    [{ model: 'm' }, 'messages'],
    [{ messages: base.messages }, 'model'],
    [{ ...base, messages: [] }, 'messages'],
    [{ ...base, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ ...base, messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    [
      { ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] },
      'messages[0].content[0].image_url.url',
    ],
    [{ ...base, response_format: { type: 'json_schema' } }, 'response_format.json_schema'],
    [{ ...base, tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name'],
    [{ ...base, stream: 'yes' }, 'stream'],
  ])('rejects %j naming %s', (body, param) => {
    expect(paramOf(body)).toBe(param);
  });

  it.each([
    [
      {
        ...base,
        messages: [{ role: 'user', content: [{ type: 'video', video: { url: 'https://x/v.mp4' } }] }],
      },
      'messages[0].content[0].type',
      `Invalid value for 'messages[0].content[0].type': "video". Supported values are: 'text', 'image_url', 'input_audio', 'file'.`,
    ],
    [
      { ...base, messages: [{ role: 'user', content: 5 }] },
      'messages[0].content',
      "Invalid type for 'messages[0].content': expected a string or an array, but got a number instead.",
    ],
    [
      { ...base, temperature: 5 },
      'temperature',
      "Invalid 'temperature': above maximum value. Expected a value <= 2, but got 5 instead.",
    ],
    [
      { ...base, messages: [{ role: 'user', content: [{ type: 'text' }] }] },
      'messages[0].content[0].text',
      "Missing required parameter: 'messages[0].content[0].text'.",
    ],
    [
      { ...base, stop: 5 },
      'stop',
      "Invalid type for 'stop': expected a string, an array or null, but got a number instead.",
    ],
  ])('says what is wrong with %j: %s', (body, param, message) => {
    try {
      validateChatRequest(body);
    } catch (error) {
      expect((error as GatewayError).param).toBe(param);
      expect((error as GatewayError).message).toBe(message);
      return;
    }
    throw new Error('expected a validation error');
  });

  it('never echoes a long value whole', () => {
    const long = 'x'.repeat(10_000);
    try {
      validateChatRequest({ ...base, messages: [{ role: 'user', content: [{ type: long }] }] });
    } catch (error) {
      expect((error as GatewayError).message.length).toBeLessThan(200);
      return;
    }
    throw new Error('expected a validation error');
  });

  it('rejects a body that is not an object', () => {
    expect(paramOf([1, 2])).toBeNull();
  });
});

describe('provider and models', () => {
  const parsedParam = (body: unknown) => {
    try {
      parseChatRequest(body);
    } catch (error) {
      return (error as GatewayError).param;
    }
    throw new Error('expected a validation error');
  };

  it('names the field at fault: an unknown provider, a wrong type, an unknown field', () => {
    expect(paramOf({ ...base, provider: { only: ['openrouter'] } })).toBe('provider.only[0]');
    expect(paramOf({ ...base, provider: { order: ['groq', 'azure'] } })).toBe('provider.order[1]');
    expect(paramOf({ ...base, provider: { ignore: 'groq' } })).toBe('provider.ignore');
    expect(paramOf({ ...base, provider: { allow_fallbacks: 'no' } })).toBe('provider.allow_fallbacks');
    expect(paramOf({ ...base, provider: { sort: 'speed' } })).toBe('provider.sort');
    expect(paramOf({ ...base, provider: { require_parameters: 1 } })).toBe('provider.require_parameters');
    expect(paramOf({ ...base, provider: { quantizations: ['fp8'] } })).toBe('provider.quantizations');
    expect(paramOf({ ...base, provider: 'groq' })).toBe('provider');
    expect(paramOf({ ...base, provider: { only: [] } })).toBe('provider.only');
    expect(paramOf({ ...base, models: [] })).toBe('models');
    expect(paramOf({ ...base, models: ['gpt-6-luna', 3] })).toBe('models[1]');
    expect(paramOf({ messages: base.messages })).toBe('model');
  });

  it('splits them off the request the providers get, and reads them', () => {
    const body = {
      ...base,
      models: ['gpt-6-luna', 'gpt-oss-120b'],
      provider: {
        order: ['groq'],
        only: ['groq', 'openai'],
        allow_fallbacks: false,
        sort: 'latency',
        require_parameters: true,
      },
    };
    const { request, preferences } = parseChatRequest(body);
    expect(request).not.toHaveProperty('provider');
    expect(request).not.toHaveProperty('models');
    expect(request.messages).toBe(body.messages); // no copy of the messages
    expect(preferences).toEqual({
      order: ['groq'],
      only: ['groq', 'openai'],
      ignore: null,
      allowFallbacks: false,
      sort: 'latency',
      requireParameters: true,
      models: ['gpt-6-luna', 'gpt-oss-120b'],
    });
  });

  it('takes the primary model from models when model is left out; refuses a conflict and a repeat', () => {
    expect(parseChatRequest({ messages: base.messages, models: ['gpt-oss-120b'] }).request.model).toBe(
      'gpt-oss-120b',
    );
    expect(parsedParam({ ...base, models: ['gpt-oss-120b'] })).toBe('models[0]');
    expect(parsedParam({ ...base, models: ['gpt-6-luna', 'gpt-oss-120b', 'gpt-6-luna'] })).toBe('models[2]');
    expect(parsedParam({ ...base, provider: { ignore: ['groq', 'groq'] } })).toBe('provider.ignore[1]');
  });

  it('returns the very body when neither is sent', () => {
    const body = { ...base };
    expect(parseChatRequest(body).request).toBe(body);
  });
});
