import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signup, startApp, type TestApp } from '../support/app.js';

/** Inputs found to cause 500s in review: each must be a clear 4xx in the OpenAI shape. */
describe('odd input never becomes a 500', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startApp();
    token = (await signup(t)).token;
  });
  afterAll(() => t.close());

  const expectClientError = (
    res: { status: number; body: any; headers: Headers },
    status: number,
    param?: string,
  ) => {
    expect(res.status).toBe(status);
    expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    if (param !== undefined) {
      expect(res.body.error.param).toBe(param);
    }
  };

  it('a key name with a NUL character → 400 naming it', async () => {
    expectClientError(
      await call(t, 'POST', '/v1/keys', { name: 'a\u0000b', kind: 'live' }, token),
      400,
      'name',
    );
  });

  it.each(['+010000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', 8.64e15])(
    'an expiry beyond year 9999 (%s) → 400 naming expires_at',
    async (expires) => {
      const res = await call(t, 'POST', '/v1/keys', { name: 'x', kind: 'live', expires_at: expires }, token);
      expectClientError(res, 400, 'expires_at');
    },
  );

  it('revoking a malformed key id → 404', async () => {
    expectClientError(await call(t, 'DELETE', '/v1/keys/%00', undefined, token), 404);
    expectClientError(await call(t, 'DELETE', `/v1/keys/key_${'x'.repeat(90)}`, undefined, token), 404);
  });

  it.each(['/auth/signup', '/auth/login'])(
    'an email with a lone surrogate on %s → 400 naming email',
    async (path) => {
      // JSON can carry a lone surrogate escaped (\ud800), which no UTF-8 text can hold
      const body = '{"email":"a\\ud800@example.com","password":"a-long-password"}';
      expectClientError(await call(t, 'POST', path, body), 400, 'email');
      const trailing = '{"email":"a@example.com\\udfff","password":"a-long-password"}';
      expectClientError(await call(t, 'POST', path, trailing), 400, 'email');
    },
  );

  it('a malformed URL → 400 in the OpenAI shape', async () => {
    expectClientError(await call(t, 'DELETE', '/v1/keys/%ff', undefined, token), 400);
  });
});
