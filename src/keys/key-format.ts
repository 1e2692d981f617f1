import { createHash, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { KeyKind } from './api-key.entity.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SECRET_LENGTH = 32; // 32 × log2(62) ≈ 190 bits
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = /^cf_(live|test)_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out += BASE62[randomInt(62)];
  }
  return out;
}

function toBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

function checksum(secret: string): string {
  return toBase62(crc32(secret), CHECKSUM_LENGTH);
}

/**
 * A new key: `cf_live_` or `cf_test_`, 32 CSPRNG base62 characters, and a 6-character base62 CRC32 of them
 * (the GitHub token design: a look-alike fails its checksum before any database query).
 */
export function generateKey(kind: KeyKind): string {
  const secret = randomBase62(SECRET_LENGTH);
  return `cf_${kind}_${secret}${checksum(secret)}`;
}

/** The key's kind when it is well-formed and its checksum holds, else null. */
export function parseKey(raw: string): KeyKind | null {
  const match = KEY_PATTERN.exec(raw);
  if (!match) {
    return null;
  }
  return checksum(match[2]) === match[3] ? (match[1] as KeyKind) : null;
}

export function hashKey(raw: string): string {
  return createHash('sha256').update(raw).digest('hex');
}

/** What may be shown of a key after creation: its prefix with 4 characters, and its last 4. */
export function displayParts(raw: string): { displayPrefix: string; last4: string } {
  return { displayPrefix: raw.slice(0, 12), last4: raw.slice(-4) };
}

export function newPublicId(): string {
  return `key_${randomBase62(24)}`;
}
