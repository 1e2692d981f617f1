import { describe, expect, it, vi } from 'vitest';
import { call, startApp } from '../support/app.js';

// One app per file: nestjs-pino's root logger is process-wide, so log capture needs its own process.
describe('a failure inside the server', () => {
  it('→ 500 with the request id, no stack trace, and a log line with that id', async () => {
    const broken = await startApp();
    try {
      await broken.db.destroy(); // the database goes away under the app
      const res = await call(broken, 'POST', '/auth/login', {
        email: 'a@example.com',
        password: 'a-long-password',
      });
      expect(res.status).toBe(500);
      expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(res.body.error.type).toBe('server_error');
      const requestId = res.headers.get('x-request-id')!;
      expect(res.body.error.message).toContain(requestId);
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
      await vi.waitFor(() => expect(broken.logs()).toContain(`"requestId":"${requestId}"`));
      expect(broken.logs()).not.toContain('a-long-password');
    } finally {
      await broken.app.close().catch(() => undefined);
    }
  });
});
