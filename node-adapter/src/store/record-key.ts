// A patient's record key for cell-key perturbation: random-looking, persistent
// (same secret and id give the same key across re-ingest, restarts and data
// sources), and one-way, so a key reveals nothing about the id.
import { createHmac } from 'node:crypto';

/**
 * The first four bytes of HMAC-SHA256(secret, patientId) as an unsigned integer.
 * @example recordKey(secret, 'p1') // 2890164521
 */
export function recordKey(secret: Uint8Array, patientId: string): number {
  return createHmac('sha256', secret).update(patientId).digest().readUInt32BE(0);
}

/** Cell key of a set of record keys: their sum modulo 2^32, so it depends only on the set. */
export function cellKeyOf(keys: Iterable<number>): number {
  let sum = 0;
  for (const key of keys) sum = (sum + key) % 0x1_0000_0000;
  return sum;
}
