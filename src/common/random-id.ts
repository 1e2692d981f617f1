import { randomFillSync } from 'node:crypto';

/** Random bytes are drawn from the OS this many at a time: one call per ~150 ids instead of one per id. */
const POOL_BYTES = 4096;

const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `bytes` cryptographically random bytes (at most 64) as text in `encoding`: the ids every request needs (request
 * ids, completion ids). Same randomness as `randomBytes`, without a system call per id.
 */
export function randomText(bytes: number, encoding: 'hex' | 'base64url'): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const text = pool.toString(encoding, offset, offset + bytes);
  offset += bytes;
  return text;
}
