import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import type { StreamPart } from '../types.js';
import { openAiCompatible } from './openai-compatible.js';

const adapter = openAiCompatible({
  id: 'openai',
  multipleChoices: true,
  messageNames: true,
  developerRole: true,
  assistantRefusal: true,
  safetyIdentifier: true,
});
const ctx = mapContext('openai', { config: { baseUrl: 'http://x/v1' } });

async function* bodyOf(text: string, pieceSize = 17): AsyncGenerator<Uint8Array> {
  // Small pieces: frames are split across network reads, as they are in practice.
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += pieceSize) {
    yield bytes.slice(i, i + pieceSize);
  }
}

function sse(...frames: unknown[]): string {
  return frames
    .map((frame) => `data: ${typeof frame === 'string' ? frame : JSON.stringify(frame)}\n\n`)
    .join('');
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of adapter.parseStream(body, ctx)) {
    parts.push(part);
  }
  return parts;
}

const head = {
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1_790_000_000,
  model: 'gpt-6.2-sol',
};
const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ ...head, choices, ...extra });
const delta = (d: Record<string, unknown>, finish: string | null = null, index = 0) => ({
  index,
  delta: d,
  logprobs: null,
  finish_reason: finish,
});

describe('openAiCompatible stream', () => {
  it('maps an OpenAI text stream with the include_usage chunk', async () => {
    const usage = {
      prompt_tokens: 12,
      completion_tokens: 2,
      total_tokens: 14,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    };
    const body = sse(
      chunk([delta({ role: 'assistant', content: '', refusal: null })], { usage: null, obfuscation: 'x1' }),
      chunk([delta({ content: 'Hel' })], { usage: null, obfuscation: 'abc' }),
      chunk([delta({ content: 'lo' })], { usage: null }),
      chunk([delta({}, 'stop')], { usage: null }),
      chunk([], { usage }),
      '[DONE]',
    );
    expect(await collect(bodyOf(body))).toEqual([
      { type: 'text', choice: 0, text: 'Hel' },
      { type: 'text', choice: 0, text: 'lo' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage },
    ]);
  });

  it('announces each streamed tool call once, by ordinal, then its argument fragments', async () => {
    const body = sse(
      chunk([delta({ role: 'assistant', content: null })]),
      chunk([
        delta({
          tool_calls: [
            { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        }),
      ]),
      chunk([delta({ tool_calls: [{ index: 0, function: { arguments: '{"location"' } }] })]),
      chunk([delta({ tool_calls: [{ index: 0, function: { arguments: ':"Paris"}' } }] })]),
      chunk([
        delta({
          tool_calls: [
            { index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        }),
      ]),
      chunk([delta({}, 'tool_calls')]),
      '[DONE]',
    );
    expect(await collect(bodyOf(body))).toEqual([
      { type: 'tool_call', choice: 0, index: 0, id: 'call_a', name: 'get_weather' },
      { type: 'tool_args', choice: 0, index: 0, arguments: '{"location"' },
      { type: 'tool_args', choice: 0, index: 0, arguments: ':"Paris"}' },
      { type: 'tool_call', choice: 0, index: 1, id: 'call_b', name: 'get_time', arguments: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('numbers tool calls by ordinal even when the provider index is not 0-based', async () => {
    const body = sse(
      chunk([
        delta({
          tool_calls: [{ index: 3, id: 'call_q', type: 'function', function: { name: 'f', arguments: '{' } }],
        }),
      ]),
      chunk([delta({ tool_calls: [{ index: 3, function: { arguments: '}' } }] })]),
      chunk([delta({}, 'tool_calls')]),
      '[DONE]',
    );
    expect(await collect(bodyOf(body))).toEqual([
      { type: 'tool_call', choice: 0, index: 0, id: 'call_q', name: 'f', arguments: '{' },
      { type: 'tool_args', choice: 0, index: 0, arguments: '}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('carries the choice of every part when n > 1', async () => {
    const body = sse(
      chunk([delta({ role: 'assistant', content: '' }, null, 0)]),
      chunk([delta({ role: 'assistant', content: '' }, null, 1)]),
      chunk([delta({ content: 'A' }, null, 0)]),
      chunk([delta({ content: 'B' }, null, 1)]),
      chunk([delta({}, 'length', 1)]),
      chunk([delta({}, 'stop', 0)]),
      '[DONE]',
    );
    expect(await collect(bodyOf(body))).toEqual([
      { type: 'text', choice: 0, text: 'A' },
      { type: 'text', choice: 1, text: 'B' },
      { type: 'finish', choice: 1, reason: 'length' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });

  it('streams refusals', async () => {
    const body = sse(chunk([delta({ refusal: "I can't" })]), chunk([delta({}, 'stop')]), '[DONE]');
    expect((await collect(bodyOf(body)))[0]).toEqual({ type: 'refusal', choice: 0, text: "I can't" });
  });

  it('turns a mid-stream error frame into an error part and stops', async () => {
    const body = sse(
      chunk([delta({ content: 'Hel' })]),
      {
        error: {
          message: 'The server had an error while processing your request.',
          type: 'server_error',
          param: null,
          code: null,
        },
      },
      chunk([delta({ content: 'never read' })]),
    );
    const parts = await collect(bodyOf(body));
    expect(parts).toEqual([
      { type: 'text', choice: 0, text: 'Hel' },
      {
        type: 'error',
        failure: {
          kind: 'retryable',
          status: 0,
          message: 'The server had an error while processing your request.',
          type: 'server_error',
          code: null,
          param: null,
        },
      },
    ]);
  });

  it('reads a flat (Cerebras-style) error frame and an invalid_request_error as a client failure', async () => {
    const body = sse({
      message: 'Tool call validation failed',
      type: 'invalid_request_error',
      param: null,
      code: 'tool_use_failed',
    });
    const [part] = await collect(bodyOf(body));
    expect(part).toMatchObject({ type: 'error', failure: { kind: 'client', code: 'tool_use_failed' } });
  });

  it('ends without a finish when the body breaks mid-stream', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode(sse(chunk([delta({ content: 'Hel' })])));
      throw new Error('other side closed');
    }
    expect(await collect(broken())).toEqual([{ type: 'text', choice: 0, text: 'Hel' }]);
  });

  it('ends without a finish when the body stops before [DONE] and the finish', async () => {
    const parts = await collect(bodyOf(sse(chunk([delta({ content: 'Hel' })]))));
    expect(parts.some((part) => part.type === 'finish')).toBe(false);
  });

  it('reports a frame that is not JSON as a broken stream', async () => {
    const parts = await collect(bodyOf('data: {"id":"chatcmpl-1","choi\n\n'));
    expect(parts).toEqual([
      { type: 'error', failure: expect.objectContaining({ kind: 'retryable', status: 0 }) as unknown },
    ]);
  });

  it('skips SSE comments and keep-alives', async () => {
    const body = `: keep-alive\n\n${sse(chunk([delta({ content: 'x' })]), chunk([delta({}, 'stop')]), '[DONE]')}`;
    expect(await collect(bodyOf(body, 5))).toEqual([
      { type: 'text', choice: 0, text: 'x' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });
});
