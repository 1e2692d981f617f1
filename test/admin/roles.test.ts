import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { requiredRole } from '../../src/admin/staff.guard.js';
import { call } from '../support/app.js';
import { useGateway } from '../support/gateway.js';
import { handlerOf, servedRoutes } from '../support/openapi.js';
import { ADMIN_ENV, staffSessions } from './support.js';

/**
 * Every `/admin` route the app serves (read from Fastify's route table, so a new route is in the matrix the day it
 * is added) × every kind of caller: no auth 401, a customer's session 403, a live key 403, a test key 403, support
 * 403 on admin-only routes and through the guard on the others, admin through the guard. "Through the guard" is
 * any answer but 401/403: the ids in the paths are unknown, so nothing is changed (404, or 400 for a body).
 */
describe('admin routes × roles', () => {
  const g = useGateway({ env: ADMIN_ENV });

  it('refuses everyone but staff on every admin route, and support on admin-only routes', async () => {
    const { admin, support } = await staffSessions(g.t);
    const routes = servedRoutes(g.t.app).filter((r) => r.url.startsWith('/admin'));
    expect(routes.length).toBeGreaterThanOrEqual(15);
    const spec = (await call(g.t, 'GET', '/openapi.json')).body;
    const reflector = g.t.app.get(Reflector);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const callers: Array<[string, string | undefined]> = [
      ['no auth', undefined],
      ['customer session', g.session],
      ['live key', g.liveKey],
      ['test key', g.testKey],
      ['support', support],
      ['admin', admin],
    ];
    const seen: string[] = [];
    for (const route of routes) {
      const operation = spec.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.path} is in the OpenAPI spec`).toBeDefined();
      expect(operation.tags, `${route.method} ${route.path} is tagged admin`).toEqual(['admin']);
      const handler = handlerOf(g.t.app, operation.operationId);
      const role = requiredRole(reflector, {
        getHandler: () => handler.controller.prototype[handler.method],
        getClass: () => handler.controller,
      });
      const url = route.url
        .replace(':id', unknown)
        .replace(':key_id', 'key_doesnotexist000000000000')
        .replace(':provider', 'no-such-provider');
      const body = ['POST', 'PATCH', 'DELETE'].includes(route.method) ? {} : undefined;
      for (const [who, token] of callers) {
        const res = await call(g.t, route.method, url, body, token);
        const label = `${route.method} ${route.url} as ${who}: ${res.status} ${JSON.stringify(res.body)}`;
        seen.push(`${route.method} ${route.url} ${who} ${res.status}`);
        expect(res.body.error?.type ?? 'ok', label).toBeDefined();
        switch (who) {
          case 'no auth':
            expect(res.status, label).toBe(401);
            break;
          case 'customer session':
          case 'live key':
          case 'test key':
            expect(res.status, label).toBe(403);
            break;
          case 'support':
            if (role === 'admin') {
              expect(res.status, label).toBe(403);
            } else {
              expect([401, 403], label).not.toContain(res.status);
            }
            break;
          default:
            expect([401, 403], label).not.toContain(res.status);
        }
      }
    }
    // Both kinds of routes were met.
    expect(seen.some((s) => s.startsWith('POST /admin/providers/:provider/drain support 403'))).toBe(true);
    expect(seen.some((s) => s.startsWith('GET /admin/accounts support 200'))).toBe(true);
    expect(seen.some((s) => s.startsWith('GET /admin/staff admin 200'))).toBe(true);
  });

  it('answers 200 to admin and support on the reads', async () => {
    const { admin, support } = await staffSessions(g.t);
    for (const token of [admin, support]) {
      expect((await call(g.t, 'GET', '/admin/accounts', undefined, token)).status).toBe(200);
      expect((await call(g.t, 'GET', '/admin/audit', undefined, token)).status).toBe(200);
      expect((await call(g.t, 'GET', '/admin/providers', undefined, token)).status).toBe(200);
    }
    expect((await call(g.t, 'GET', '/admin/staff', undefined, admin)).status).toBe(200);
  });
});
