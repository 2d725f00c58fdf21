// A PostgreSQL store's connection pool as its statements use it: named (prepared once per
// connection) statements, queue-sql.ts's `:name` parameters, and a lost database told apart
// from a wrong request (StoreUnavailableError, answered 503).
import pg from "pg";
import { StoreUnavailableError } from "./store.js";
import { values, type Compiled } from "./queue-sql.js";
import type { JobRow } from "./row.js";
import { POSTGRES } from "./pg-sql.js";
import { channelsOf, onChannels, type Channels } from "./pg-announce.js";

// Connection-level failures: the database is away, not the request wrong.
const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "57P01", "57P02", "57P03", "53300"]);

function isUnavailable(e: unknown): boolean {
  if (!e || typeof e !== "object") return false;
  const err = e as { code?: string; message?: string };
  if (err.code && (UNAVAILABLE_CODES.has(err.code) || err.code.startsWith("08"))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection timeout|terminating connection/i.test(err.message ?? "");
}

/** `postgres://...?schema=name`: the schema parameter is ours, not libpq's. */
export function parsePgUrl(url: string): { connectionString: string; schema?: string | undefined } {
  const u = new URL(url);
  const schema = u.searchParams.get("schema") ?? undefined;
  u.searchParams.delete("schema");
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema ${JSON.stringify(schema)} is not a plain lower-case identifier`);
  return { connectionString: u.toString(), schema };
}

// A transaction PostgreSQL rolled back to break a deadlock (or a serialization failure): it
// left nothing behind, so running it again is the same as a client asking again. Two
// transactions that lock the same rows in opposite orders meet this: a create locking its
// parents while a batch of outcomes ends them, a sweep ending jobs whose dependants another
// end is counting down.
const RETRY_CODES = new Set(["40P01", "40001"]);
const RETRIES = 4;

export function isRetryable(e: unknown): boolean {
  return !!e && typeof e === "object" && RETRY_CODES.has(String((e as { code?: unknown }).code));
}

/** Runs `fn` again (after a short, random pause) while PostgreSQL rolls it back as a deadlock's victim. */
export async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt > RETRIES || !isRetryable(e)) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

export class PgSession {
  /** The deployment's channels (set once migrated, before any statement runs). */
  channels: Channels = channelsOf("public");

  constructor(readonly pool: pg.Pool) {}

  /** Runs a store operation, turning a lost database into StoreUnavailableError. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isUnavailable(e)) throw new StoreUnavailableError("the job database is unavailable", { cause: e });
      throw e;
    }
  }

  /**
   * Statements by SQL text, named (each connection parses and plans a statement once, not per
   * call) and announcing on the deployment's channels.
   */
  private readonly named = new Map<string, { name: string; text: string }>();

  q<T extends pg.QueryResultRow = JobRow>(text: string, params: unknown[], on: pg.Pool | pg.PoolClient = this.pool): Promise<pg.QueryResult<T>> {
    let s = this.named.get(text);
    if (!s) this.named.set(text, (s = { name: `jobs_${this.named.size}`, text: onChannels(text, this.channels) }));
    const query = { name: s.name, text: s.text, values: params };
    // A statement of its own (not inside a caller's transaction) is retried when it was a
    // deadlock's victim; a transaction's caller retries the whole transaction (retried()).
    if (on !== this.pool) return on.query<T>(query);
    return on.query<T>(query).catch((e: unknown) => (isRetryable(e) ? retried(() => on.query<T>(query)) : Promise.reject(e)));
  }

  /** Compiled statements of queue-sql.ts, by their text. */
  private readonly compiled = new Map<string, Compiled>();

  /** A statement of queue-sql.ts with its `:name` parameters. */
  exec<T extends pg.QueryResultRow = JobRow>(sql: string, params: Record<string, unknown>, on: pg.Pool | pg.PoolClient = this.pool): Promise<pg.QueryResult<T>> {
    let c = this.compiled.get(sql);
    if (!c) this.compiled.set(sql, (c = POSTGRES.compile(sql)));
    return this.q<T>(c.text, values(c, params), on);
  }
}
