// API keys: the file named by API_KEYS_FILE, one key per line, `<principal> <role> <sha256 hex
// of the key>` (`#` starts a comment). Only hashes are kept; a presented key is hashed and
// compared with every stored hash in constant time. The file can be re-read at any moment
// (SIGHUP, or when it changes): keys rotate without a restart, and a file that does not
// parse keeps the keys that were in force.
import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

export const ROLES = ["client", "worker", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who a key belongs to. */
export interface Principal {
  name: string;
  role: Role;
}

const PRINCIPAL = /^[A-Za-z0-9._@:-]{1,64}$/;
const HASH = /^[0-9a-f]{64}$/;

export class KeyFileError extends Error {}

interface Entry {
  hash: Buffer;
  /** Handed to every request that presents this key (read-only: one object, not one per request). */
  principal: Readonly<Principal>;
}

/** The SHA-256 of a key, hex: what the keys file stores. */
export function hashKey(key: string): string {
  return hash("sha256", key, "hex");
}

/** A new random key (256 bits, base64url, with a recognisable prefix). */
export function newKey(): string {
  return `ak_${randomBytes(32).toString("base64url")}`;
}

/** Parses a keys file's text; throws KeyFileError naming the line. */
export function parseKeys(text: string, file = "API_KEYS_FILE"): Entry[] {
  const out: Entry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    // A non-empty line splits into at least one word.
    const [name = "", role = "", digest, ...rest] = line.split(/\s+/);
    const where = `${file}:${i + 1}`;
    if (rest.length || !digest) throw new KeyFileError(`${where}: expected "<principal> <role> <sha256 hex of the key>"`);
    if (!PRINCIPAL.test(name)) throw new KeyFileError(`${where}: the principal must be 1-64 of A-Z a-z 0-9 . _ @ : -`);
    if (!(ROLES as readonly string[]).includes(role)) throw new KeyFileError(`${where}: the role must be one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`);
    if (!HASH.test(digest)) throw new KeyFileError(`${where}: the key must be given as its SHA-256, 64 lower-case hex digits`);
    out.push({ hash: Buffer.from(digest, "hex"), principal: Object.freeze({ name, role: role as Role }) });
  });
  return out;
}

export class KeyRing {
  private entries: Entry[];

  constructor(readonly file: string) {
    this.entries = parseKeys(readFileSync(file, "utf8"), file);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Counts the reloads: what a key remembered under an older version says no longer holds. */
  version = 0;

  /** Re-reads the file; on an error the keys in force stay and the error is thrown. */
  reload(): void {
    this.entries = parseKeys(readFileSync(this.file, "utf8"), this.file);
    this.version++;
  }

  /** The principal whose key this is. Every stored hash is compared, in constant time each. */
  lookup(key: string): Readonly<Principal> | undefined {
    // One-shot: a third cheaper than createHash().update().digest() for a key this short.
    const presented = hash("sha256", key, "buffer");
    let found: Entry | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(presented, e.hash) && !found) found = e;
    }
    return found?.principal;
  }
}
