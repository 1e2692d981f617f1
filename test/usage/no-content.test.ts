import { describe, expect, it } from 'vitest';
import { call } from '../support/app.js';
import { useGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { openStream } from './support.js';

const CANARY = 'CANARY-7f3e1b9d-do-not-store';

/** Every row of every table of the database, as text (what a pg_dump would hold). */
async function everyRow(t: ReturnType<typeof useGateway>['t']): Promise<string> {
  const tables = (await t.db.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  )) as Array<{ table_name: string }>;
  let text = '';
  for (const { table_name } of tables) {
    const rows = (await t.db.query(`SELECT row_to_json(x)::text AS j FROM "${table_name}" x`)) as Array<{
      j: string;
    }>;
    text += rows.map((r) => r.j).join('\n');
  }
  return text;
}

describe('no content, ever', () => {
  const g = useGateway();

  it('keeps a canary in prompts, tool arguments and provider errors out of every table, log line and usage answer', async () => {
    const stream = await openStream(g.t.url, g.session);
    await stream.nextOf('ready');
    const messages = [
      { role: 'user' as const, content: `Remember ${CANARY}` },
      {
        role: 'assistant' as const,
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function' as const,
            function: { name: 'save', arguments: JSON.stringify({ note: CANARY }) },
          },
        ],
      },
      { role: 'tool' as const, tool_call_id: 'call_1', content: `saved ${CANARY}` },
      { role: 'user' as const, content: `Again: ${CANARY}` },
    ];
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'save', parameters: { type: 'object', properties: { note: { type: 'string' } } } },
      },
    ];
    let requests = 0;

    // success, JSON and stream
    await g.live.chat.completions.create({ model: 'gpt-6-luna', messages, tools });
    requests++;
    // the canary did travel: the provider got it
    expect(JSON.stringify(g.fakes.openai.chatRequests())).toContain(CANARY);
    const ok = await g.live.chat.completions.create({ model: 'gpt-6-luna', messages, stream: true });
    for await (const _ of ok) {
      // read it all
    }
    requests++;
    // the provider refuses the request with an error body that echoes the prompt
    g.fakes.openai.addFault(
      {
        kind: 'status',
        status: 400,
        body: JSON.stringify({
          error: { message: `Invalid prompt: ${CANARY}`, type: 'invalid_request_error' },
        }),
      },
      { times: Infinity },
    );
    // (the client is told what its provider said; nothing else keeps it)
    await expect(g.live.chat.completions.create({ model: 'gpt-6-luna', messages })).rejects.toThrow(CANARY);
    requests++;
    g.fakes.reset();
    // a stream the provider cuts, and one that breaks with an error event
    g.fakes.openai.addFault({ kind: 'cut', afterChunks: 2 });
    const cut = await g.live.chat.completions.create({ model: 'gpt-6-luna', messages, stream: true });
    await expect(
      (async () => {
        for await (const _ of cut) {
          // read until it breaks
        }
      })(),
    ).rejects.toThrow();
    requests++;
    g.fakes.reset();
    g.fakes.openai.addFault({ kind: 'stream_error', afterChunks: 1 });
    const broken = await g.live.chat.completions.create({ model: 'gpt-6-luna', messages, stream: true });
    await expect(
      (async () => {
        for await (const _ of broken) {
          // read until it breaks
        }
      })(),
    ).rejects.toThrow();
    requests++;
    g.fakes.reset();

    const seen: string[] = [];
    for (let i = 0; i < requests; i++) {
      seen.push(JSON.stringify((await stream.nextOf('usage', 5_000)).data));
    }
    stream.close();
    await waitFor(async () => (await everyRow(g.t)).includes('"status":"cut"'), 5_000, 'the usage rows');
    expect(seen.join('\n')).not.toContain(CANARY);
    expect(await everyRow(g.t)).not.toContain(CANARY);
    const usage = await call(g.t, 'GET', '/v1/usage?limit=1000', undefined, g.session);
    expect(usage.body.data.length).toBe(requests);
    expect(JSON.stringify(usage.body)).not.toContain(CANARY);
    const csv = await fetch(`${g.t.url}/v1/usage?format=csv`, {
      headers: { authorization: `Bearer ${g.session}` },
    });
    expect(await csv.text()).not.toContain(CANARY);
    const metrics = await fetch(`${g.t.url}/metrics`);
    expect(await metrics.text()).not.toContain(CANARY);
    await waitFor(
      () => g.t.logs().includes('"route":"/v1/chat/completions"'),
      5_000,
      'the request log lines',
    );
    expect(g.t.logs()).not.toContain(CANARY);
  });
});
