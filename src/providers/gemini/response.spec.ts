import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import { subscribeProviderSignals } from '../signals.js';
import { mapFinishReason } from './finish-reasons.js';
import { geminiAdapter } from './gemini.adapter.js';

/** Recorded-style generateContent answers (https://ai.google.dev/api/generate-content#generatecontentresponse). */
const textAnswer = {
  candidates: [
    {
      content: {
        parts: [
          { text: 'The user greets me; answer warmly.', thought: true },
          { text: 'Hello! ' },
          { text: 'How can I help?', thoughtSignature: 'dGV4dC1zaWc=' },
        ],
        role: 'model',
      },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  usageMetadata: {
    promptTokenCount: 12,
    candidatesTokenCount: 7,
    thoughtsTokenCount: 30,
    cachedContentTokenCount: 4,
    totalTokenCount: 49,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: 12 }],
  },
  modelVersion: 'gemini-3.8-flash',
  responseId: 'mT9xaPLcOdqsz7IPq9bCgQ4',
};

const parallelCalls = {
  candidates: [
    {
      content: {
        parts: [
          {
            functionCall: { name: 'get_weather', args: { location: 'Paris' } },
            thoughtSignature: 'c2lnLXBhcmlz',
          },
          { functionCall: { id: 'fc_rome', name: 'get_weather', args: { location: 'Rome' } } },
        ],
        role: 'model',
      },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  usageMetadata: {
    promptTokenCount: 40,
    candidatesTokenCount: 20,
    toolUsePromptTokenCount: 5,
    totalTokenCount: 65,
  },
  modelVersion: 'gemini-4-argon',
};

describe('gemini response', () => {
  it('joins the non-thought text and maps usage (thinking billed as output)', () => {
    const result = geminiAdapter.parseChatResponse(textAnswer, mapContext('gemini'));
    expect(result.choices).toEqual([
      { index: 0, content: 'Hello! How can I help?', refusal: null, toolCalls: [], finishReason: 'stop' },
    ]);
    expect(result.usage).toEqual({
      prompt_tokens: 12,
      completion_tokens: 37,
      total_tokens: 49,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 30 },
    });
    expect(result.toolState).toEqual([]);
  });

  it('maps functionCall parts to tool calls (STOP → tool_calls) and saves the signature of the first', () => {
    const ctx = mapContext('gemini', { model: 'gemini-4-argon' });
    const result = geminiAdapter.parseChatResponse(parallelCalls, ctx);
    const [choice] = result.choices;
    expect(choice.finishReason).toBe('tool_calls');
    expect(choice.content).toBeNull();
    expect(choice.toolCalls).toHaveLength(2);
    expect(choice.toolCalls[0].id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(choice.toolCalls[0]).toMatchObject({
      type: 'function',
      function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
    });
    expect(choice.toolCalls[1]).toEqual({
      id: 'fc_rome',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"location":"Rome"}' },
    });
    expect(result.toolState).toEqual([
      [
        choice.toolCalls[0].id,
        { provider: 'gemini', providerModel: 'gemini-4-argon', thoughtSignature: 'c2lnLXBhcmlz' },
      ],
    ]);
    expect(result.usage).toMatchObject({ prompt_tokens: 45, completion_tokens: 20, total_tokens: 65 });
  });

  it('generates a fresh id for every call without one', () => {
    const idOf = () =>
      geminiAdapter.parseChatResponse(parallelCalls, mapContext('gemini')).choices[0].toolCalls[0].id;
    const one = idOf();
    const two = idOf();
    expect(one).not.toBe(two);
  });

  it('maps several candidates (n) by their index', () => {
    const body = {
      candidates: [
        { content: { parts: [{ text: 'B' }], role: 'model' }, finishReason: 'MAX_TOKENS', index: 1 },
        { content: { parts: [{ text: 'A' }], role: 'model' }, finishReason: 'STOP', index: 0 },
      ],
    };
    const result = geminiAdapter.parseChatResponse(body, mapContext('gemini'));
    expect(result.choices.map((c) => [c.index, c.content, c.finishReason])).toEqual([
      [0, 'A', 'stop'],
      [1, 'B', 'length'],
    ]);
    expect(result.usage).toBeUndefined();
  });

  it('answers a blocked prompt (no candidates) with null content and content_filter', () => {
    const body = {
      promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
      usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
      modelVersion: 'gemini-3.8-flash',
    };
    const result = geminiAdapter.parseChatResponse(body, mapContext('gemini'));
    expect(result.choices).toEqual([
      { index: 0, content: null, refusal: null, toolCalls: [], finishReason: 'content_filter' },
    ]);
    expect(result.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 });
  });

  it('maps a safety stop with partial text to content_filter', () => {
    const body = {
      candidates: [
        { content: { parts: [{ text: 'Partial' }], role: 'model' }, finishReason: 'SAFETY', index: 0 },
      ],
    };
    expect(geminiAdapter.parseChatResponse(body, mapContext('gemini')).choices[0]).toMatchObject({
      content: 'Partial',
      finishReason: 'content_filter',
    });
  });
});

describe('gemini finish reasons', () => {
  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['CONTINUATION', 'length'],
    ['SAFETY', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['BLOCKLIST', 'content_filter'],
    ['SPII', 'content_filter'],
    ['LANGUAGE', 'content_filter'],
    ['IMAGE_SAFETY', 'content_filter'],
    ['RECITATION', 'stop'],
    ['OTHER', 'stop'],
    ['FINISH_REASON_UNSPECIFIED', 'stop'],
    ['MALFORMED_FUNCTION_CALL', 'stop'],
    ['UNEXPECTED_TOOL_CALL', 'stop'],
    ['TOO_MANY_TOOL_CALLS', 'stop'],
  ])('%s → %s', (native, expected) => {
    expect(mapFinishReason(native, false)).toBe(expected);
  });

  it('turns STOP into tool_calls only when the candidate has calls', () => {
    expect(mapFinishReason('STOP', true)).toBe('tool_calls');
    expect(mapFinishReason('MAX_TOKENS', true)).toBe('length');
  });

  it('reports an unknown value instead of hiding it behind stop', () => {
    const reported: Array<[string, string]> = [];
    const unsubscribe = subscribeProviderSignals({
      unknownFinishReason: (provider, reason) => reported.push([provider, reason]),
    });
    try {
      expect(mapFinishReason('BRAND_NEW_REASON', false)).toBe('stop');
      expect(mapFinishReason('BRAND_NEW_REASON', true)).toBe('tool_calls');
      mapFinishReason('STOP', false);
    } finally {
      unsubscribe();
    }
    expect(reported).toEqual([
      ['gemini', 'BRAND_NEW_REASON'],
      ['gemini', 'BRAND_NEW_REASON'],
    ]);
    mapFinishReason('ANOTHER_NEW_REASON', false);
    expect(reported).toHaveLength(2);
  });
});
