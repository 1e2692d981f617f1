import { AccountsService } from '../../src/accounts/accounts.service.js';
import { call, type TestApp } from '../support/app.js';

/** The first admin every admin suite starts with (ADMIN_EMAIL / ADMIN_PASSWORD). */
export const ADMIN_ENV = { ADMIN_EMAIL: 'root@conflux.test', ADMIN_PASSWORD: 'admin-password-1' };

export async function login(t: Pick<TestApp, 'url'>, email: string, password: string): Promise<string> {
  const res = await call(t, 'POST', '/auth/login', { email, password });
  if (res.status !== 200) {
    throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.token as string;
}

let counter = 0;

/** The admin's session, and a support member created by it (with its session). */
export async function staffSessions(
  t: Pick<TestApp, 'url' | 'app'>,
): Promise<{ admin: string; support: string }> {
  await t.app.get(AccountsService).ensureAdmin(); // what main.ts does at start
  const admin = await login(t, ADMIN_ENV.ADMIN_EMAIL, ADMIN_ENV.ADMIN_PASSWORD);
  const email = `support-${process.pid}-${counter++}@conflux.test`;
  const created = await call(
    t,
    'POST',
    '/admin/staff',
    { email, password: 'support-password', role: 'support' },
    admin,
  );
  if (created.status !== 201) {
    throw new Error(`staff creation failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  return { admin, support: await login(t, email, 'support-password') };
}
