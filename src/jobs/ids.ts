import { randomFillSync } from "node:crypto";

// Random bytes are drawn from the CSPRNG in blocks: one system call per 256 ids rather than
// one per id (randomBytes per call was a measurable share of a create's CPU time).
const ID_BYTES = 16;
const pool = Buffer.alloc(ID_BYTES * 256);
let offset = pool.length;

/** 128 random bits, base64url: 22 characters, unguessable and never sequential. */
export function newJobId(): string {
  return randomToken();
}

/** A lease token: 128 random bits, base64url, like ids but never derived from one. */
export function newLeaseToken(): string {
  return randomToken();
}

function randomToken(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString("base64url", offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}
