import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { RedisService } from '../../src/redis/redis.service.js';
import { UsageFeed } from '../../src/usage/usage.feed.js';
import { USAGE_CHANNEL } from '../../src/usage/usage.publisher.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { client, gatewayEnv, useGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { accountOf, openStream } from './support.js';

const CHAT = { model: 'gpt-6-luna', messages: [{ role: 'user' as const, content: 'Say hello' }] };

describe('GET /v1/usage/stream', () => {
  const clock = new ManualClock();
  const g = useGateway({ clock, env: { USAGE_STREAMS_PER_ACCOUNT: '3' } });

  it("pushes each of the account's requests within a second of its end, and only the account's", async () => {
    const stream = await openStream(g.t.url, g.liveKey);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await stream.next()).toEqual({ event: 'ready', data: { heartbeat_seconds: 15 } });

    // another account's request first: it must not reach this stream
    const stranger = await signup(g.t);
    const strangerKey = await createKey(g.t, stranger.token, 'test');
    await client(g.t, strangerKey.key).chat.completions.create(CHAT);

    const { data, response } = await g.live.chat.completions.create(CHAT).withResponse();
    const ended = Date.now();
    const event = await stream.nextOf('usage', 1_000);
    expect(Date.now() - ended).toBeLessThan(1_000);
    const requestId = response.headers.get('x-request-id');
    expect(event.data).toMatchObject({
      object: 'usage_event',
      id: requestId,
      kind: 'live',
      model_served: 'gpt-6-luna',
      status: 'ok',
      outcome: 'completed',
      prompt_tokens: data.usage!.prompt_tokens,
      completion_tokens: data.usage!.completion_tokens,
      credits: response.headers.get('x-conflux-cost-credits'),
    });
    // the event is the one GET /v1/usage lists
    const day = 86_400_000;
    const range = `from=${new Date(clock.now() - day).toISOString()}&to=${new Date(clock.now() + day).toISOString()}`;
    const listed = await call(g.t, 'GET', `/v1/usage?${range}&limit=1`, undefined, g.session);
    expect(listed.body.data[0]).toEqual(event.data);

    // a streamed request with the test key too
    const chunks = await g.test.chat.completions.create({ ...CHAT, stream: true });
    for await (const _ of chunks) {
      // read it all
    }
    expect((await stream.nextOf('usage', 1_000)).data).toMatchObject({ kind: 'test', stream: true });
    stream.close();
  });

  it('sends a heartbeat after 15 s without an event, by the clock', async () => {
    const stream = await openStream(g.t.url, g.session);
    await stream.nextOf('ready');
    const feed = g.t.app.get(UsageFeed);
    clock.advance(14_000);
    await feed.tick(); // not yet
    clock.advance(1_000);
    await feed.tick();
    const beat = await stream.next();
    expect(beat).toEqual({ event: 'heartbeat', data: { time: clock.date().toISOString() } });
    clock.advance(15_000);
    await feed.tick();
    expect((await stream.next())?.event).toBe('heartbeat');
    stream.close();
  });

  it('closes the stream of a revoked key at once, and at the next heartbeat when the broadcast was lost', async () => {
    const a = await createKey(g.t, g.session, 'live');
    const stream = await openStream(g.t.url, a.key);
    await stream.nextOf('ready');
    expect((await call(g.t, 'DELETE', `/v1/keys/${a.id}`, undefined, g.session)).status).toBe(200);
    const last = await stream.next(1_000);
    expect(last).toMatchObject({ event: 'error', data: { error: { code: 'invalid_api_key' } } });
    expect(await stream.next(1_000)).toBeNull();

    // revoked behind the gateway's back (no broadcast): the heartbeat's check closes it
    const b = await createKey(g.t, g.session, 'live');
    const quiet = await openStream(g.t.url, b.key);
    await quiet.nextOf('ready');
    await g.t.db.query(`UPDATE api_keys SET revoked_at = now() WHERE public_id = $1`, [b.id]);
    clock.advance(15_000);
    await g.t.app.get(UsageFeed).tick();
    expect(await quiet.nextOf('error', 1_000)).toMatchObject({
      data: { error: { code: 'invalid_api_key' } },
    });
    expect(await quiet.next(1_000)).toBeNull();
  });

  it('holds at most USAGE_STREAMS_PER_ACCOUNT streams per account', async () => {
    const feed = g.t.app.get(UsageFeed);
    await waitFor(() => feed.streams === 0, 2_000, 'earlier streams to close');
    const before = feed.streams;
    const streams = [];
    for (let i = 0; i < 3; i++) {
      streams.push(await openStream(g.t.url, g.session));
      await streams[i].nextOf('ready');
    }
    const refused = await call(g.t, 'GET', '/v1/usage/stream', undefined, g.session);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limit_exceeded');
    // another account is not affected
    const other = await openStream(g.t.url, (await signup(g.t)).token);
    expect(other.status).toBe(200);
    other.close();
    streams[0].close();
    await waitFor(() => feed.streams === before + 2, 2_000, 'the closed stream to be forgotten');
    const again = await openStream(g.t.url, g.session);
    expect(again.status).toBe(200);
    again.close();
    streams.slice(1).forEach((s) => s.close());
  });

  it('drops a client that stops reading instead of buffering for it', async () => {
    const feed = g.t.app.get(UsageFeed);
    await waitFor(() => feed.streams === 0, 2_000, 'earlier streams to close');
    const { token } = await signup(g.t);
    const accountId = accountOf(token);
    const socket = connect(Number(new URL(g.t.url).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`GET /v1/usage/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await waitFor(() => feed.streams === 1, 2_000, 'the stream to open');
    socket.pause(); // never reads again
    const event = {
      account_id: accountId,
      request_id: 'req_0',
      created_at: '2026-11-30T00:00:00.000000Z',
      key: null,
      test: true,
      model_requested: 'gpt-6-luna',
      model_served: 'gpt-6-luna',
      provider: 'openai',
      attempts: 1,
      streamed: false,
      status: 'completed',
      http_status: 200,
      error_code: null,
      prompt_tokens: 1,
      completion_tokens: 1,
      cached_tokens: 0,
      reasoning_tokens: 0,
      cost_micro: '0',
      latency_ms: 1,
      ttft_ms: null,
      estimated: false,
    };
    const batch = JSON.stringify(
      Array.from({ length: 1_000 }, (_, i) => ({ ...event, request_id: `req_${i}` })),
    );
    const redis = g.t.app.get(RedisService);
    // about 600 KB per batch: the socket's buffers fill, then what waits in the process passes its bound
    for (let i = 0; i < 200 && feed.streams > 0; i++) {
      await redis.publish(USAGE_CHANNEL, batch);
      await feed.flushed();
    }
    expect(feed.streams).toBe(0);
    socket.destroy();
    const metrics = await (await fetch(`${g.t.url}/metrics`)).text();
    expect(metrics).toContain('conflux_usage_streams_closed_total{reason="slow_client"} 1');
    expect(metrics).toMatch(/conflux_usage_streams_closed_total\{reason="key_revoked"\} 2/);
  });
});

describe.skipIf(!process.env.REDIS_URL)('the usage stream with several instances (Redis)', () => {
  const g = useGateway();
  let second: TestApp;
  beforeAll(async () => {
    second = await startApp(gatewayEnv(g.fakes), { shareDatabaseWith: g.t });
  });
  afterAll(() => second?.close());

  it('delivers a request made through another instance', async () => {
    const stream = await openStream(second.url, g.session);
    await stream.nextOf('ready');
    const { response } = await g.live.chat.completions.create(CHAT).withResponse();
    const ended = Date.now();
    const event = await stream.nextOf('usage', 1_000);
    expect(Date.now() - ended).toBeLessThan(1_000);
    expect(event.data.id).toBe(response.headers.get('x-request-id'));
    stream.close();
  });
});
