import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import type { Fakes } from '../fakes/index.js';
import { useGateway } from '../support/gateway.js';
import { call, createKey, signup, type TestApp } from '../support/app.js';

const CHAT = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user' as const, content: 'hello' }],
  max_tokens: 5,
};

describe('key settings, rotation and the audit log', () => {
  const clock = new ManualClock();
  // a plan limit of 60 per minute, as in production (the gateway suites otherwise raise it)
  const g = useGateway({ clock, env: { RATE_LIMIT_RPM: '60' } });
  let t: TestApp;
  let fakes: Fakes;
  beforeAll(() => {
    ({ t, fakes } = g);
  });

  it('shows one key with its settings and use, and renames it', async () => {
    const { token } = await signup(t);
    const { id } = await createKey(t, token, 'live');
    const shown = await call(t, 'GET', `/v1/keys/${id}`, undefined, token);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id,
      credit_limit: null,
      allowed_models: null,
      rate_limit_rpm: null,
      usage: { credits: '0', requests: 0 },
      rotated_at: null,
      previous_key_valid_until: null,
    });
    const renamed = await call(t, 'PATCH', `/v1/keys/${id}`, { name: 'batch jobs' }, token);
    expect(renamed.body.name).toBe('batch jobs');
    expect((await call(t, 'GET', `/v1/keys/key_nope`, undefined, token)).status).toBe(404);
  });

  it('refuses bad settings with 400 naming the field', async () => {
    const { token } = await signup(t);
    const { id } = await createKey(t, token, 'live');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ credit_limit: '-1' }, 'credit_limit'],
      [{ credit_limit: '1.1234567' }, 'credit_limit'],
      [{ credit_limit: 'lots' }, 'credit_limit'],
      [{ allowed_models: ['gpt-6-luna', 'gpt-9'] }, 'allowed_models[1]'],
      [{ allowed_models: [] }, 'allowed_models'],
      [{ rate_limit_rpm: 61 }, 'rate_limit_rpm'],
      [{ rate_limit_rpm: 0 }, 'rate_limit_rpm'],
      [{ rate_limit_rpm: 1.5 }, 'rate_limit_rpm'],
    ];
    for (const [body, param] of cases) {
      const res = await call(t, 'PATCH', `/v1/keys/${id}`, body, token);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param, JSON.stringify(body)).toBe(param);
    }
    const bad = await call(t, 'PATCH', `/v1/keys/${id}`, { allowed_models: ['gpt-9'] }, token);
    expect(bad.body.error.message).toContain('gpt-9');
  });

  it('enforces allowed_models on the model, on every entry of models, and skips fallbacks outside the list', async () => {
    const { token } = await signup(t);
    for (const kind of ['live', 'test'] as const) {
      const { key, id } = await createKey(t, token, kind);
      const set = await call(t, 'PATCH', `/v1/keys/${id}`, { allowed_models: ['gpt-6-luna'] }, token);
      expect(set.body.allowed_models).toEqual(['gpt-6-luna']);
      expect((await call(t, 'POST', '/v1/chat/completions', CHAT, key)).status).toBe(200);

      const other = await call(
        t,
        'POST',
        '/v1/chat/completions',
        { ...CHAT, model: 'claude-haiku-5-5' },
        key,
      );
      expect(other.status).toBe(403);
      expect(other.body.error).toMatchObject({ code: 'model_not_allowed', param: 'model' });
      expect(other.body.error.message).toContain('claude-haiku-5-5');

      const viaModels = await call(
        t,
        'POST',
        '/v1/chat/completions',
        { ...CHAT, models: ['gpt-6-luna', 'gemini-3.8-flash'] },
        key,
      );
      expect(viaModels.status).toBe(403);
      expect(viaModels.body.error).toMatchObject({ code: 'model_not_allowed', param: 'models[1]' });
      expect(viaModels.body.error.message).toContain('gemini-3.8-flash');
    }

    // gpt-6-luna's catalog fallback (claude-haiku-5-5) is not allowed: with OpenAI down the request is not sent there
    const { key, id } = await createKey(t, token, 'live');
    await call(t, 'PATCH', `/v1/keys/${id}`, { allowed_models: ['gpt-6-luna'] }, token);
    fakes.openai.setDown();
    const down = await call(t, 'POST', '/v1/chat/completions', CHAT, key);
    expect(down.status).toBeGreaterThanOrEqual(500);
    expect(fakes.anthropic.chatRequests()).toHaveLength(0);
    fakes.openai.setDown(false);
  });

  it('enforces rate_limit_rpm exactly, per key, and clears it', async () => {
    const { token } = await signup(t);
    const { key, id } = await createKey(t, token, 'live');
    const other = await createKey(t, token, 'live');
    expect((await call(t, 'PATCH', `/v1/keys/${id}`, { rate_limit_rpm: 5 }, token)).status).toBe(200);
    clock.set(Math.ceil(clock.now() / 60_000) * 60_000); // the start of a window
    const statuses = (
      await Promise.all(Array.from({ length: 12 }, () => call(t, 'GET', '/v1/keys', undefined, key)))
    ).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    const refused = await call(t, 'GET', '/v1/keys', undefined, key);
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('5');
    expect((await call(t, 'GET', '/v1/keys', undefined, other.key)).status).toBe(200);
    clock.advance(60_000);
    await call(t, 'PATCH', `/v1/keys/${id}`, { rate_limit_rpm: null }, token);
    const after = await Promise.all(
      Array.from({ length: 12 }, () => call(t, 'GET', '/v1/keys', undefined, key)),
    );
    expect(after.every((r) => r.status === 200)).toBe(true);
  });

  it('rotates a key: both work during the grace period, the old one is refused after it, the budget is the same', async () => {
    for (const kind of ['live', 'test'] as const) {
      // a session per round: the clock moves past a session's lifetime below
      const { token } = await signup(t);
      const { key: old, id } = await createKey(t, token, kind);
      await call(t, 'PATCH', `/v1/keys/${id}`, { credit_limit: '5', rate_limit_rpm: 50, name: 'svc' }, token);
      expect((await call(t, 'POST', '/v1/chat/completions', CHAT, old)).status).toBe(200);
      const rotated = await call(t, 'POST', `/v1/keys/${id}/rotate`, { grace_seconds: 3600 }, token);
      expect(rotated.status).toBe(201);
      const fresh: string = rotated.body.key;
      expect(fresh).toMatch(new RegExp(`^cf_${kind}_`));
      expect(fresh).not.toBe(old);
      expect(rotated.body).toMatchObject({ id, name: 'svc', credit_limit: '5', rate_limit_rpm: 50 });
      expect(rotated.body.previous_key_valid_until).toBe(new Date(clock.now() + 3600_000).toISOString());

      for (const raw of [old, fresh]) {
        expect((await call(t, 'POST', '/v1/chat/completions', CHAT, raw)).status).toBe(200);
      }
      const shown = await call(t, 'GET', `/v1/keys/${id}`, undefined, token);
      expect(shown.body.usage.requests).toBe(3); // one counter for the key, whichever secret was used

      clock.advance(3600_000);
      const refused = await call(t, 'POST', '/v1/chat/completions', CHAT, old);
      expect(refused.status).toBe(401);
      expect(refused.body.error.message).toContain('rotated');
      expect(refused.body.error.message).toContain(id);
      expect((await call(t, 'POST', '/v1/chat/completions', CHAT, fresh)).status).toBe(200);
    }
  });

  it('rotates with a 24 h grace by default, at most 7 days', async () => {
    const { token } = await signup(t);
    const { id } = await createKey(t, token, 'live');
    const rotated = await call(t, 'POST', `/v1/keys/${id}/rotate`, {}, token);
    expect(rotated.body.previous_key_valid_until).toBe(new Date(clock.now() + 86_400_000).toISOString());
    const tooLong = await call(t, 'POST', `/v1/keys/${id}/rotate`, { grace_seconds: 604_801 }, token);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.param).toBe('grace_seconds');
    await call(t, 'DELETE', `/v1/keys/${id}`, undefined, token);
    expect((await call(t, 'POST', `/v1/keys/${id}/rotate`, {}, token)).status).toBe(400);
  });

  it('records every key change in the audit log, without a secret', async () => {
    const { token, accountId } = await signup(t);
    const { key, id } = await createKey(t, token, 'live');
    await call(t, 'PATCH', `/v1/keys/${id}`, { credit_limit: '2.5', allowed_models: ['gpt-6-luna'] }, token);
    const rotated = await call(t, 'POST', `/v1/keys/${id}/rotate`, { grace_seconds: 60 }, token);
    await call(t, 'DELETE', `/v1/keys/${id}`, undefined, token);
    const rows: Array<{ action: string; before: unknown; after: unknown; actor_id: string }> =
      await t.db.query(
        `SELECT action, before, after, actor_id FROM audit_log WHERE target_id = $1 ORDER BY id`,
        [id],
      );
    expect(rows.map((r) => r.action)).toEqual(['key.create', 'key.update', 'key.rotate', 'key.revoke']);
    expect(rows.every((r) => r.actor_id === accountId)).toBe(true);
    const update = rows[1];
    expect(JSON.stringify(update.after)).toContain('"credit_limit":"2.5"');
    const text = JSON.stringify(rows);
    for (const secret of [key, rotated.body.key as string]) {
      expect(text).not.toContain(secret.slice(8, 40));
    }
    await vi.waitFor(() => expect(t.logs()).toContain(`/rotate`));
    expect(t.logs()).not.toContain((rotated.body.key as string).slice(8, 40));
    expect(t.logs()).not.toContain(key.slice(8, 40));
  });
});
