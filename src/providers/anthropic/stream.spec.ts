import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import type { StreamPart } from '../types.js';
import { anthropicAdapter } from './anthropic.adapter.js';

const ctx = mapContext('anthropic');

function sse(events: Array<[string, Record<string, unknown>]>): string {
  return events
    .map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`)
    .join('');
}

/** Feeds the text in small uneven slices, as a network would. */
async function* body(text: string, sliceSize = 7): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += sliceSize) {
    yield bytes.slice(i, i + sliceSize);
  }
}

async function parts(text: string): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of anthropicAdapter.parseStream(body(text), ctx)) {
    out.push(part);
  }
  return out;
}

const messageStart: [string, Record<string, unknown>] = [
  'message_start',
  {
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [],
      model: 'claude-sonnet-5-5',
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 25,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 10,
        output_tokens: 1,
      },
    },
  },
];

describe('anthropic parseStream', () => {
  it('turns a text stream with pings into text, usage (overwritten, never added) and finish', async () => {
    const result = await parts(
      sse([
        messageStart,
        ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
        ['ping', {}],
        ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }],
        ['ping', {}],
        ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: ' there' } }],
        ['content_block_stop', { index: 0 }],
        [
          'message_delta',
          {
            delta: { stop_reason: 'end_turn', stop_sequence: null },
            usage: { input_tokens: 25, cache_read_input_tokens: 10, output_tokens: 15 },
          },
        ],
        ['message_stop', {}],
      ]),
    );
    expect(result).toEqual([
      {
        type: 'usage',
        usage: {
          prompt_tokens: 35,
          completion_tokens: 1,
          total_tokens: 36,
          prompt_tokens_details: { cached_tokens: 10 },
        },
      },
      { type: 'text', text: 'Hello' },
      { type: 'text', text: ' there' },
      {
        type: 'usage',
        usage: {
          prompt_tokens: 35,
          completion_tokens: 15,
          total_tokens: 50,
          prompt_tokens_details: { cached_tokens: 10 },
        },
      },
      { type: 'finish', reason: 'stop' },
    ]);
  });

  it('keeps message_start input counts when message_delta reports only output_tokens', async () => {
    const result = await parts(
      sse([
        messageStart,
        ['message_delta', { delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 42 } }],
        ['message_stop', {}],
      ]),
    );
    expect(result.at(-2)).toEqual({
      type: 'usage',
      usage: {
        prompt_tokens: 35,
        completion_tokens: 42,
        total_tokens: 77,
        prompt_tokens_details: { cached_tokens: 10 },
      },
    });
    expect(result.at(-1)).toEqual({ type: 'finish', reason: 'length' });
  });

  it('streams tool calls by ordinal, skips empty partial_json, and attaches rebuilt thinking state', async () => {
    const result = await parts(
      sse([
        messageStart,
        [
          'content_block_start',
          { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
        ],
        ['content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Weather ' } }],
        ['content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'needed.' } }],
        ['content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }],
        ['content_block_stop', { index: 0 }],
        ['content_block_start', { index: 1, content_block: { type: 'redacted_thinking', data: 'EmwKAhgB' } }],
        ['content_block_stop', { index: 1 }],
        ['content_block_start', { index: 2, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { index: 2, delta: { type: 'text_delta', text: 'Checking.' } }],
        ['content_block_stop', { index: 2 }],
        [
          'content_block_start',
          { index: 3, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
        ],
        ['ping', {}],
        ['content_block_delta', { index: 3, delta: { type: 'input_json_delta', partial_json: '' } }],
        [
          'content_block_delta',
          { index: 3, delta: { type: 'input_json_delta', partial_json: '{"city": "Pa' } },
        ],
        ['content_block_delta', { index: 3, delta: { type: 'input_json_delta', partial_json: 'ris"}' } }],
        ['content_block_stop', { index: 3 }],
        [
          'content_block_start',
          { index: 4, content_block: { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} } },
        ],
        ['content_block_stop', { index: 4 }],
        ['message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 90 } }],
        ['message_stop', {}],
      ]),
    );
    const state = {
      provider: 'anthropic',
      providerModel: 'claude-sonnet-5-5',
      thinkingBlocks: [
        { type: 'thinking', thinking: 'Weather needed.', signature: 'EqQBCgIYAhIM' },
        { type: 'redacted_thinking', data: 'EmwKAhgB' },
      ],
    };
    expect(result.filter((p) => p.type !== 'usage')).toEqual([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_call', index: 0, id: 'toolu_1', name: 'get_weather', state },
      { type: 'tool_args', index: 0, arguments: '{"city": "Pa' },
      { type: 'tool_args', index: 0, arguments: 'ris"}' },
      { type: 'tool_call', index: 1, id: 'toolu_2', name: 'now', state },
      { type: 'tool_args', index: 1, arguments: '{}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });

  it('yields no state for a tool call without preceding thinking', async () => {
    const result = await parts(
      sse([
        messageStart,
        [
          'content_block_start',
          { index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } },
        ],
        ['content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } }],
        ['content_block_stop', { index: 0 }],
        ['message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } }],
        ['message_stop', {}],
      ]),
    );
    expect(result.find((p) => p.type === 'tool_call')).toEqual({
      type: 'tool_call',
      index: 0,
      id: 'toolu_1',
      name: 'f',
    });
  });

  it('turns a mid-stream overloaded_error into a retryable error part and stops', async () => {
    const result = await parts(
      sse([
        messageStart,
        ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hel' } }],
        ['error', { error: { type: 'overloaded_error', message: 'Overloaded' } }],
        ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'never' } }],
      ]),
    );
    expect(result.slice(1)).toEqual([
      { type: 'text', text: 'Hel' },
      {
        type: 'error',
        failure: {
          kind: 'retryable',
          status: 529,
          message: 'Overloaded',
          type: 'overloaded_error',
          code: null,
          param: null,
        },
      },
    ]);
  });

  it('maps a mid-stream invalid_request_error to a client failure', async () => {
    const result = await parts(
      sse([messageStart, ['error', { error: { type: 'invalid_request_error', message: 'bad' } }]]),
    );
    expect(result.at(-1)).toMatchObject({ type: 'error', failure: { kind: 'client', status: 400 } });
  });

  it('ends without finish when the stream is cut', async () => {
    const result = await parts(
      sse([
        messageStart,
        ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hel' } }],
      ]) + 'event: content_block_delta\ndata: {"type":"content_bl',
    );
    expect(result.map((p) => p.type)).toEqual(['usage', 'text']);
  });

  it('ignores citations and unknown events', async () => {
    const result = await parts(
      sse([
        messageStart,
        ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
        [
          'content_block_delta',
          { index: 0, delta: { type: 'citations_delta', citation: { type: 'char_location' } } },
        ],
        ['some_future_event', { foo: 1 }],
        ['content_block_stop', { index: 0 }],
        ['message_delta', { delta: { stop_reason: 'refusal' }, usage: { output_tokens: 2 } }],
        ['message_stop', {}],
      ]),
    );
    expect(result.map((p) => p.type)).toEqual(['usage', 'usage', 'finish']);
    expect(result.at(-1)).toEqual({ type: 'finish', reason: 'content_filter' });
  });
});
