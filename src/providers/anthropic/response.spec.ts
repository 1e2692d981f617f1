import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import { anthropicAdapter } from './anthropic.adapter.js';

const ctx = mapContext('anthropic', { model: 'claude-opus-5-5' });

describe('anthropic parseChatResponse', () => {
  it('maps a text answer with cache usage', () => {
    const body = {
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      type: 'message',
      role: 'assistant',
      model: 'claude-opus-5-5',
      content: [
        { type: 'text', text: 'Hello' },
        { type: 'text', text: ' world' },
      ],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 12,
        cache_creation_input_tokens: 100,
        cache_read_input_tokens: 2048,
        output_tokens: 6,
        service_tier: 'standard',
      },
    };
    const result = anthropicAdapter.parseChatResponse(body, ctx);
    expect(result.choices).toEqual([
      { index: 0, content: 'Hello world', refusal: null, toolCalls: [], finishReason: 'stop' },
    ]);
    expect(result.usage).toEqual({
      prompt_tokens: 2160,
      completion_tokens: 6,
      total_tokens: 2166,
      prompt_tokens_details: { cached_tokens: 2048 },
    });
    expect(result.toolState).toEqual([]);
  });

  it('maps tool_use to tool_calls, content null without text, and saves preceding thinking blocks', () => {
    const thinking = { type: 'thinking', thinking: 'The user wants weather.', signature: 'EqQBCgIYAhIM' };
    const redacted = { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3p' };
    const body = {
      id: 'msg_2',
      type: 'message',
      role: 'assistant',
      model: 'claude-opus-5-5',
      content: [
        thinking,
        redacted,
        { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { location: 'Paris', unit: 'c' } },
        { type: 'tool_use', id: 'toolu_01B', name: 'get_time', input: {} },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 50, output_tokens: 80, output_tokens_details: { thinking_tokens: 30 } },
    };
    const result = anthropicAdapter.parseChatResponse(body, ctx);
    const choice = result.choices[0];
    expect(choice.content).toBeNull();
    expect(choice.finishReason).toBe('tool_calls');
    expect(choice.toolCalls).toEqual([
      {
        id: 'toolu_01A',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"location":"Paris","unit":"c"}' },
      },
      { id: 'toolu_01B', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
    const state = {
      provider: 'anthropic',
      providerModel: 'claude-opus-5-5',
      thinkingBlocks: [thinking, redacted],
    };
    expect(result.toolState).toEqual([
      ['toolu_01A', state],
      ['toolu_01B', state],
    ]);
    expect(result.usage).toEqual({
      prompt_tokens: 50,
      completion_tokens: 80,
      total_tokens: 130,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 30 },
    });
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['pause_turn', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
  ])('maps stop_reason %s to %s', (stopReason, finish) => {
    const body = {
      id: 'm',
      type: 'message',
      role: 'assistant',
      model: 'x',
      content: [{ type: 'text', text: 'x' }],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    expect(anthropicAdapter.parseChatResponse(body, ctx).choices[0].finishReason).toBe(finish);
  });

  it('throws on a body that is not a message', () => {
    expect(() => anthropicAdapter.parseChatResponse({ type: 'error' }, ctx)).toThrow(/not a message/);
  });
});
