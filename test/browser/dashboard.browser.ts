import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakes, type Fakes } from '../fakes/index.js';
import { SmtpCatcher, tokenOf } from '../fakes/smtp.js';
import { startApp, type TestApp } from '../support/app.js';
import { client, gatewayEnv } from '../support/gateway.js';

/** Where the screenshots go (the README names it); git-ignored. */
const SHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = 'a-long-password';

/**
 * Network answers the browser reports on the console that the dashboard expects: the routes of features this
 * gateway may not have yet (usage history, the live stream, Stripe billing: 404, or 503 when billing is not
 * configured), the billing page's probe (400 when it is), and the sign-up this test sends with a short password on
 * purpose (400, which the form shows). Anything else on the console fails the test.
 */
const EXPECTED_REFUSALS = [
  /\/v1\/usage(\/stream)?(\?|$)/,
  /\/v1\/billing\/checkout$/,
  /\/auth\/signup$/,
  // The resend this test asks for within the minute of the sign-up's mail (429, which the banner shows), the link
  // it opens a second time (400, used already) and the common password it tries on reset (400): each page shows why.
  /\/auth\/verify\/resend$/,
  /\/auth\/verify$/,
  /\/auth\/password\/reset$/,
];

let fakes: Fakes;
let t: TestApp;
let browser: Browser;
const consoleErrors: string[] = [];

function watch(page: Page, name: string): void {
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() !== 'error') {
      return;
    }
    const url = message.location().url;
    if (
      message.text().startsWith('Failed to load resource') &&
      EXPECTED_REFUSALS.some((re) => re.test(url))
    ) {
      return;
    }
    consoleErrors.push(`${name}: ${message.text()} (${url})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`${name}: uncaught ${error.message}`));
}

async function open(context: BrowserContext, name: string): Promise<Page> {
  const page = await context.newPage();
  watch(page, name);
  return page;
}

/** A link of the main navigation (the pages link to each other too). */
function nav(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}

/** The page is no wider than the window (at 390 px: no sideways scrolling on a phone). */
async function fits(page: Page, name: string): Promise<void> {
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
  expect(overflow, `${name} fits the window`).toBeLessThanOrEqual(0);
}

async function shot(page: Page, name: string, width: 'desktop' | 'phone'): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
}

/** Whether this gateway serves a route (features built on other branches may not be merged yet). */
async function serves(path: string, token: string): Promise<boolean> {
  const controller = new AbortController();
  const response = await fetch(t.url + path, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  controller.abort();
  return response.status !== 404;
}

async function sessionToken(email: string): Promise<string> {
  const response = await fetch(`${t.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  return ((await response.json()) as { token: string }).token;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  fakes = await startFakes();
  t = await startApp(gatewayEnv(fakes));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox'],
  });
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await fakes?.close();
});

describe('the dashboard in Chromium', () => {
  it('serves the pages with a CSP that allows no inline script', async () => {
    const response = await fetch(`${t.url}/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await response.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    // First load: the one JS bundle, well under 200 KB.
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const bundle = await fetch(t.url + js);
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeLessThan(200 * 1024);
  });

  it('shows every model with its prices to a visitor who is not logged in', async () => {
    for (const [width, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      const context = await browser.newContext({ viewport });
      const page = await open(context, `models-${width}`);
      await page.goto(`${t.url}/models`);
      await page.getByRole('heading', { name: 'Models' }).waitFor();
      const rows = page.locator('tr[data-model]');
      await rows.nth(15).waitFor();
      expect(await rows.count()).toBe(16);
      const catalog = (await (await fetch(`${t.url}/dashboard/models.json`)).json()) as {
        data: { id: string; pricing: { input_credits_per_million_tokens: string } }[];
      };
      expect(catalog.data).toHaveLength(16);
      for (const model of catalog.data) {
        const row = page.locator(`tr[data-model="${model.id}"]`);
        expect(await row.locator('td.price').count()).toBe(2);
        expect(await row.locator('td.price').first().innerText()).toMatch(/^[\d,.]+ cr$/);
      }
      expect(await page.getByRole('link', { name: 'Log in' }).isVisible()).toBe(true);
      await fits(page, 'models');
      await shot(page, 'models', width);

      await page.getByRole('link', { name: 'Status' }).first().click();
      await page
        .getByText('All systems operational')
        .or(page.getByText('Some models are degraded'))
        .or(page.getByText('Major outage'))
        .waitFor();
      await fits(page, 'status');
      await shot(page, 'status', width);

      await page.goto(`${t.url}/login`);
      await page.getByLabel('Email').waitFor();
      await shot(page, 'login', width);
      await page.goto(`${t.url}/signup`);
      await page.getByRole('button', { name: 'Sign up' }).waitFor();
      await shot(page, 'signup', width);
      await context.close();
    }
  });

  it('takes a new user from sign-up to a revoked key, without reloading', async () => {
    const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
    const page = await open(context, 'journey');
    const email = `browser-${Date.now()}@example.com`;

    // Sign up (a wrong password first: the form says why).
    await page.goto(`${t.url}/`);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('password must be at least 12 characters').waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const balance = page.getByTestId('balance');
    await balance.waitFor();
    expect(await balance.innerText()).toBe('500');

    // A live key: the raw key is shown once, with a warning.
    await nav(page, 'API keys').click();
    await page.getByLabel('Name').fill('browser test');
    await page.getByLabel('Kind').selectOption('live');
    await page.getByRole('button', { name: 'Create key' }).click();
    const rawInput = page.getByTestId('new-key');
    await rawInput.waitFor();
    const raw = await rawInput.inputValue();
    expect(raw).toMatch(/^cf_live_[0-9A-Za-z]{38}$/);
    await page.getByText('it will not be shown again').waitFor();
    const row = page.locator('tr', { hasText: 'browser test' });
    await row.waitFor();
    expect(await row.innerText()).toContain(raw.slice(0, 12));
    expect(await row.innerText()).not.toContain(raw);
    expect(await row.innerText()).toContain('No credit limit');

    // Its settings: a budget, a model list, a rate limit; then a rotation with the new secret shown once.
    await row.getByRole('button', { name: 'Edit browser test' }).click();
    const settings = page.locator('dialog');
    await settings.getByLabel('Credit limit per billing period').fill('25');
    await settings.getByLabel('Allowed models').fill('gpt-6-luna, claude-haiku-5-5');
    await settings.getByLabel('Requests per minute').fill('30');
    await settings.getByRole('button', { name: 'Save' }).click();
    await row.getByText('0 of 25 credits').waitFor();
    expect(await row.innerText()).toContain('gpt-6-luna, claude-haiku-5-5');
    expect(await row.innerText()).toContain('30 requests/min');
    await row.getByRole('button', { name: 'Rotate browser test' }).click();
    await settings.getByLabel('Grace period (hours)').fill('2');
    await settings.getByRole('button', { name: 'Rotate key' }).click();
    const rotatedInput = page.getByTestId('rotated-key');
    await rotatedInput.waitFor();
    const rotated = await rotatedInput.inputValue();
    expect(rotated).toMatch(/^cf_live_[0-9A-Za-z]{38}$/);
    expect(rotated).not.toBe(raw);
    await page.getByText('The old secret works until').waitFor();
    await shot(page, 'keys', 'desktop');

    // Calls through the OpenAI SDK: the Overview shows the balance fall without a reload.
    await nav(page, 'Overview').click();
    await balance.waitFor();
    await balance.filter({ hasText: /^500$/ }).waitFor();
    const token = await sessionToken(email);
    const streamed = await serves('/v1/usage/stream', token);
    if (streamed) {
      await page.getByTestId('live-status').getByText('Live').waitFor();
    }
    const sdk: OpenAI = client(t, raw);
    for (let i = 0; i < 3; i++) {
      const completion = await sdk.chat.completions.create({
        model: 'gpt-6-luna',
        messages: [{ role: 'user', content: `Hello from the browser test ${i}` }],
      });
      expect(completion.choices[0].message.content).toBeTruthy();
    }
    await balance.filter({ hasNotText: /^500$/ }).waitFor();
    expect(Number((await balance.innerText()).replace(/,/g, ''))).toBeLessThan(500);
    // The graph moves too: from the stream's events, or, on a gateway without it, from the balance's readings.
    await page
      .getByTestId('chart-total')
      .filter({ hasText: /^3 requests/ })
      .waitFor();
    if (streamed) {
      await page.getByTestId('latest').locator('tbody tr').nth(2).waitFor();
    } else {
      console.warn(
        'GET /v1/usage/stream answers 404 on this gateway: the live stream and latest requests are not checked.',
      );
    }
    await shot(page, 'overview', 'desktop');

    // Usage: filter by the key, totals per key, and the CSV.
    await nav(page, 'Usage').click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    if (await serves('/v1/usage', token)) {
      await page.getByTestId('usage-table').locator('tbody tr').nth(2).waitFor();
      const keyOption = await page
        .getByLabel('Key')
        .locator('option', { hasText: 'browser test' })
        .getAttribute('value');
      await page.getByLabel('Key').selectOption(keyOption ?? '');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.getByTestId('usage-table').locator('tbody tr').nth(2).waitFor();
      await page.getByTestId('key-totals').getByText('browser test').waitFor();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export CSV' }).click(),
      ]);
      const csv = readFileSync(await download.path(), 'utf8');
      expect(csv.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(4); // a header and 3 rows
      expect(csv).not.toContain('Hello from the browser test');
    } else {
      console.warn('GET /v1/usage answers 404 on this gateway: the usage filters and CSV are not checked.');
      await page.getByText('Usage history is not available yet').first().waitFor();
    }
    await shot(page, 'usage', 'desktop');

    // Billing: the plan, and plainly whether Stripe is there.
    await nav(page, 'Billing').click();
    await page.getByRole('heading', { name: 'Plans' }).waitFor();
    await page.getByText('Current plan').waitFor();
    await page
      .getByText('Billing is not configured on this gateway')
      .or(page.getByText('Billing is not available on this gateway yet'))
      .or(page.getByRole('button', { name: 'Manage billing' }))
      .waitFor();
    await shot(page, 'billing', 'desktop');

    // Revoke, with confirmation: the key's next call fails with 401.
    await nav(page, 'API keys').click();
    await page.getByRole('button', { name: 'Revoke browser test' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('This cannot be undone').waitFor();
    await shot(page, 'revoke-dialog', 'desktop');
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await page
      .locator('tr', { hasText: 'browser test' })
      .getByText(/^Revoked/)
      .waitFor();
    const refused = await sdk.chat.completions
      .create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'after revoke' }] })
      .then(
        () => null,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);

    // The session lives in memory only: nothing in the browser's storage.
    const stored = await page.evaluate<string>(
      'JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie',
    );
    expect(stored).toBe('{}{}');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await context.close();

    // The same pages on a phone, after logging in.
    const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    const small = await open(phone, 'phone');
    await small.goto(`${t.url}/keys`);
    await small.getByLabel('Email').fill(email);
    await small.getByLabel('Password').fill(PASSWORD);
    await small.getByRole('button', { name: 'Log in' }).click();
    await small.getByRole('heading', { name: 'API keys' }).waitFor();
    await small.locator('tr', { hasText: 'browser test' }).waitFor();
    await fits(small, 'keys');
    await shot(small, 'keys', 'phone');
    for (const [link, heading, name] of [
      ['Overview', 'Overview', 'overview'],
      ['Usage', 'Usage', 'usage'],
      ['Billing', 'Billing', 'billing'],
    ] as const) {
      await nav(small, link).click();
      await small.getByRole('heading', { name: heading, exact: true }).waitFor();
      await small.locator('.spinner').first().waitFor({ state: 'detached' });
      await fits(small, name);
      await shot(small, name, 'phone');
    }
    await phone.close();
  });

  it('can be used with the keyboard alone', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await open(context, 'keyboard');
    await page.goto(`${t.url}/signup`);
    await page.getByLabel('Email').waitFor();
    await page.keyboard.type(`keys-${Date.now()}@example.com`); // the email field has the focus
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // Tab from the top of the page reaches the navigation.
    await page.locator('.skip').focus();
    const reached: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate<string>(`document.activeElement?.textContent?.trim() ?? ''`));
    }
    expect(reached).toContain('API keys');
    await context.close();
  });

  it('verifies an address and resets a password from the mails, on a desktop and on a phone', async () => {
    const smtp = new SmtpCatcher();
    await smtp.start();
    const mailed = await startApp(gatewayEnv(fakes, smtp.env));
    try {
      const context = await browser.newContext({ viewport: DESKTOP });
      const page = await open(context, 'verify');
      const email = `verify-${Date.now()}@example.com`;
      await page.goto(`${mailed.url}/signup`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign up' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      // Unverified: the banner says so, and a resend within the minute says when to try again.
      await page.getByText(`Verify ${email}`).waitFor();
      await page.getByRole('button', { name: 'Resend the mail' }).click();
      await page.getByText(/At most 1 verification mail a minute/).waitFor();
      await shot(page, 'verify-banner', 'desktop');

      const token = tokenOf(await smtp.nextMail(email));
      await page.goto(`${mailed.url}/verify?token=${token}`);
      await page.getByText('Your address is verified').waitFor();
      expect(page.url()).not.toContain(token); // taken out of the address bar and the history
      await shot(page, 'verify', 'desktop');
      await page.goto(`${mailed.url}/verify?token=${token}`);
      await page.getByText('was used already').waitFor();
      await context.close();

      // A forgotten password, on a phone: the link on the login page, the mail, the new password.
      const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
      const small = await open(phone, 'reset');
      await small.goto(`${mailed.url}/login`);
      await small.getByRole('link', { name: 'Forgot your password?' }).click();
      await small.getByLabel('Email').fill(email);
      await small.getByRole('button', { name: 'Send the reset link' }).click();
      await small.getByText('If an account uses this address').waitFor();
      await fits(small, 'forgot');
      await shot(small, 'forgot-password', 'phone');
      const reset = tokenOf(await smtp.nextMail(email));
      await small.goto(`${mailed.url}/reset-password?token=${reset}`);
      await small.getByLabel('New password').fill('password1234');
      await small.getByRole('button', { name: 'Set the new password' }).click();
      await small.getByText('password is too common').waitFor();
      await small.getByLabel('New password').fill('a brand new pass phrase');
      await small.getByRole('button', { name: 'Set the new password' }).click();
      await small.getByText('Your password is changed').waitFor();
      await fits(small, 'reset');
      await shot(small, 'reset-password', 'phone');
      await small.getByRole('link', { name: 'Log in' }).last().click();
      await small.getByLabel('Email').fill(email);
      await small.getByLabel('Password').fill('a brand new pass phrase');
      await small.getByRole('button', { name: 'Log in' }).click();
      await small.getByRole('heading', { name: 'Overview' }).waitFor();
      expect(await small.getByText(`Verify ${email}`).count()).toBe(0);

      // The account page: change the password, then log out everywhere.
      await small.goto(`${mailed.url}/login?next=%2Faccount`);
      await small.getByLabel('Email').fill(email);
      await small.getByLabel('Password').fill('a brand new pass phrase');
      await small.getByRole('button', { name: 'Log in' }).click();
      await small.getByRole('heading', { name: 'Account' }).waitFor();
      await small.getByLabel('Current password').fill('a brand new pass phrase');
      await small.getByLabel('New password').fill('the third pass phrase');
      await small.getByRole('button', { name: 'Change the password' }).click();
      await small.getByText(/Password changed\. 1 other session was ended/).waitFor();
      await fits(small, 'account');
      await shot(small, 'account', 'phone');
      await small.getByRole('button', { name: 'Log out everywhere' }).click();
      await small.getByRole('button', { name: 'Log in' }).waitFor();
      await phone.close();

      const wide = await browser.newContext({ viewport: DESKTOP });
      const desk = await open(wide, 'account-desktop');
      await desk.goto(`${mailed.url}/login?next=%2Faccount`);
      await desk.getByLabel('Email').fill(email);
      await desk.getByLabel('Password').fill('the third pass phrase');
      await desk.getByRole('button', { name: 'Log in' }).click();
      await desk.getByRole('heading', { name: 'Account' }).waitFor();
      await shot(desk, 'account', 'desktop');
      await wide.close();
    } finally {
      await mailed.close();
      await smtp.close();
    }
  });

  it('wrote no error to the console on any page', () => {
    expect(consoleErrors).toEqual([]);
  });
});
