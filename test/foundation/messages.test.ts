import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { generateKey } from '../../src/keys/key-format.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';

/** Issue 12, item 5: each refusal names what is actually wrong, and the field (`param`) at fault. */
describe('messages that say what is wrong', () => {
  const clock = new ManualClock();
  let t: TestApp;
  let session: string;
  beforeAll(async () => {
    t = await startApp({}, { clock });
    session = (await signup(t)).token;
  });
  afterAll(() => t.close());

  it('POST /v1/keys {} names the missing name, not a constraint its absent value breaks', async () => {
    const res = await call(t, 'POST', '/v1/keys', {}, session);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      message: "Missing required parameter: 'name'.",
      type: 'invalid_request_error',
      param: 'name',
      code: null,
    });
    const noKind = await call(t, 'POST', '/v1/keys', { name: 'x' }, session);
    expect(noKind.body.error).toMatchObject({
      message: "Missing required parameter: 'kind'.",
      param: 'kind',
    });
  });

  it('a name of the wrong type or length says so', async () => {
    const number = await call(t, 'POST', '/v1/keys', { name: 5, kind: 'test' }, session);
    expect(number.body.error).toMatchObject({ message: 'name must be a string', param: 'name' });
    const empty = await call(t, 'POST', '/v1/keys', { name: '', kind: 'test' }, session);
    expect(empty.body.error).toMatchObject({
      message: 'name must be 1 to 100 characters long',
      param: 'name',
    });
  });

  it('expires_at "tomorrow" is not a date-time (not "before the year 10000")', async () => {
    const res = await call(
      t,
      'POST',
      '/v1/keys',
      { name: 'x', kind: 'live', expires_at: 'tomorrow' },
      session,
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      message: 'expires_at must be an ISO 8601 date-time',
      param: 'expires_at',
    });
    const far = await call(
      t,
      'POST',
      '/v1/keys',
      { name: 'x', kind: 'live', expires_at: '+010000-01-01T00:00:00Z' },
      session,
    );
    expect(far.body.error).toMatchObject({ message: 'expires_at must be before the year 10000' });
  });

  it('an unknown field is named as such', async () => {
    const res = await call(t, 'POST', '/v1/keys', { name: 'x', kind: 'live', admin: true }, session);
    expect(res.body.error).toMatchObject({
      message: 'Unrecognized request argument supplied: admin',
      param: 'admin',
    });
  });

  it('/auth/signup {} says the email is missing, not that it is too long', async () => {
    const res = await call(t, 'POST', '/auth/signup', {});
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ message: "Missing required parameter: 'email'.", param: 'email' });
    const noPassword = await call(t, 'POST', '/auth/signup', { email: 'new@example.com' });
    expect(noPassword.body.error).toMatchObject({
      message: "Missing required parameter: 'password'.",
      param: 'password',
    });
    const numeric = await call(t, 'POST', '/auth/signup', { email: 'new@example.com', password: 12345678 });
    expect(numeric.body.error).toMatchObject({ message: 'password must be a string', param: 'password' });
  });

  it('a video content part names the part type, not "must be string"', async () => {
    const { key } = await createKey(t, session, 'test');
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      {
        model: 'gpt-6-luna',
        messages: [
          { role: 'user', content: [{ type: 'video', video: { url: 'https://example.com/a.mp4' } }] },
        ],
      },
      key,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('messages[0].content[0].type');
    expect(res.body.error.message).toContain('"video"');
    expect(res.body.error.message).toContain("Supported values are: 'text', 'image_url'");
  });

  it('an expired key says it expired, and when; a revoked key that it was revoked (still 401)', async () => {
    const expiresAt = new Date(clock.now() + 60_000).toISOString();
    const expiring = await createKey(t, session, 'live', { expires_at: expiresAt });
    clock.advance(60_000);
    const expired = await call(t, 'GET', '/v1/keys', undefined, expiring.key);
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('invalid_api_key');
    expect(expired.body.error.message).toContain(`expired at ${expiresAt}`);
    expect(expired.body.error.message).toContain(expiring.id);

    const revocable = await createKey(t, session, 'live');
    const revoked = await call(t, 'DELETE', `/v1/keys/${revocable.id}`, undefined, session);
    const refused = await call(t, 'GET', '/v1/keys', undefined, revocable.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('invalid_api_key');
    expect(refused.body.error.message).toContain(`was revoked at ${revoked.body.revoked_at}`);
  });

  it('an unknown key (well-formed, never issued) keeps the generic message', async () => {
    const unknown = await call(t, 'GET', '/v1/keys', undefined, generateKey('live'));
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toBe(
      'Incorrect API key provided. You can find your API keys in the Conflux dashboard.',
    );
  });
});
