import { createHash, randomBytes } from 'node:crypto';

/** A token for a mail link: 256 random bits, URL-safe. Only its SHA-256 is stored. */
export function newMailToken(): { token: string; sha256: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, sha256: hashMailToken(token) };
}

export function hashMailToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
