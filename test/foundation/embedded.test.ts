import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { PGLITE_SETTINGS } from '../../src/database/pglite-driver.js';

describe('embedded default (PGlite)', () => {
  it('boots from an empty data directory, serves requests, and keeps its data across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conflux-data-'));
    const env = { PGLITE_DATA_DIR: join(dir, 'pglite'), PORT: '0', LOG_LEVEL: 'silent' };
    try {
      expect(loadConfig(env).database.kind).toBe('pglite');
      const first = await createApp(loadConfig(env));
      await first.listen(0, '127.0.0.1');
      const url = `http://127.0.0.1:${(first.getHttpServer().address() as { port: number }).port}`;
      const signup = await fetch(`${url}/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'embedded@example.com', password: 'a-long-password' }),
      });
      expect(signup.status).toBe(201);
      // The embedded database runs with the gateway's settings, not Postgres' server defaults.
      const db = first.get<DataSource>(getDataSourceToken());
      for (const [name, value] of Object.entries(PGLITE_SETTINGS)) {
        const [row] = (await db.query(`SHOW ${name}`)) as Record<string, string>[];
        expect({ name, value: row[name] }).toEqual({ name, value });
      }
      await first.close();
      expect(readdirSync(join(dir, 'pglite')).length).toBeGreaterThan(0);

      const second = await createApp(loadConfig(env));
      await second.listen(0, '127.0.0.1');
      const url2 = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
      const login = await fetch(`${url2}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'embedded@example.com', password: 'a-long-password' }),
      });
      expect(login.status).toBe(200);
      const [row] = (await second.get<DataSource>(getDataSourceToken()).query('SHOW shared_buffers')) as {
        shared_buffers: string;
      }[];
      expect(row.shared_buffers).toBe(PGLITE_SETTINGS.shared_buffers);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration', () => {
  it('stops with a message naming the variable when a value is bad', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ RATE_LIMIT_RPM: '0' })).toThrow(/RATE_LIMIT_RPM/);
    expect(() => loadConfig({ ADMIN_EMAIL: 'a@b.c' })).toThrow(/ADMIN_PASSWORD/);
    expect(() => loadConfig({ OPENAI_BASE_URL: 'ftp://x' })).toThrow(/OPENAI_BASE_URL/);
  });

  it('enables only the providers that have a key', () => {
    const config = loadConfig({ GROQ_API_KEY: 'gsk_x' });
    expect(config.providers.groq.enabled).toBe(true);
    expect(config.providers.openai.enabled).toBe(false);
  });
});
