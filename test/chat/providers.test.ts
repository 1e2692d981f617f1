import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { FAKE_JSON_ANSWER, FAKE_TOOL_ARGUMENTS } from '../fakes/base.js';
import {
  fakeText,
  lastChat,
  PNG_BASE64,
  PNG_DATA_URI,
  PROVIDERS,
  useGateway,
  WEATHER_TOOL,
} from './support.js';

/**
 * Every provider, end to end: the official OpenAI SDK → the gateway → the provider's fake speaking its own wire
 * protocol. One model per provider (PROVIDERS); each feature is checked on the client's side (what the SDK gives
 * back) and on the provider's side (what the fake received, in the provider's native shape).
 */
describe.each(PROVIDERS)(
  '$provider ($model)',
  ({ provider, model, images, env, fake: fakeOf, systemTexts }) => {
    const g = useGateway({ env });

    const fake = () => fakeOf(g.fakes);

    it('answers a plain chat with the provider’s answer and token counts', async () => {
      const { data, response } = await g.live.chat.completions
        .create({ model, messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 5 })
        .withResponse();
      expect(data.object).toBe('chat.completion');
      expect(data.model).toBe(model);
      expect(data.choices).toHaveLength(1);
      expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: fakeText(5) });
      expect(data.choices[0].finish_reason).toBe('stop');
      expect(data.usage).toMatchObject({ completion_tokens: 5 });
      expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
      expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + 5);
      expect(fake().chatRequests()).toHaveLength(1);
      // what served it and what it cost are in the headers
      expect(response.headers.get('x-conflux-provider')).toBe(provider);
      expect(response.headers.get('x-conflux-model')).toBe(model);
      expect(response.headers.get('x-request-id')).toMatch(/\S/);
      expect(Number(response.headers.get('x-conflux-cost-credits'))).toBeGreaterThan(0);
    });

    it('passes the system prompt in the provider’s native place', async () => {
      await g.live.chat.completions.create({
        model,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Say hello' },
        ],
        max_tokens: 3,
      });
      const body = lastChat(fake()).body;
      expect(systemTexts(body)).toEqual(['You are terse.']);
      if (provider === 'anthropic' || provider === 'gemini') {
        // not left among the turns either
        expect(JSON.stringify(body.messages ?? body.contents)).not.toContain('You are terse.');
      }
    });

    it('runs a tool-call conversation: a tool call, then the answer from the tool result', async () => {
      const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
      const first = await g.live.chat.completions.create({ model, messages, tools: [WEATHER_TOOL] });
      const choice = first.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.tool_calls).toHaveLength(1);
      const toolCall = choice.message.tool_calls![0];
      expect(toolCall.type).toBe('function');
      if (toolCall.type !== 'function') {
        return;
      }
      expect(toolCall.id).toMatch(/\S/);
      expect(toolCall.function.name).toBe('get_weather');
      expect(JSON.parse(toolCall.function.arguments)).toEqual(JSON.parse(FAKE_TOOL_ARGUMENTS));

      messages.push(choice.message, {
        role: 'tool',
        tool_call_id: toolCall.id,
        content: '{"temperature_c":18}',
      });
      const second = await g.live.chat.completions.create({
        model,
        messages,
        tools: [WEATHER_TOOL],
        max_tokens: 4,
      });
      expect(second.choices[0].finish_reason).toBe('stop');
      expect(second.choices[0].message.content).toBe(fakeText(4));
      // the tool turn in the provider's native shape
      const body = lastChat(fake()).body;
      if (provider === 'anthropic') {
        expect(body.messages).toHaveLength(3);
        expect(body.messages[1].role).toBe('assistant');
        expect(body.messages[1].content).toContainEqual(
          expect.objectContaining({
            type: 'tool_use',
            id: toolCall.id,
            name: 'get_weather',
            input: { location: 'Paris' },
          }),
        );
        expect(body.messages[2].role).toBe('user');
        expect(body.messages[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: toolCall.id });
      } else if (provider === 'gemini') {
        expect(body.contents).toHaveLength(3);
        const call = body.contents[1].parts.find((p: any) => p.functionCall);
        expect(call.functionCall).toMatchObject({ name: 'get_weather', args: { location: 'Paris' } });
        expect(call.thoughtSignature).toMatch(/\S/); // round-tripped: Gemini 400s without it
        expect(body.contents[2].parts[0].functionResponse).toMatchObject({ name: 'get_weather' });
      } else {
        expect(body.messages[1].tool_calls[0]).toMatchObject({
          id: toolCall.id,
          function: { name: 'get_weather' },
        });
        expect(body.messages[2]).toMatchObject({ role: 'tool', tool_call_id: toolCall.id });
      }
      // the fakes refuse a history they cannot read (Gemini: a functionCall without its thought signature, a
      // functionResponse without a name; Anthropic: a tool_result not following its tool_use), so the 200 above
      // proves the native mapping; check the tool result reached the provider too
      expect(JSON.stringify(lastChat(fake()).body)).toContain('temperature_c');
    });

    it('assembles streamed tool calls with the SDK’s .stream() helper', async () => {
      const stream = g.live.chat.completions.stream({
        model,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [WEATHER_TOOL],
      });
      const final = await stream.finalChatCompletion();
      const choice = final.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.tool_calls).toHaveLength(1);
      const call = choice.message.tool_calls![0];
      expect(call.type === 'function' && call.function.name).toBe('get_weather');
      expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ location: 'Paris' });
      expect(call.id).toMatch(/\S/);
    });

    // Provider-bound state that arrives in a stream (Gemini thought signatures) is kept for the next turn.
    it('continues a conversation after a streamed tool call', async () => {
      const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
      const final = await g.live.chat.completions
        .stream({ model, messages, tools: [WEATHER_TOOL] })
        .finalChatCompletion();
      const message = final.choices[0].message;
      const call = message.tool_calls![0];
      messages.push(
        { role: 'assistant', content: message.content ?? null, tool_calls: message.tool_calls },
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
      );
      const next = await g.live.chat.completions.create({
        model,
        messages,
        tools: [WEATHER_TOOL],
        max_tokens: 2,
      });
      expect(next.choices[0].message.content).toBe(fakeText(2));
    });

    if (images) {
      it('takes an image as a data URI, in the provider’s native image part', async () => {
        const res = await g.live.chat.completions.create({
          model,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is in this picture?' },
                { type: 'image_url', image_url: { url: PNG_DATA_URI } },
              ],
            },
          ],
          max_tokens: 3,
        });
        expect(res.choices[0].message.content).toBe(fakeText(3));
        const native = JSON.stringify(lastChat(fake()).body);
        expect(native).toContain(PNG_BASE64);
        if (provider === 'anthropic') {
          expect(native).toContain('"media_type":"image/png"');
        }
        if (provider === 'gemini') {
          expect(native).toContain('"mimeType":"image/png"');
        }
      });
    } else {
      it('refuses an image (the model has no image input) with 400, before any provider call', async () => {
        const error = await g.live.chat.completions
          .create({
            model,
            messages: [
              {
                role: 'user',
                content: [
                  { type: 'text', text: 'What is in this picture?' },
                  { type: 'image_url', image_url: { url: PNG_DATA_URI } },
                ],
              },
            ],
          })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OpenAI.BadRequestError);
        expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
        expect(g.fakes.all.flatMap((f) => f.chatRequests())).toHaveLength(0);
      });
    }

    if (provider === 'gemini') {
      // The gateway does not fetch image URLs for Gemini: a 400, never another model's answer.
      it('refuses an https image URL with 400 (by design), before any provider call', async () => {
        const error = await g.live.chat.completions
          .create({
            model,
            messages: [
              {
                role: 'user',
                content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }],
              },
            ],
          })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OpenAI.BadRequestError);
        expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toMatch(/^messages/);
        expect(g.fakes.all.flatMap((f) => f.chatRequests())).toHaveLength(0);
      });
    }

    it('returns JSON that parses for response_format json_schema', async () => {
      const res = await g.live.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Is it ok?' }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'verdict',
            schema: {
              type: 'object',
              properties: { ok: { type: 'boolean' } },
              required: ['ok'],
              additionalProperties: false,
            },
            strict: true,
          },
        },
      });
      expect(JSON.parse(res.choices[0].message.content!)).toEqual(JSON.parse(FAKE_JSON_ANSWER));
      // the schema reached the provider (each in its own field)
      expect(JSON.stringify(lastChat(fake()).body)).toContain('"ok":{"type":"boolean"}');
    });

    it('ends a stream with include_usage with a usage chunk (empty choices, cost in credits)', async () => {
      const stream = await g.live.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 4,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk);
      }
      expect(chunks.length).toBeGreaterThan(2);
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      expect(last.usage).toMatchObject({ completion_tokens: 4 });
      expect(last.usage!.prompt_tokens).toBeGreaterThan(0);
      expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + 4);
      const cost = (last.usage as unknown as { cost_credits?: unknown }).cost_credits;
      expect(typeof cost).toBe('string');
      expect(Number(cost)).toBeGreaterThan(0);
      for (const chunk of chunks.slice(0, -1)) {
        expect(chunk.usage).toBeNull();
        expect(chunk.choices).toHaveLength(1);
      }
      expect(
        chunks
          .slice(0, -1)
          .map((c) => c.choices[0].delta.content ?? '')
          .join(''),
      ).toBe(fakeText(4));
    });

    it('streams without include_usage: no usage field and no usage chunk', async () => {
      const stream = await g.live.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 3,
        stream: true,
      });
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk);
      }
      expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
      expect(chunks.every((c) => c.usage === undefined)).toBe(true);
    });

    it('streams an answer the SDK’s .stream() helper assembles without error, with the gateway’s headers', async () => {
      const stream = g.live.chat.completions.stream({
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 6,
      });
      const deltas: string[] = [];
      stream.on('content', (delta) => deltas.push(delta));
      const final = await stream.finalChatCompletion();
      expect(final.choices[0].message.content).toBe(fakeText(6));
      expect(final.choices[0].finish_reason).toBe('stop');
      expect(deltas.join('')).toBe(fakeText(6));
      expect(deltas.length).toBeGreaterThan(1); // really streamed, not one lump

      const { response } = await g.live.chat.completions
        .create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, stream: true })
        .withResponse();
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('x-conflux-provider')).toBe(provider);
      expect(response.headers.get('x-conflux-model')).toBe(model);
      expect(response.headers.get('x-request-id')).toMatch(/\S/);
      await response.body?.cancel();
    });
  },
);
