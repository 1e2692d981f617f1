import { describe, expect, it } from 'vitest';
import { displayParts, generateKey, hashKey, parseKey } from './key-format.js';

/** A key in the documented format: 32 base62 characters, then their CRC32 in 6 base62 characters. */
const KEY = 'cf_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123451HTd0k';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The key with the character at `i` replaced by every other base62 character in turn. */
function variants(key: string, i: number): string[] {
  return [...BASE62].filter((c) => c !== key[i]).map((c) => key.slice(0, i) + c + key.slice(i + 1));
}

describe('key checksum', () => {
  it('accepts a well-formed key and tells its kind', () => {
    expect(parseKey(KEY)).toBe('live');
    expect(parseKey(KEY.replace('cf_live_', 'cf_test_'))).toBe('test'); // the checksum covers the secret only
    for (const kind of ['live', 'test'] as const) {
      const key = generateKey(kind);
      expect(key).toMatch(new RegExp(`^cf_${kind}_[0-9A-Za-z]{38}$`));
      expect(parseKey(key)).toBe(kind);
    }
  });

  it('refuses a key with any one character changed, in the secret or in the checksum', () => {
    for (let i = 'cf_live_'.length; i < KEY.length; i++) {
      for (const changed of variants(KEY, i)) {
        expect(parseKey(changed), changed).toBeNull();
      }
    }
  });

  it('refuses a wrong prefix', () => {
    const rest = KEY.slice('cf_live_'.length);
    for (const prefix of ['cf_prod_', 'CF_LIVE_', 'cf-live_', 'sk_live_', 'cf_live', '']) {
      expect(parseKey(prefix + rest), prefix).toBeNull();
    }
  });

  it('refuses a key one character too short or too long', () => {
    expect(parseKey(KEY.slice(0, -1))).toBeNull();
    expect(parseKey(KEY + 'A')).toBeNull();
    expect(parseKey(KEY.slice(0, 8) + KEY.slice(9))).toBeNull();
    expect(parseKey(` ${KEY}`)).toBeNull();
    expect(parseKey('')).toBeNull();
  });

  it('hashes and displays a key without its secret part', () => {
    expect(hashKey(KEY)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey(KEY)).toBe(hashKey(KEY));
    expect(hashKey(KEY)).not.toBe(hashKey(KEY.replace('cf_live_', 'cf_test_')));
    expect(displayParts(KEY)).toEqual({ displayPrefix: 'cf_live_AbCd', last4: 'Td0k' });
  });
});
