// LISTEN/NOTIFY: how PostgreSQL instances hear of each other's changes. The store's statements
// notify in the statement that makes the change (so a notice arrives only once it commits);
// each instance listens on one dedicated connection, re-opened when it drops.
import { createHash } from "node:crypto";
import pg from "pg";

/** Payload: a job's id. Sent by every change of a job. (The statements' name for it; see channelsOf.) */
export const CHANNEL = "job_changed";
/**
 * Payload: `name/id` (name "" for none), and `@<epoch ms>` after the id for a job that may not
 * be handed out before then (a scheduled job). Sent when a job is created or given back.
 */
export const AVAILABLE = "job_available";
/** AVAILABLE's payload, made in SQL from the job's row. */
export const AVAILABLE_PAYLOAD = "COALESCE(name, '') || '/' || id || CASE WHEN run_after_ms > 0 THEN '@' || run_after_ms ELSE '' END";

/** The channels one deployment's instances announce on and listen to. */
export interface Channels {
  changed: string;
  available: string;
}

/**
 * The channels of the tables in `schema`. Channels belong to the database, not to a schema:
 * with one name for all, every deployment sharing a database (one schema each) heard every
 * other's changes, and woke its waiting claims for them. In `public`, the names the statements
 * use, as before; elsewhere suffixed with the schema, or with a hash of it where that would
 * pass PostgreSQL's 63 bytes.
 */
export function channelsOf(schema: string): Channels {
  if (schema === "public") return { changed: CHANNEL, available: AVAILABLE };
  const suffix = AVAILABLE.length + 1 + schema.length <= 63 ? schema : createHash("sha256").update(schema).digest("hex").slice(0, 24);
  return { changed: `${CHANNEL}_${suffix}`, available: `${AVAILABLE}_${suffix}` };
}

/** A statement's text with the names of the channels replaced by the schema's own. */
export function onChannels(sql: string, c: Channels): string {
  return c.changed === CHANNEL ? sql : sql.replaceAll(`'${CHANNEL}'`, `'${c.changed}'`).replaceAll(`'${AVAILABLE}'`, `'${c.available}'`);
}

export class Announcements {
  private listener?: pg.Client | undefined;
  private listening?: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly channels: Channels,
    private readonly changed: (id: string) => void,
    private readonly available: (name: string | undefined, at: number) => void,
  ) {
    void this.connect();
  }

  private connect(): Promise<void> {
    this.listening ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
      client.on("notification", (n) => {
        if (n.channel === this.channels.available) {
          // `name/id[@at]`: unique per job, so that PostgreSQL merges none of them.
          const payload = n.payload ?? "";
          const cut = payload.lastIndexOf("/");
          const name = payload.slice(0, Math.max(0, cut));
          const at = Number(/@(\d+)$/.exec(payload.slice(cut + 1))?.[1] ?? 0);
          this.available(name || undefined, at);
        } else if (n.payload) this.changed(n.payload);
      });
      client.on("error", () => {
        this.listener = undefined;
        this.listening = undefined;
        client.end().catch(() => {});
        // Retry later; long-polls fall back to their timeout meanwhile.
        if (!this.closed) setTimeout(() => void this.connect(), 1000).unref();
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${this.channels.changed}; LISTEN ${this.channels.available}`);
        this.listener = client;
        if (this.closed) await client.end();
      } catch {
        this.listening = undefined;
        client.end().catch(() => {});
        if (!this.closed) setTimeout(() => void this.connect(), 1000).unref();
      }
    })();
    return this.listening;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => {});
  }
}
