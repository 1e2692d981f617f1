import { createHash } from 'node:crypto';

/** Providers that deliver `a.b@` and `ab@` to one mailbox (dots ignored); googlemail.com is gmail.com. */
const DOTLESS = new Set(['gmail.com', 'googlemail.com']);

/**
 * One mailbox, one name: lower case, `+tag` dropped, and at Gmail the dots of the local part dropped (and
 * googlemail.com read as gmail.com). `A.B+x@GMail.com` and `ab@gmail.com` are one address.
 */
export function normaliseAddress(email: string): string {
  const lower = email.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  let local = lower.slice(0, at);
  let domain = lower.slice(at + 1);
  const plus = local.indexOf('+');
  if (plus > 0) {
    local = local.slice(0, plus);
  }
  if (DOTLESS.has(domain)) {
    local = local.replaceAll('.', '');
    domain = 'gmail.com';
  }
  return `${local}@${domain}`;
}

/** What the free-grant table keys an address by: the SHA-256 of its normalised form (never the address). */
export function addressKey(email: string): string {
  return createHash('sha256').update(normaliseAddress(email), 'utf8').digest('hex');
}
