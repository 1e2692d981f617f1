import { afterAll, beforeAll, describe, it } from 'vitest';
import { startFakes, type Fakes } from './fakes/index.js';
import { call, createKey, signup, startApp, type TestApp } from './support/app.js';
import { money, setBalance, usageEvents } from './support/billing.js';

const out: string[] = [];
function log(label: string, r: { status: number; body: any }) {
  const s = typeof r.body === 'string' ? r.body.slice(0, 300) : JSON.stringify(r.body).slice(0, 300);
  out.push(`${r.status}\t${label}\t${s}`);
}

describe('review scratch', { timeout: 120_000 }, () => {
  let fakes: Fakes;
  let t: TestApp;
  let token: string;
  let accountId: string;
  let live: string;
  let test: string;
  beforeAll(async () => {
    fakes = await startFakes();
    t = await startApp(fakes.env);
    const s = await signup(t);
    token = s.token;
    accountId = s.accountId;
    live = (await createKey(t, token, 'live')).key;
    test = (await createKey(t, token, 'test')).key;
  });
  afterAll(async () => {
    console.log('\n=====RESULTS=====\n' + out.join('\n') + '\n=====END=====');
    await t?.close();
    await fakes?.close();
  });

  it.skip('auth', async () => {
    const bodies: Array<[string, unknown]> = [
      ['null', 'null'],
      ['array', '[]'],
      ['string', '"x"'],
      ['number', '5'],
      ['email obj', { email: { a: 1 }, password: 'aaaaaaaaaa' }],
      ['email nul', { email: 'a\u0000b@example.com', password: 'aaaaaaaaaa' }],
      ['password nul', { email: 'nul@example.com', password: '\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000' }],
      ['password lone surrogate', { email: 'sur@example.com', password: '\ud800aaaaaaaaa' }],
      ['email unicode', { email: 'üñí@exämple.com', password: 'aaaaaaaaaa' }],
      ['password number', { email: 'n@example.com', password: 12345678 }],
      ['extra', { email: 'x@example.com', password: 'aaaaaaaaaa', role: 'admin' }],
      ['proto', '{"email":"p@example.com","password":"aaaaaaaaaa","__proto__":{"x":1}}'],
      ['constructor', '{"email":"c@example.com","password":"aaaaaaaaaa","constructor":{"prototype":{"x":1}}}'],
    ];
    for (const [label, body] of bodies) {
      log(`signup ${label}`, await call(t, 'POST', '/auth/signup', body));
      log(`login ${label}`, await call(t, 'POST', '/auth/login', body));
    }
    log('login no body', await call(t, 'POST', '/auth/login'));
    log('signup text/plain', await call(t, 'POST', '/auth/signup', 'x', undefined, { 'content-type': 'text/plain' }));
    log('signup bad json', await call(t, 'POST', '/auth/signup', '{bad', undefined));
  });

  it.skip('keys', async () => {
    const bodies: Array<[string, unknown]> = [
      ['name nul', { name: 'a\u0000b', kind: 'live' }],
      ['name lone surrogate', { name: 'a\ud800b', kind: 'live' }],
      ['expires huge', { name: 'a', kind: 'live', expires_at: '+275760-09-13T00:00:00.000Z' }],
      ['expires 9999', { name: 'a', kind: 'live', expires_at: '9999-12-31T23:59:59Z' }],
      ['expires 10000', { name: 'a', kind: 'live', expires_at: '+010000-01-01T00:00:00Z' }],
      ['expires number', { name: 'a', kind: 'live', expires_at: 8.64e15 }],
      ['expires bad', { name: 'a', kind: 'live', expires_at: '2026-02-30' }],
      ['expires obj', { name: 'a', kind: 'live', expires_at: { a: 1 } }],
      ['expires array', { name: 'a', kind: 'live', expires_at: ['2030-01-01'] }],
      ['kind null', { name: 'a', kind: null }],
      ['null', 'null'],
      ['array', '[]'],
    ];
    for (const [label, body] of bodies) {
      log(`keys ${label}`, await call(t, 'POST', '/v1/keys', body, token));
    }
    for (const id of ['%00', "'%20OR%201=1", 'x'.repeat(5000), '%F0%9F%98%80', 'key_', '%ff', '..', '%2e%2e', 'a%2Fb']) {
      log(`delete ${id.slice(0, 20)}`, await call(t, 'DELETE', `/v1/keys/${id}`, undefined, token));
    }
    log('delete empty', await call(t, 'DELETE', `/v1/keys/`, undefined, token));
    log('keys test key', await call(t, 'GET', '/v1/keys', undefined, test));
    log('session garbage', await call(t, 'GET', '/v1/keys', undefined, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'));
    log('auth lower bearer', await call(t, 'GET', '/v1/keys', undefined, undefined, { authorization: 'bearer ' + live }));
  });

  it.skip('models', async () => {
    for (const id of ['__proto__', 'constructor', 'toString', '%00', 'openai%2Fgpt-oss-20b', 'openai/gpt-oss-20b', '%ff', 'x'.repeat(10000), '']) {
      log(`model ${id.slice(0, 30)}`, await call(t, 'GET', `/v1/models/${id}`, undefined, test));
    }
  });

  it('chat', async () => {
    const m = (c: unknown) => [{ role: 'user', content: c }];
    const bodies: Array<[string, unknown]> = [
      ['null', 'null'],
      ['array', '[]'],
    ];
    const unused = [
      ['model proto', { model: '__proto__', messages: m('hi') }],
      ['model toString', { model: 'toString', messages: m('hi') }],
      ['max_tokens 1e308', { model: 'gpt-6-luna', messages: m('hi'), max_tokens: 1e308 }],
      ['max_tokens 2^53+', { model: 'gpt-6-luna', messages: m('hi'), max_tokens: 9007199254740993 }],
      ['seed huge', { model: 'gpt-6-luna', messages: m('hi'), seed: 1e300, max_tokens: 3 }],
      ['nul content', { model: 'gpt-6-luna', messages: m('a\u0000b'), max_tokens: 3 }],
      ['lone surrogate', { model: 'gpt-6-luna', messages: m('a\ud800b'), max_tokens: 3 }],
      ['empty content', { model: 'gpt-6-luna', messages: m(''), max_tokens: 3 }],
      ['empty parts text', { model: 'gpt-6-luna', messages: m([{ type: 'text', text: '' }]), max_tokens: 3 }],
      ['tool without assistant claude', { model: 'claude-haiku-5-5', messages: [{ role: 'tool', tool_call_id: 'x', content: 'r' }], max_tokens: 3 }],
      ['tool without assistant gemini', { model: 'gemini-3.8-flash', messages: [{ role: 'tool', tool_call_id: 'x', content: 'r' }], max_tokens: 3 }],
      ['tool without assistant openai', { model: 'gpt-6-luna', messages: [{ role: 'tool', tool_call_id: 'x', content: 'r' }], max_tokens: 3 }],
      ['tool first user', { model: 'claude-haiku-5-5', messages: [{ role: 'user', content: 'q' }, { role: 'tool', tool_call_id: 'x', content: 'r' }], max_tokens: 3 }],
      ...['claude-haiku-5-5', 'gemini-3.8-flash', 'gpt-6-luna', 'gpt-oss-120b'].flatMap((model) => [
        [`bad args ${model}`, { model, max_tokens: 3, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{bad' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'r' }] }],
        [`array args ${model}`, { model, max_tokens: 3, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '[1]' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'r' }] }],
        [`null args ${model}`, { model, max_tokens: 3, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: 'null' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'r' }] }],
        [`proto id ${model}`, { model, max_tokens: 3, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null, tool_calls: [{ id: '__proto__', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: '__proto__', content: 'r' }] }],
        [`dup ids ${model}`, { model, max_tokens: 3, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'r' }] }],
        [`assistant empty ${model}`, { model, max_tokens: 3, messages: [{ role: 'user', content: 'q' }, { role: 'assistant' }] }],
        [`assistant content null only ${model}`, { model, max_tokens: 3, messages: [{ role: 'assistant', content: null }] }],
        [`system only ${model}`, { model, max_tokens: 3, messages: [{ role: 'system', content: 's' }] }],
        [`tool_choice unknown fn ${model}`, { model, max_tokens: 3, messages: m('q'), tool_choice: { type: 'function', function: { name: 'nope' } } }],
        [`tool_choice none no tools ${model}`, { model, max_tokens: 3, messages: m('q'), tool_choice: 'required' }],
        [`tools params weird ${model}`, { model, max_tokens: 3, messages: m('q'), tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'bogus' } } } } }] }],
        [`image bad url ${model}`, { model, max_tokens: 3, messages: m([{ type: 'image_url', image_url: { url: 'data:xyz' } }]) }],
        [`audio ${model}`, { model, max_tokens: 3, messages: m([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }]) }],
        [`file ${model}`, { model, max_tokens: 3, messages: m([{ type: 'file', file: {} }]) }],
        [`stop empty ${model}`, { model, max_tokens: 3, messages: m('q'), stop: '' }],
        [`n2 stream ${model}`, { model, max_tokens: 3, messages: m('q'), n: 2, stream: true }],
        [`json_schema no schema ${model}`, { model, max_tokens: 3, messages: m('q'), response_format: { type: 'json_schema', json_schema: { name: 'x' } } }],
        [`logit_bias ${model}`, { model, max_tokens: 3, messages: m('q'), logit_bias: { abc: 5 } }],
        [`top_logprobs ${model}`, { model, max_tokens: 3, messages: m('q'), top_logprobs: 5 }],
        [`stream_options no stream ${model}`, { model, max_tokens: 3, messages: m('q'), stream_options: { include_usage: true } }],
        [`reasoning max ${model}`, { model, max_tokens: 3, messages: m('q'), reasoning_effort: 'max' }],
      ] as Array<[string, unknown]>),
    ];
    let n = 0;
    for (const [label, body] of bodies) {
      if (++n % 40 === 0) live = (await createKey(t, token, 'live')).key;
      const r = await call(t, 'POST', '/v1/chat/completions', body, live);
      if (r.status !== 200) log(`chat ${label}`, r);
      if (r.status === 200 && typeof r.body === 'string') {
        out.push('   stream tail: ' + r.body.slice(-200).replace(/\n/g, '\\n'));
      }
    }
    live = (await createKey(t, token, 'live')).key;
    // deep nesting
    const deepObj = '{"model":"gpt-6-luna","max_tokens":3,"messages":[{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"f","parameters":' + '{"a":'.repeat(20000) + '1' + '}'.repeat(20000) + '}}]}';
    log('chat deep tools obj 20k', await call(t, 'POST', '/v1/chat/completions', deepObj, live));
    const deepRf = '{"model":"gpt-6-luna","max_tokens":3,"messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":' + '{"a":'.repeat(20000) + '1' + '}'.repeat(20000) + '}}}';
    log('chat deep schema 20k', await call(t, 'POST', '/v1/chat/completions', deepRf, live));
    const deepStr = '{"model":"gpt-6-luna","max_tokens":3,"messages":[{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"x":' + '['.repeat(200000) + ']'.repeat(200000) + '}}}]}';
    log('chat deep array 200k', await call(t, 'POST', '/v1/chat/completions', deepStr, live));
    const deepMeta = '{"model":"gpt-6-luna","max_tokens":3,"messages":[{"role":"user","content":"q"}],"metadata":{"x":' + '['.repeat(200000) + ']'.repeat(200000) + '}}';
    log('chat deep meta 200k', await call(t, 'POST', '/v1/chat/completions', deepMeta, live));
    // idempotency
    const b = { model: 'gpt-6-luna', max_tokens: 3, messages: m('q') };
    log('idem empty', await call(t, 'POST', '/v1/chat/completions', b, live, { 'idempotency-key': '' }));
    log('idem 300', await call(t, 'POST', '/v1/chat/completions', b, live, { 'idempotency-key': 'x'.repeat(300) }));
    log('idem ok', await call(t, 'POST', '/v1/chat/completions', b, live, { 'idempotency-key': 'k1' }));
    log('idem replay', await call(t, 'POST', '/v1/chat/completions', b, live, { 'idempotency-key': 'k1' }));
    log('idem diff body', await call(t, 'POST', '/v1/chat/completions', { ...b, max_tokens: 4 }, live, { 'idempotency-key': 'k1' }));
    log('idem invalid body', await call(t, 'POST', '/v1/chat/completions', { model: 'nope', messages: m('q') }, live, { 'idempotency-key': 'k2' }));
    log('idem test key same', await call(t, 'POST', '/v1/chat/completions', b, test, { 'idempotency-key': 'k1' }));
    log('mock bad', await call(t, 'POST', '/v1/chat/completions', b, test, { 'x-conflux-mock': 'nope' }));
    log('mock bad live', await call(t, 'POST', '/v1/chat/completions', b, live, { 'x-conflux-mock': 'nope' }));
  });

  it.skip('money: n>1 on free', async () => {
    const s = await signup(t);
    const k = (await createKey(t, s.token, 'live')).key;
    await setBalance(t, s.accountId, 2_000_000n); // 2 credits
    for (const model of ['gpt-6-luna', 'gemini-3.8-flash']) {
      const r = await call(t, 'POST', '/v1/chat/completions', { model, max_tokens: 2000, n: 128, messages: m2('hi') }, k);
      log(`n=128 ${model}`, { status: r.status, body: { usage: r.body?.usage, choices: r.body?.choices?.length, err: r.body?.error } });
      out.push('   money after: ' + JSON.stringify(await money(t, s.accountId), (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
    }
    function m2(c: string) { return [{ role: 'user', content: c }]; }
  });

  it.skip('money: file part unestimated', async () => {
    const s = await signup(t);
    const k = (await createKey(t, s.token, 'live')).key;
    await setBalance(t, s.accountId, 1_000_000n);
    const big = 'word '.repeat(20000);
    const r = await call(t, 'POST', '/v1/chat/completions', { model: 'gpt-6-luna', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: big, filename: 'a.txt' } }] }] }, k);
    log('file part', { status: r.status, body: { usage: r.body?.usage, err: r.body?.error } });
    out.push('   money after: ' + JSON.stringify(await money(t, s.accountId), (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
    const ev = await usageEvents(t, s.accountId);
    out.push('   events: ' + JSON.stringify(ev));
  });
});
