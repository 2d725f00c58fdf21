// LISTEN/NOTIFY: how PostgreSQL instances hear of each other's changes. The store's statements
// notify in the statement that makes the change (so a notice arrives only once it commits);
// each instance listens on one dedicated connection, re-opened when it drops.
import pg from "pg";

/** Payload: a job's id. Sent by every change of a job. */
export const CHANNEL = "job_changed";
/**
 * Payload: `name/id` (name "" for none), and `@<epoch ms>` after the id for a job that may not
 * be handed out before then (a scheduled job). Sent when a job is created or given back.
 */
export const AVAILABLE = "job_available";
/** AVAILABLE's payload, made in SQL from the job's row. */
export const AVAILABLE_PAYLOAD = "COALESCE(name, '') || '/' || id || CASE WHEN run_after_ms > 0 THEN '@' || run_after_ms ELSE '' END";

export class Announcements {
  private listener?: pg.Client | undefined;
  private listening?: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly changed: (id: string) => void,
    private readonly available: (name: string | undefined, at: number) => void,
  ) {
    void this.connect();
  }

  private connect(): Promise<void> {
    this.listening ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
      client.on("notification", (n) => {
        if (n.channel === AVAILABLE) {
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
        await client.query(`LISTEN ${CHANNEL}; LISTEN ${AVAILABLE}`);
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
