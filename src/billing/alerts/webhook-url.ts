import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { Agent } from 'undici';

/**
 * Whether an address is one a customer's webhook must not reach from inside our network: loopback, private
 * (RFC 1918, unique local), link-local (cloud metadata at 169.254.169.254), unspecified, CGNAT, multicast.
 */
export function isPrivateAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  const v6 = address.toLowerCase();
  return (
    v6 === '::' ||
    v6 === '::1' ||
    v6.startsWith('fc') ||
    v6.startsWith('fd') ||
    v6.startsWith('fe80') ||
    v6.startsWith('ff')
  );
}

/** Why a webhook URL is refused (null: it may be used): http(s) only, no credentials, no private host. */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'alert_webhook_url must be an absolute http(s) URL.';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return 'alert_webhook_url must use https (or http).';
  }
  if (url.username || url.password) {
    return 'alert_webhook_url must not carry credentials: verify the Conflux-Signature header instead.';
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (
    !allowPrivate &&
    (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) && isPrivateAddress(host)))
  ) {
    return 'alert_webhook_url must be a public address (not loopback, private or link-local).';
  }
  return null;
}

/**
 * The dispatcher webhooks are sent through: every address a host name resolves to is checked when the connection
 * is made (a name that resolves to a private address, or is re-pointed there later, is refused).
 */
export function webhookDispatcher(allowPrivate: boolean, timeoutMs: number): Agent {
  return new Agent({
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: {
      lookup: (hostname, options, callback) => {
        lookup(hostname, { ...options, all: true }, (error, addresses) => {
          if (error) {
            return callback(error, '', 4);
          }
          const list = addresses;
          const refused = !allowPrivate && list.some((a) => isPrivateAddress(a.address));
          if (refused || list.length === 0) {
            return callback(new Error(`webhook host ${hostname} resolves to a private address`), '', 4);
          }
          if ((options as { all?: boolean }).all) {
            return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
          }
          callback(null, list[0].address, list[0].family);
        });
      },
    },
  });
}
