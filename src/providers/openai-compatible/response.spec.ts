import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../common/errors.js';
import { mapUsage, parseChatResponse } from './response.js';

describe('openAiCompatible response mapping', () => {
  it('maps an OpenAI chat.completion with cached and reasoning tokens', () => {
    const body = {
      id: 'chatcmpl-CXa1',
      object: 'chat.completion',
      created: 1_790_000_000,
      model: 'gpt-6.2-sol-2026-11-17',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello there.', refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 340,
        total_tokens: 1540,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 256,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_8a1',
    };
    expect(parseChatResponse(body)).toEqual({
      choices: [{ index: 0, content: 'Hello there.', refusal: null, toolCalls: [], finishReason: 'stop' }],
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 340,
        total_tokens: 1540,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0 },
      },
      toolState: [],
    });
  });

  it('maps tool calls, refusals and several choices in index order', () => {
    const body = {
      id: 'chatcmpl-2',
      object: 'chat.completion',
      choices: [
        {
          index: 1,
          message: { role: 'assistant', content: null, refusal: "I can't help with that." },
          finish_reason: 'content_filter',
        },
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
              },
              { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
    };
    const result = parseChatResponse(body);
    expect(result.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(result.choices[0].toolCalls).toEqual([
      {
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
      },
      { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
    expect(result.choices[0].finishReason).toBe('tool_calls');
    expect(result.choices[1]).toMatchObject({
      content: null,
      refusal: "I can't help with that.",
      finishReason: 'content_filter',
    });
    expect(result.usage).toBeUndefined();
  });

  it('keeps Cerebras and Groq extras out (time_info, reasoning, x_groq, queue_time)', () => {
    const cerebras = {
      id: 'chatcmpl-9b2',
      object: 'chat.completion',
      created: 1_790_000_100,
      model: 'gpt-oss-120b',
      system_fingerprint: 'fp_70185065a4',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Paris.',
            reasoning: 'The user asks for the capital of France.',
          },
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 80,
        completion_tokens: 22,
        total_tokens: 102,
        prompt_tokens_details: { cached_tokens: 0 },
      },
      time_info: {
        queue_time: 0.0001,
        prompt_time: 0.002,
        completion_time: 0.01,
        total_time: 0.013,
        created: 1_790_000_100,
      },
    };
    const mapped = parseChatResponse(cerebras);
    expect(mapped.choices[0]).toEqual({
      index: 0,
      content: 'Paris.',
      refusal: null,
      toolCalls: [],
      finishReason: 'stop',
    });
    expect(mapped.usage).toEqual({
      prompt_tokens: 80,
      completion_tokens: 22,
      total_tokens: 102,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    expect(JSON.stringify(mapped)).not.toMatch(/time_info|reasoning"|capital/);

    expect(
      mapUsage({
        queue_time: 0.03,
        prompt_tokens: 10,
        prompt_time: 0.001,
        completion_tokens: 5,
        total_tokens: 15,
      }),
    ).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
  });

  it('derives a missing total and a missing finish reason', () => {
    expect(mapUsage({ prompt_tokens: 7, completion_tokens: 3 })).toEqual({
      prompt_tokens: 7,
      completion_tokens: 3,
      total_tokens: 10,
    });
    const noReason = parseChatResponse({
      choices: [
        {
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'f', arguments: { a: 1 } } }],
          },
          finish_reason: null,
        },
      ],
    });
    expect(noReason.choices[0].finishReason).toBe('tool_calls');
    expect(noReason.choices[0].toolCalls[0].function.arguments).toBe('{"a":1}');
  });

  it('refuses a body without choices', () => {
    expect(() => parseChatResponse({ object: 'chat.completion' })).toThrow(GatewayError);
    expect(() => parseChatResponse('oops')).toThrow(GatewayError);
  });
});
