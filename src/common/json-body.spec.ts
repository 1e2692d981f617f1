import { describe, expect, it } from 'vitest';
import { parseJsonBody } from './json-body.js';

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'parsed',
    (error: { code?: string }) => error.code,
  );

describe('JSON bodies', () => {
  it('parses small and large bodies alike, a large one across turns of the event loop', async () => {
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'é'.repeat(300_000) }] };
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    try {
      expect(await parseJsonBody(Buffer.from(JSON.stringify(body)))).toEqual(body);
    } finally {
      clearInterval(ticking);
    }
    expect(turns).toBeGreaterThan(0); // other work ran while it was parsed
    expect(await parseJsonBody(Buffer.from('{"a":[1,null,"x"]}'))).toEqual({ a: [1, null, 'x'] });
  });

  it("answers Fastify's errors for an empty body, invalid JSON and prototype keys, at any size", async () => {
    expect(await codeOf(parseJsonBody(Buffer.alloc(0)))).toBe('FST_ERR_CTP_EMPTY_JSON_BODY');
    expect(await codeOf(parseJsonBody(Buffer.from('{"a":')))).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
    const poisoned = `{"messages":[{"content":"${'x'.repeat(300_000)}","__proto__":{"admin":true}}]}`;
    expect(await codeOf(parseJsonBody(Buffer.from(poisoned)))).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
    expect(await codeOf(parseJsonBody(Buffer.from('{"constructor":{"prototype":{"x":1}}}')))).toBe(
      'FST_ERR_CTP_INVALID_JSON_BODY',
    );
  });
});
