import { describe, expect, it } from 'vitest';
import { postChat } from '../support/billing.js';
import { useGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

interface HttpLine {
  requestId: string;
  method: string;
  route: string;
  status: number;
  ms: number;
}

// One gateway per file: nestjs-pino's root logger is process-wide, so log capture needs its own process.
describe('requests abandoned by the client are logged and counted once', () => {
  const g = useGateway();

  const httpLines = (): HttpLine[] =>
    g.t
      .logs()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { context?: string } & HttpLine)
      .filter((line) => line.context === 'http');

  const samples = async (status: number): Promise<number> => {
    const text = await (await fetch(`${g.t.url}/metrics`)).text();
    const pattern = `conflux_http_requests_total{route="/v1/chat/completions",method="POST",status="${status}"} `;
    const line = text.split('\n').find((l) => l.startsWith(pattern));
    return line === undefined ? 0 : Number(line.slice(pattern.length));
  };

  /** The usage event of the chat request that ended as `status` (the request id the client never saw). */
  const settled = async (count: number): Promise<Array<{ request_id: string; status: string }>> => {
    let rows: Array<{ request_id: string; status: string }> = [];
    await waitFor(
      async () => {
        rows = await g.t.db.query(`SELECT request_id, status FROM usage_events ORDER BY id`);
        return rows.length === count;
      },
      5_000,
      'the request to be settled',
    );
    return rows;
  };

  it('a client that leaves while waiting for the answer → one http line (499, the route) and one sample', async () => {
    g.fakes.openai.addFault({ kind: 'slow', ms: 1_000 });
    const controller = new AbortController();
    const pending = postChat(
      g.t,
      g.liveKey,
      { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 },
      controller.signal,
    ).catch(() => undefined);
    await waitFor(
      () => g.fakes.openai.chatRequests().length === 1,
      5_000,
      'the request to reach the provider',
    );
    controller.abort();
    await pending;

    const [event] = await settled(1);
    expect(event.status).toBe('aborted');
    await waitFor(() => httpLines().some((l) => l.requestId === event.request_id), 5_000, 'the http line');
    const lines = httpLines().filter((l) => l.requestId === event.request_id);
    expect(lines).toEqual([
      expect.objectContaining({ method: 'POST', route: '/v1/chat/completions', status: 499 }),
    ]);
    expect(lines[0].ms).toBeGreaterThanOrEqual(0);
    expect(await samples(499)).toBe(1);
    expect(await samples(200)).toBe(0);
  });

  it('a client that leaves mid-stream → one http line (499) and one sample, never a second one', async () => {
    g.fakes.openai.addFault({ kind: 'stall', afterChunks: 2 });
    const controller = new AbortController();
    const res = await postChat(
      g.t,
      g.liveKey,
      { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, stream: true },
      controller.signal,
    );
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => undefined);

    await settled(2);
    await waitFor(() => httpLines().some((l) => l.requestId === requestId), 5_000, 'the http line');
    expect(httpLines().filter((l) => l.requestId === requestId)).toEqual([
      expect.objectContaining({ route: '/v1/chat/completions', status: 499 }),
    ]);
    expect(await samples(499)).toBe(2);

    // a request answered in full is still logged and counted once, with its own status
    const ok = await postChat(g.t, g.liveKey, {
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
    });
    expect(ok.status).toBe(200);
    await ok.text();
    const okId = ok.headers.get('x-request-id')!;
    await waitFor(() => httpLines().some((l) => l.requestId === okId), 5_000, 'the http line');
    expect(httpLines().filter((l) => l.requestId === okId)).toEqual([
      expect.objectContaining({ route: '/v1/chat/completions', status: 200 }),
    ]);
    expect(await samples(200)).toBe(1);
    expect(await samples(499)).toBe(2);
  });
});
