import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSpec } from '../../src/openapi-cli.js';
import { startApp, type TestApp } from '../support/app.js';

describe('OpenAPI', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t.close());

  it('serves Swagger UI at /docs and the spec at /openapi.json, with every public route and its auth', async () => {
    const docs = await fetch(`${t.url}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger-ui');
    const spec: any = await (await fetch(`${t.url}/openapi.json`)).json();
    for (const path of ['/auth/signup', '/auth/login', '/v1/keys', '/v1/keys/{id}', '/health/ready']) {
      expect(Object.keys(spec.paths)).toContain(path);
    }
    expect(spec.components.securitySchemes).toHaveProperty('apiKey');
    expect(spec.paths['/v1/keys'].post.security).toEqual(expect.arrayContaining([{ apiKey: [] }]));
    expect(spec.paths['/v1/keys'].post.responses['201']).toBeDefined();
  });

  it('matches the committed openapi.json (run `npm run openapi` after changing a route)', async () => {
    const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
    expect(await generateSpec()).toBe(committed);
  });
});
