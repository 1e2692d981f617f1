import { describe, expect, it } from 'vitest';
import { bodyOf, collect, mapContext } from '../../../test/support/adapters.js';
import { geminiAdapter } from './gemini.adapter.js';

/** Recorded-style `streamGenerateContent?alt=sse` frames: `data: <json>` + CRLF CRLF, no event, no terminator. */
function frame(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\r\n\r\n`;
}

const textFrames = [
  frame({
    candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }],
    usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
    modelVersion: 'gemini-3.8-flash',
    responseId: 'r1',
  }),
  frame({
    candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: {
      promptTokenCount: 9,
      candidatesTokenCount: 2,
      thoughtsTokenCount: 3,
      totalTokenCount: 14,
    },
    modelVersion: 'gemini-3.8-flash',
    responseId: 'r1',
  }),
];

const overloaded = `{
  "error": {
    "code": 503,
    "message": "The model is overloaded. Please try again later.",
    "status": "UNAVAILABLE"
  }
}
`;

function parse(...pieces: string[]) {
  return collect(
    geminiAdapter.parseStream(bodyOf(...pieces), mapContext('gemini', { model: 'gemini-4-argon' })),
  );
}

describe('gemini stream', () => {
  it('yields text, cumulative usage (last wins) and the finish after the last usage', async () => {
    const parts = await parse(...textFrames);
    expect(parts).toEqual([
      { type: 'text', choice: 0, text: 'Hel' },
      {
        type: 'usage',
        usage: {
          prompt_tokens: 9,
          completion_tokens: 0,
          total_tokens: 9,
          prompt_tokens_details: { cached_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0 },
        },
      },
      { type: 'text', choice: 0, text: 'lo' },
      {
        type: 'usage',
        usage: {
          prompt_tokens: 9,
          completion_tokens: 5,
          total_tokens: 14,
          prompt_tokens_details: { cached_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 3 },
        },
      },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });

  it('parses frames split at arbitrary byte boundaries and LF-only framing', async () => {
    const joined = textFrames.join('');
    const split = await parse(joined.slice(0, 7), joined.slice(7, 101), joined.slice(101));
    expect(split.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text)).toEqual([
      'Hel',
      'lo',
    ]);
    const lf = await parse(joined.replaceAll('\r\n', '\n'));
    expect(lf.at(-1)).toEqual({ type: 'finish', choice: 0, reason: 'stop' });
  });

  it('skips thought parts', async () => {
    const parts = await parse(
      frame({
        candidates: [
          {
            content: {
              role: 'model',
              parts: [{ text: 'Thinking about it', thought: true }, { text: 'Answer' }],
            },
            finishReason: 'STOP',
            index: 0,
          },
        ],
      }),
    );
    expect(parts).toEqual([
      { type: 'text', choice: 0, text: 'Answer' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });

  it('emits each whole functionCall as one tool_call with its ordinal, signature state, and tool_calls finish', async () => {
    const parts = await parse(
      frame({
        candidates: [
          {
            content: {
              role: 'model',
              parts: [
                {
                  functionCall: { id: 'fc1', name: 'get_weather', args: { location: 'Paris' } },
                  thoughtSignature: 'c2ln',
                },
              ],
            },
            index: 0,
          },
        ],
      }),
      frame({
        candidates: [
          {
            content: { role: 'model', parts: [{ functionCall: { name: 'get_time', args: {} } }] },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 10, totalTokenCount: 30 },
      }),
    );
    expect(parts[0]).toEqual({
      type: 'tool_call',
      choice: 0,
      index: 0,
      id: 'fc1',
      name: 'get_weather',
      arguments: '{"location":"Paris"}',
      state: { provider: 'gemini', providerModel: 'gemini-4-argon', thoughtSignature: 'c2ln' },
    });
    expect(parts[1]).toMatchObject({
      type: 'tool_call',
      choice: 0,
      index: 1,
      name: 'get_time',
      arguments: '{}',
    });
    expect((parts[1] as { id: string }).id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(parts[1]).not.toHaveProperty('state');
    expect(parts.some((p) => p.type === 'tool_args')).toBe(false);
    expect(parts.slice(2)).toEqual([
      expect.objectContaining({ type: 'usage' }),
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('keeps candidates apart (n > 1) and maps MAX_TOKENS to length', async () => {
    const parts = await parse(
      frame({
        candidates: [
          { content: { role: 'model', parts: [{ text: 'A' }] }, index: 0 },
          { content: { role: 'model', parts: [{ text: 'B' }] }, index: 1 },
        ],
      }),
      frame({
        candidates: [
          { content: { role: 'model', parts: [{ text: 'a' }] }, finishReason: 'STOP', index: 0 },
          { content: { role: 'model', parts: [{ text: 'b' }] }, finishReason: 'MAX_TOKENS', index: 1 },
        ],
      }),
    );
    expect(parts).toEqual([
      { type: 'text', choice: 0, text: 'A' },
      { type: 'text', choice: 1, text: 'B' },
      { type: 'text', choice: 0, text: 'a' },
      { type: 'text', choice: 1, text: 'b' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'finish', choice: 1, reason: 'length' },
    ]);
  });

  it('finishes with content_filter when the prompt is blocked', async () => {
    const parts = await parse(
      frame({
        promptFeedback: { blockReason: 'SAFETY' },
        usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 },
      }),
    );
    expect(parts.at(-1)).toEqual({ type: 'finish', choice: 0, reason: 'content_filter' });
  });

  it('turns the JSON error body written after the last frame into an error part (no finish)', async () => {
    const parts = await parse(textFrames[0], overloaded);
    expect(parts[0]).toEqual({ type: 'text', choice: 0, text: 'Hel' });
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
    expect(parts.at(-1)).toEqual({
      type: 'error',
      failure: {
        kind: 'retryable',
        status: 503,
        message: 'The model is overloaded. Please try again later.',
        type: 'UNAVAILABLE',
        code: null,
        param: null,
      },
    });
  });

  it('maps a trailer error with a client status as a client failure', async () => {
    const body = JSON.stringify(
      { error: { code: 400, message: 'Request contains an invalid argument.', status: 'INVALID_ARGUMENT' } },
      null,
      2,
    );
    const parts = await parse(textFrames[0], body);
    expect(parts.at(-1)).toMatchObject({ type: 'error', failure: { kind: 'client', status: 400 } });
  });

  it('just ends on a cut stream: no finish, no error', async () => {
    const parts = await parse(textFrames[0]);
    expect(parts.map((p) => p.type)).toEqual(['text', 'usage']);
  });

  it('ignores trailing junk when the stream had finished', async () => {
    const parts = await parse(...textFrames, overloaded);
    expect(parts.at(-1)).toEqual({ type: 'finish', choice: 0, reason: 'stop' });
    expect(parts.some((p) => p.type === 'error')).toBe(false);
  });

  it('maps an error sent as a data frame and stops there', async () => {
    const parts = await parse(
      textFrames[0],
      frame({ error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } }),
      textFrames[1],
    );
    expect(parts.at(-1)).toMatchObject({
      type: 'error',
      failure: { kind: 'retryable', status: 500, type: 'INTERNAL' },
    });
    expect(parts.filter((p) => p.type === 'text')).toHaveLength(1);
  });

  it('reports a frame that is not JSON as a broken stream', async () => {
    const parts = await parse('data: {"candidates":[\r\n\r\n');
    expect(parts).toEqual([
      { type: 'error', failure: expect.objectContaining({ kind: 'retryable', status: 0 }) },
    ]);
  });
});
