import { PROVIDER_IDS } from '../common/provider-ids.js';
import { PROVIDER_ENV, type Config } from './config.js';

/**
 * What a start-up says it cannot do, in words a newcomer can act on. Pure functions: main.ts (and the fakes' CLI)
 * print what they return.
 */

/** The warnings to log once the gateway listens: what will not work with this configuration, and the fix. */
export function startupWarnings(config: Pick<Config, 'providers'>): string[] {
  if (PROVIDER_IDS.some((id) => config.providers[id].enabled)) {
    return [];
  }
  const variables = PROVIDER_IDS.map((id) => `${PROVIDER_ENV[id]}_API_KEY`).join(', ');
  return [
    `No provider API key is set (${variables}): ` +
      'requests with live keys (cf_live_…) will get 503 service_unavailable; test keys (cf_test_…) still get mock ' +
      'answers. Set at least one provider key, or run `npm run fakes` in another terminal and start the gateway ' +
      'with the environment it prints.',
  ];
}

/**
 * One line for a port that cannot be listened on (taken, or not allowed), naming the variable that moves it;
 * undefined for any other error (which keeps its stack: it is a bug or an outage, not a setting).
 */
export function listenFailure(
  error: unknown,
  variable: string,
  port: number,
  host: string,
): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') {
    return (
      `Port ${port} on ${host} is already in use (another gateway, or \`npm run fakes\`, may be running). ` +
      `Stop it, or choose another port: ${variable}=<port>.`
    );
  }
  if (code === 'EACCES') {
    return `Not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges). Choose another port: ${variable}=<port>.`;
  }
  if (code === 'EADDRNOTAVAIL') {
    return `Cannot listen on ${host}:${port}: the address is not one of this machine's. Set HOST to one of its addresses (or 0.0.0.0).`;
  }
  return undefined;
}

/** The line to log at start when no mail can be sent: what that turns off, and how to turn it on. */
export function mailNotice(config: Pick<Config, 'mail'>): string | undefined {
  if (config.mail.smtpUrl !== undefined) {
    return undefined;
  }
  return (
    'SMTP_URL is not set: no mail is sent, so email addresses are not verified (REQUIRE_EMAIL_VERIFICATION is off) ' +
    'and password reset is unavailable. Set SMTP_URL and MAIL_FROM, or try mail locally with the SMTP catcher of ' +
    '`npm run fakes`.'
  );
}
