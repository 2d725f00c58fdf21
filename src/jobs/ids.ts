import { randomFillSync } from "node:crypto";

// Random bytes are drawn from the CSPRNG in blocks: one system call per 256 ids rather than
// one per id (randomBytes per call was a measurable share of a create's CPU time).
const ID_BYTES = 16;
const pool = Buffer.alloc(ID_BYTES * 256);
let offset = pool.length;

/** How many leading bytes of a job id are its creation time (milliseconds, big-endian). */
export const ID_TIME_BYTES = 6;

/**
 * A job id: 48 bits of creation time (ms) then 80 random bits, base64url, 22 characters
 * (the layout of a UUIDv7). Unguessable still (80 bits from the CSPRNG, and a caller sees only
 * its own jobs), but ids created close together share a prefix, so that the unique index on
 * ids, and the index of each job's events, take a batch of creates into the same few pages.
 * With 128 random bits every create wrote its own leaf page of both indexes: the store's CPU
 * per create fell by about a third (write-ahead log frames and checkpoints).
 */
export function newJobId(now = Date.now()): string {
  const at = take();
  pool.writeUIntBE(now, at, ID_TIME_BYTES);
  return pool.toString("base64url", at, at + ID_BYTES);
}

/** A lease token: 128 random bits, base64url, like ids but never derived from one or from time. */
export function newLeaseToken(): string {
  const at = take();
  return pool.toString("base64url", at, at + ID_BYTES);
}

/** The offset of 16 fresh random bytes in the pool. */
function take(): number {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += ID_BYTES;
  return at;
}
