import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeProvider } from '../fakes/base.js';
import { waitFor } from '../support/wait.js';
import { fakeText, PROVIDERS, rawChat, useGateway } from './support.js';

/**
 * The streaming contract, read on the wire (raw SSE through fetch) for every provider: one id and created time,
 * the role first, finish_reason on the last choice chunk, `data: [DONE]` at the end; an upstream failure after the
 * first byte as a `data: {"error":…}` frame without [DONE]; and a client that goes away cancels the upstream
 * request.
 */
describe.each(PROVIDERS)('streaming from $provider ($model)', ({ model, env, fake: fakeOf }) => {
  const g = useGateway({ env });
  let fake: FakeProvider;
  beforeAll(() => {
    fake = fakeOf(g.fakes);
  });

  it('frames OpenAI chunks: same id/created, role first, finish_reason last, then data: [DONE]', async () => {
    const raw = await rawChat(g.t, g.liveKey, {
      model,
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 5,
      stream: true,
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(raw.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(raw.data.filter((d) => d === '[DONE]')).toHaveLength(1);
    // no `event:` lines: the OpenAI SDK treats a named event as an error
    expect(raw.text).not.toMatch(/^event:/m);

    const chunks = raw.data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    const { id, created } = chunks[0];
    expect(id).toMatch(/^chatcmpl-/);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id, created, object: 'chat.completion.chunk', model });
      expect(chunk.choices).toHaveLength(1);
      expect(chunk.choices[0].index).toBe(0);
    }
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.slice(1).every((c) => c.choices[0].delta.role === undefined)).toBe(true);
    const finishes = chunks.map((c) => c.choices[0].finish_reason);
    expect(finishes.at(-1)).toBe('stop');
    expect(finishes.slice(0, -1).every((f) => f === null)).toBe(true);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(fakeText(5));
  });

  it('streams tool calls indexed by ordinal: id, type and name first, then argument fragments', async () => {
    const raw = await rawChat(g.t, g.liveKey, {
      model,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      stream: true,
    });
    const chunks = raw.data.slice(0, -1).map((d) => JSON.parse(d));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather' } });
    expect(calls[0].id).toMatch(/\S/);
    expect(calls.every((c: { index: number }) => c.index === 0)).toBe(true);
    expect(
      calls.map((c: { function?: { arguments?: string } }) => c.function?.arguments ?? '').join(''),
    ).toBe('{"location":"Paris"}');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls');
    expect(raw.data.at(-1)).toBe('[DONE]');
  });

  it('an upstream error after the first byte → a data: {"error":…} frame and no [DONE]', async () => {
    for (const kind of ['stream_error', 'cut'] as const) {
      fake.addFault({ kind, afterChunks: 2 });
      const raw = await rawChat(g.t, g.liveKey, {
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 6,
        stream: true,
      });
      expect(raw.status).toBe(200);
      expect(raw.data).not.toContain('[DONE]');
      const last = JSON.parse(raw.data.at(-1)!);
      expect(last.error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
      expect(last.error).toHaveProperty('code');
      expect(last.error).toHaveProperty('param');
      // what was delivered before the failure reached the client
      const delivered = raw.data
        .slice(0, -1)
        .map((d) => JSON.parse(d).choices[0]?.delta.content ?? '')
        .join('');
      expect(delivered.startsWith('Hello')).toBe(true);
    }
  });

  it('the SDK raises an APIError for a stream that fails after the first byte', async () => {
    fake.addFault({ kind: 'stream_error', afterChunks: 1 });
    const stream = await g.live.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 6,
      stream: true,
    });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) {
        seen.push(chunk.choices[0]?.delta.content ?? '');
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(seen.join('')).toBe('Hello');
  });

  it('a failure before the first content byte fails over silently (nothing else: a 503 JSON answer)', async () => {
    for (const fault of [
      { kind: 'status', status: 503 },
      { kind: 'stream_error', afterChunks: 0 },
    ] as const) {
      g.fakes.reset();
      fake.addFault(fault);
      const raw = await rawChat(g.t, g.liveKey, {
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 2,
        stream: true,
      });
      expect(fake.chatRequests().length).toBeGreaterThanOrEqual(1); // the fault was played on this provider
      if (env) {
        // pinned to one provider (see PROVIDERS): no other candidate, and the status is still free to say so
        expect(raw.status).toBe(503);
        expect(raw.headers.get('content-type')).toMatch(/^application\/json/);
        expect(JSON.parse(raw.text).error.type).toBe('service_unavailable_error');
        continue;
      }
      expect(raw.status).toBe(200);
      expect(raw.headers.get('x-conflux-model')).not.toBe(model); // the fallback model served it
      expect(raw.data.at(-1)).toBe('[DONE]');
      expect(raw.text).not.toContain('"error"');
      expect(
        raw.data.map((d) => (d === '[DONE]' ? '' : (JSON.parse(d).choices[0]?.delta.content ?? ''))).join(''),
      ).toBe(fakeText(2));
    }
  });

  it('a client that disconnects while waiting for the first byte aborts the upstream request', async () => {
    fake.addFault({ kind: 'slow', ms: 10_000 });
    const controller = new AbortController();
    const pending = fetch(`${g.t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${g.liveKey}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: true }),
      signal: controller.signal,
    }).catch(() => undefined);
    await waitFor(() => fake.chatRequests().length === 1, 5000, 'the request to reach the fake');
    controller.abort();
    await pending;
    await waitFor(() => fake.chatRequests()[0].closed !== undefined, 5000, 'the upstream request to end');
    expect(fake.chatRequests()[0].closed).toBe('aborted');
    // and nothing was tried elsewhere for a client that is gone
    expect(g.fakes.all.reduce((n, f) => n + f.chatRequests().length, 0)).toBe(1);
  });

  it('a client that disconnects mid-stream aborts the upstream request', async () => {
    fake.addFault({ kind: 'stall', afterChunks: 2 });
    const controller = new AbortController();
    const res = await fetch(`${g.t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${g.liveKey}` },
      body: JSON.stringify({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        max_tokens: 50,
      }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('Hello')) {
      const { value, done } = await reader.read();
      if (done) {
        break;
      }
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('Hello');
    expect(fake.chatRequests()[0].closed).toBeUndefined(); // the upstream is still open, stalled
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await waitFor(() => fake.chatRequests()[0].closed !== undefined, 5000, 'the upstream request to end');
    expect(fake.chatRequests()[0].closed).toBe('aborted');
  });
});
