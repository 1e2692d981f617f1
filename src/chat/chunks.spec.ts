import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, Usage } from '../providers/openai-types.js';
import type { StreamPart } from '../providers/types.js';
import { ChunkBuilder } from './chunks.js';

const USAGE: Usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };

function build(
  parts: StreamPart[],
  includeUsage = false,
): { builder: ChunkBuilder; chunks: ChatCompletionChunk[] } {
  const builder = new ChunkBuilder('chatcmpl-1', 'gpt-6-luna', includeUsage);
  return { builder, chunks: parts.flatMap((part) => builder.push(part)) };
}

const deltas = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0].delta);

describe('ChunkBuilder', () => {
  it('puts the role on the first delta of each choice only', () => {
    const { chunks } = build([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'text', choice: 1, text: 'Hi' },
      { type: 'finish', choice: 1, reason: 'stop' },
      { type: 'finish', reason: 'length' },
    ]);
    expect(chunks.map((c) => [c.choices[0].index, c.choices[0].delta, c.choices[0].finish_reason])).toEqual([
      [0, { role: 'assistant', content: 'Hel' }, null],
      [0, { content: 'lo' }, null],
      [1, { role: 'assistant', content: 'Hi' }, null],
      [1, {}, 'stop'],
      [0, {}, 'length'],
    ]);
  });

  it('starts a choice whose first part is a tool call or a finish with the role too', () => {
    expect(deltas(build([{ type: 'finish', reason: 'stop' }]).chunks)).toEqual([{ role: 'assistant' }]);
    expect(deltas(build([{ type: 'refusal', text: 'No.' }]).chunks)).toEqual([
      { role: 'assistant', refusal: 'No.' },
    ]);
    const [call] = deltas(build([{ type: 'tool_call', index: 0, id: 'call_1', name: 'f' }]).chunks);
    expect(call).toEqual({
      role: 'assistant',
      tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }],
    });
  });

  it('gives every chunk, the usage chunk included, the same id, created and model', () => {
    const { builder, chunks } = build(
      [
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
        { type: 'finish', reason: 'stop' },
      ],
      true,
    );
    const all = [...chunks, builder.usageChunk(USAGE)];
    expect(new Set(all.map((c) => `${c.id} ${c.created} ${c.model} ${c.object}`))).toEqual(
      new Set([`chatcmpl-1 ${builder.created} gpt-6-luna chat.completion.chunk`]),
    );
    expect(Number.isInteger(builder.created)).toBe(true);
  });

  it('indexes tool calls by their ordinal: each call’s arguments follow under its own index', () => {
    const { chunks } = build([
      { type: 'tool_call', index: 0, id: 'call_a', name: 'get_weather', arguments: '{"loc' },
      { type: 'tool_args', index: 0, arguments: 'ation":"Paris"}' },
      { type: 'tool_call', index: 1, id: 'call_b', name: 'get_time' },
      { type: 'tool_args', index: 1, arguments: '{}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
    expect(deltas(chunks).map((d) => d.tool_calls)).toEqual([
      [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"loc' } }],
      [{ index: 0, function: { arguments: 'ation":"Paris"}' } }],
      [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } }],
      [{ index: 1, function: { arguments: '{}' } }],
      undefined,
    ]);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
  });

  it('sets usage: null on every chunk only when the client asked for a usage chunk', () => {
    const parts: StreamPart[] = [
      { type: 'text', text: 'a' },
      { type: 'finish', reason: 'stop' },
    ];
    const asked = build(parts, true);
    expect(asked.chunks.every((c) => c.usage === null)).toBe(true);
    expect(asked.builder.usageChunk(USAGE)).toMatchObject({ choices: [], usage: USAGE });
    expect(build(parts, false).chunks.every((c) => !('usage' in c))).toBe(true);
  });

  it('keeps usage for the end and writes nothing for usage or error parts', () => {
    const { builder, chunks } = build([
      { type: 'usage', usage: USAGE },
      { type: 'error', failure: { kind: 'retryable', status: 0, message: 'broken' } },
    ]);
    expect(chunks).toEqual([]);
    expect(builder.usage).toEqual(USAGE);
    expect(builder.contentChunks).toBe(0);
  });

  it('is complete once every choice that started has finished, and not before', () => {
    const { builder } = build([]);
    expect(builder.complete).toBe(false);
    builder.push({ type: 'text', text: 'a' });
    builder.push({ type: 'text', choice: 1, text: 'b' });
    expect(builder.complete).toBe(false);
    builder.push({ type: 'finish', choice: 1, reason: 'stop' });
    expect(builder.complete).toBe(false);
    builder.push({ type: 'finish', reason: 'stop' });
    expect(builder.complete).toBe(true);
  });

  it('counts what was delivered: text, refusals, tool names and arguments', () => {
    const { builder } = build([
      { type: 'text', text: 'Hi ' },
      { type: 'refusal', text: 'no' },
      { type: 'tool_call', index: 0, id: 'c', name: 'f', arguments: '{"a"' },
      { type: 'tool_args', index: 0, arguments: ':1}' },
    ]);
    expect(builder.deliveredText).toBe('Hi nof{"a":1}');
    expect(builder.contentChunks).toBe(4);
  });
});
