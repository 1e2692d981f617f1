import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { call, chatCount, rawChat, useGateway, WEATHER_TOOL } from './support.js';

/**
 * `cf_test_` keys: authenticated, rate-limited and validated exactly like live keys, then answered by the
 * deterministic mock — streaming and tool calls included — without any provider call and without cost.
 */
describe('test keys', () => {
  const g = useGateway();
  const hi = [{ role: 'user' as const, content: 'hi' }];

  it('answer deterministically (the same answer twice), never reach a provider, cost nothing', async () => {
    const first = await g.test.chat.completions
      .create({ model: 'gemini-3.8-flash', messages: hi })
      .withResponse();
    const second = await g.test.chat.completions.create({ model: 'gemini-3.8-flash', messages: hi });
    expect(first.data.choices[0].message.content).toMatch(/test response from gemini-3\.8-flash/);
    expect(second.choices[0].message.content).toBe(first.data.choices[0].message.content);
    expect(first.data.choices[0].finish_reason).toBe('stop');
    expect(first.data.model).toBe('gemini-3.8-flash');
    expect(first.response.headers.get('x-conflux-model')).toBe('gemini-3.8-flash');
    expect(first.response.headers.get('x-conflux-provider')).toBe('gemini');
    expect(first.response.headers.get('x-request-id')).toMatch(/\S/);
    expect(Number(first.response.headers.get('x-conflux-cost-credits'))).toBe(0);
    expect(first.data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(first.data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('stream the same answer, in several chunks, ending with [DONE]', async () => {
    const whole = await g.test.chat.completions.create({ model: 'claude-haiku-5-5', messages: hi });
    const stream = g.test.chat.completions.stream({ model: 'claude-haiku-5-5', messages: hi });
    const chunks: ChatCompletionChunk[] = [];
    stream.on('chunk', (chunk) => chunks.push(chunk));
    const final = await stream.finalChatCompletion();
    expect(final.choices[0].message.content).toBe(whole.choices[0].message.content);
    expect(chunks.length).toBeGreaterThan(3);

    const raw = await rawChat(g.t, g.testKey, {
      model: 'claude-haiku-5-5',
      messages: hi,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(raw.status).toBe(200);
    expect(raw.data.at(-1)).toBe('[DONE]');
    const usageChunk = JSON.parse(raw.data.at(-2)!);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.cost_credits).toBe('0');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('call a tool when tools are given (non-streaming and streaming), then answer the tool result', async () => {
    const res = await g.test.chat.completions.create({
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL],
    });
    const choice = res.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    const toolCall = choice.message.tool_calls![0];
    expect(toolCall.type === 'function' && toolCall.function.name).toBe('get_weather');
    expect(toolCall.type === 'function' && JSON.parse(toolCall.function.arguments)).toBeTypeOf('object');

    const streamed = await g.test.chat.completions
      .stream({
        model: 'gpt-6-luna',
        messages: [{ role: 'user', content: 'Weather?' }],
        tools: [WEATHER_TOOL],
      })
      .finalChatCompletion();
    expect(streamed.choices[0].finish_reason).toBe('tool_calls');
    const streamedCall = streamed.choices[0].message.tool_calls![0];
    expect(streamedCall.type === 'function' && streamedCall.function.name).toBe('get_weather');

    const next = await g.test.chat.completions.create({
      model: 'gpt-6-luna',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        choice.message,
        { role: 'tool', tool_call_id: toolCall.id, content: 'sunny' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(next.choices[0].finish_reason).toBe('stop');
    expect(next.choices[0].message.content).toMatch(/test response/);
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('answer JSON output with JSON', async () => {
    const res = await g.test.chat.completions.create({
      model: 'gpt-6-luna',
      messages: hi,
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(res.choices[0].message.content!)).toBeTypeOf('object');
  });

  it('x-conflux-mock: failover → served by the fallback model', async () => {
    const { data, response } = await g.test.chat.completions
      .create({ model: 'gpt-6-luna', messages: hi }, { headers: { 'x-conflux-mock': 'failover' } })
      .withResponse();
    expect(data.model).toBe('claude-haiku-5-5');
    expect(data.choices[0].message.content).toContain('claude-haiku-5-5');
    expect(response.headers.get('x-conflux-model')).toBe('claude-haiku-5-5');
    expect(response.headers.get('x-conflux-provider')).toBe('anthropic');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('an unknown x-conflux-mock value → 400 naming the header', async () => {
    const error = await g.test.chat.completions
      .create({ model: 'gpt-6-luna', messages: hi }, { headers: { 'x-conflux-mock': 'explode' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('x-conflux-mock');
  });

  it('are validated exactly like live keys', async () => {
    const notFound = await g.test.chat.completions
      .create({ model: 'nope', messages: hi })
      .catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    const badTemperature = await g.test.chat.completions
      .create({ model: 'gpt-6-luna', messages: hi, temperature: 5 })
      .catch((e: unknown) => e);
    expect(badTemperature).toBeInstanceOf(OpenAI.BadRequestError);
    expect((badTemperature as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('temperature');
    const tooLong = await g.test.chat.completions
      .create({ model: 'gpt-6-luna', messages: hi, max_tokens: 1_000_000 })
      .catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(OpenAI.BadRequestError);
    const image = await g.test.chat.completions
      .create({
        model: 'gpt-oss-120b',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(image).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('a live key ignores x-conflux-mock: the provider answers', async () => {
    const res = await g.live.chat.completions.create(
      { model: 'gpt-6-luna', messages: hi, max_tokens: 1 },
      { headers: { 'x-conflux-mock': 'rate_limit' } },
    );
    expect(res.choices[0].message.content).toBe('Hello');
    expect(g.fakes.openai.chatRequests()).toHaveLength(1);
  });

  it('a test key cannot create keys or read usage as a live key does (no privilege escalation)', async () => {
    const res = await call(g.t, 'POST', '/v1/keys', { name: 'from a test key' }, g.testKey);
    expect([401, 403]).toContain(res.status);
  });
});
