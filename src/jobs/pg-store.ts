// PostgreSQL job store, for several instances behind one database: the queue's statements
// (queue-sql.ts) under the store written once (sql-store.ts), as on SQLite. Every transition is
// one compare-and-set UPDATE; creates take a row lock on a counter, so `seq` order is commit
// order and pagination never skips a job that commits late; idempotency keys are unique in the
// table; the schema is migrated under an advisory lock; every change is announced to every
// instance (LISTEN/NOTIFY) by the statement that makes it.
import pg from "pg";
import type { Fence } from "./machine.js";
import { DEFAULT_MAX_ATTEMPTS, type ClaimQuery, type JobStore, type ListQuery, type NewJob } from "./store.js";
import { PG_FOLD_COUNTS, statsQueuesSql } from "./counts-sql.js";
import {
  claimDeliveriesSql,
  claimScope,
  EVENTS,
  EXHAUSTED,
  expireSql,
  pageSql,
  PURGE,
  SETTLE,
  STATS_OUTBOX,
  statsEndedSql,
  PAUSE,
  PAUSED,
  REDRIVE,
  REDRIVE_MORE,
  RERUN,
  RESUME_DEADLINES,
  UNPAUSE,
  REPLACE_SINGLETON,
  replaceParams,
  SINGLETON_HOLDER,
  values,
  type TransitionKind,
} from "./queue-sql.js";
import type { JobRow } from "./row.js";
import type { JobEventRow } from "./events.js";
import { MIGRATIONS } from "./pg-schema.js";
import { Announcements, AVAILABLE, CHANNEL, channelsOf } from "./pg-announce.js";
import { announced, claimStatement, OUTBOX, POSTGRES } from "./pg-sql.js";
import { parsePgUrl, PgSession } from "./pg-session.js";
import { PgWrites } from "./pg-writes.js";
import { TurnBatch } from "./turn-batch.js";
import { PARENT_COLUMNS } from "./deps-sql.js";
import { SqlJobStore, type DeliveryRow, type Inserted, type ParentRow, type PausedRow, type QueueDriver, type StatsRows } from "./sql-store.js";

export { MIGRATIONS };

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

export interface PgOptions {
  /** Schema to keep the tables in (created if missing); default: the connection's search_path. */
  schema?: string | undefined;
  poolSize?: number | undefined;
  /** How long to wait for a connection before answering 503 (ms). */
  connectTimeoutMs?: number | undefined;
  /** Server-side statement timeout (ms). */
  statementTimeoutMs?: number | undefined;
  /** What jobs created before workers existed get as their maxAttempts when migrated. */
  defaultMaxAttempts?: number | undefined;
}

/** Most reads by id that share one statement. */
const READ_BATCH = 500;

class PgDriver implements QueueDriver {
  readonly announces = true;

  private readonly s: PgSession;
  private readonly writes: PgWrites;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string | undefined,
    private readonly url: string,
  ) {
    this.s = new PgSession(pool);
    this.writes = new PgWrites(this.s);
  }

  /** Creates share commits (pg-writes.ts); one with dependencies goes alone. */
  insert(job: NewJob): Promise<Inserted> {
    return this.writes.insert(job);
  }

  /** Workers' outcomes share commits (pg-writes.ts); other transitions go alone. */
  transition(kind: TransitionKind, id: string, fence: Fence, params: Record<string, unknown>): Promise<JobRow | undefined> {
    return this.writes.transition(kind, id, fence, params);
  }

  async migrate(o: { defaultMaxAttempts: number }): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      // One instance migrates at a time; the others wait here, then find nothing to do.
      await c.query("SELECT pg_advisory_xact_lock(7367726, hashtext($1))", [this.schema ?? "public"]);
      if (this.schema) await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      const current = await c.query<{ schema: string | null }>("SELECT current_schema() AS schema");
      this.s.channels = channelsOf(current.rows[0]?.schema ?? "public");
      await c.query("CREATE TABLE IF NOT EXISTS jobs_schema_version (version INTEGER NOT NULL)");
      const r = await c.query<{ version: number }>("SELECT version FROM jobs_schema_version");
      let version = r.rows[0]?.version ?? 0;
      if (!r.rows.length) await c.query("INSERT INTO jobs_schema_version VALUES (0)");
      if (version > MIGRATIONS.length) throw new Error(`the job database has schema version ${version}, newer than this program knows (${MIGRATIONS.length})`);
      for (; version < MIGRATIONS.length; version++) await c.query(MIGRATIONS[version]!({ ...o, channels: this.s.channels }));
      await c.query("UPDATE jobs_schema_version SET version = $1", [version]);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  dependencies(ids: string[]): Promise<ParentRow[]> {
    return this.s.run(async () => (await this.s.q<ParentRow>(`SELECT ${PARENT_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`, [ids])).rows);
  }

  /**
   * Reads by id share round trips: those asked for within one turn of the event loop go as one
   * statement (`id = ANY($1)`), one round trip, one connection and one execution for all of
   * them. Polls are most of an asynchronous API's traffic, and under load many arrive together.
   */
  row(id: string): Promise<JobRow | undefined> {
    return this.reads.add(id);
  }

  private readonly reads = new TurnBatch<string, JobRow | undefined>(async (ids) => {
    const parts: string[][] = [];
    for (let i = 0; i < ids.length; i += READ_BATCH) parts.push(ids.slice(i, i + READ_BATCH));
    const rows = (await Promise.all(parts.map((part) => this.s.run(async () => (await this.s.q("SELECT * FROM jobs WHERE id = ANY($1::text[])", [part])).rows)))).flat();
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id));
  });

  pause(name: string, by: string | undefined, now: number): Promise<PausedRow> {
    // The row inserted, or the one that was there (a CTE's insert is not seen by the statement's own reads).
    const sql = `WITH ins AS (${PAUSE} RETURNING name, since_ms, paused_by)
      SELECT * FROM ins UNION ALL SELECT name, since_ms, paused_by FROM paused_names WHERE name = :name LIMIT 1`;
    return this.s.run(async () => (await this.s.exec<PausedRow>(sql, { name, now, by: by ?? null })).rows[0]!);
  }

  resume(name: string, now: number): Promise<boolean> {
    // One statement: the name's row taken out, its waiting jobs' deadlines moved on by the
    // pause, and waiting claims on every instance told.
    const sql = `WITH p AS (${UNPAUSE} RETURNING since_ms),
        moved AS (${RESUME_DEADLINES.replace(":since", "(SELECT since_ms FROM p)")} AND EXISTS (SELECT 1 FROM p))
      SELECT since_ms, pg_notify('${AVAILABLE}', :name || '/') FROM p`;
    return this.s.run(async () => ((await this.s.exec(sql, { name, now })).rowCount ?? 0) > 0);
  }

  paused(): Promise<PausedRow[]> {
    return this.s.run(async () => (await this.s.exec<PausedRow>(PAUSED, {})).rows);
  }

  rerun(_id: string, params: Record<string, unknown>): Promise<JobRow | undefined> {
    return this.s.run(async () => (await this.s.exec(announced(RERUN), params)).rows[0]);
  }

  redrive(params: Record<string, unknown>): Promise<{ rows: JobRow[]; more: boolean }> {
    return this.s.run(async () => {
      const rows = (await this.s.exec(announced(REDRIVE), params)).rows;
      return { rows, more: ((await this.s.exec(REDRIVE_MORE, params)).rowCount ?? 0) > 0 };
    });
  }

  singletonHolder(job: NewJob, replace: boolean): Promise<JobRow | undefined> {
    if (!replace) return this.s.run(async () => (await this.s.exec(SINGLETON_HOLDER, { key: job.singleton!.key })).rows[0]);
    // Announced like a give-back: its run time may have moved, and pollers of it hear the change.
    return this.s.run(async () => (await this.s.exec(announced(REPLACE_SINGLETON), replaceParams(job))).rows[0]);
  }

  rowByKey(key: string): Promise<JobRow | undefined> {
    return this.s.run(async () => (await this.s.q("SELECT * FROM jobs WHERE idem_key = $1", [key])).rows[0]);
  }

  page(q: ListQuery, after: number, limit: number): Promise<JobRow[]> {
    const sql = pageSql({ status: !!q.status, name: q.name !== undefined, owner: q.owner !== undefined, newestFirst: !!q.newestFirst }, "*");
    return this.s.run(async () => (await this.s.exec(sql, { after, limit, status: q.status, name: q.name, owner: q.owner })).rows);
  }

  claim(q: ClaimQuery): Promise<JobRow[]> {
    return this.s.run(async () => {
      const c = claimStatement(claimScope(q.names));
      const params = { now: q.now, max: q.tokens.length, tokens: q.tokens, expires: q.now + q.leaseMs, ms: q.leaseMs, worker: q.worker, name: q.names?.[0], names: q.names };
      const r = await this.s.q(c.text, values(c, params));
      return r.rows;
    });
  }

  expire(now: number, end: string, error: string): Promise<string[]> {
    return this.s.run(async () => {
      // Row locks make concurrent sweepers from several instances expire each job once.
      const r = await this.s.exec<{ id: string }>(`WITH ended AS (${expireSql(POSTGRES)} RETURNING *), ${OUTBOX} SELECT id, pg_notify('${CHANNEL}', id) FROM ended`, { now, end, error });
      return r.rows.map((x) => x.id);
    });
  }

  exhausted(now: number, limit: number): Promise<string[]> {
    return this.s.run(async () => (await this.s.exec<{ id: string }>(EXHAUSTED, { now, limit })).rows.map((x) => x.id));
  }

  stats(now: number, since: number): Promise<StatsRows> {
    return this.s.run(async () => {
      await this.s.exec(PG_FOLD_COUNTS, {});
      const [queues, ended, outbox] = await Promise.all([
        this.s.exec<StatsRows["queues"][number]>(statsQueuesSql(POSTGRES), { now }),
        this.s.exec<StatsRows["ended"][number]>(statsEndedSql(POSTGRES), { since }),
        this.s.exec<{ n: string }>(STATS_OUTBOX, {}),
      ]);
      return { queues: queues.rows, ended: ended.rows, outbox: outbox.rows[0]!.n };
    });
  }

  events(jobId: string, after: number, limit: number): Promise<JobEventRow[]> {
    return this.s.run(async () => (await this.s.exec<JobEventRow>(EVENTS, { id: jobId, after, limit })).rows);
  }

  purge(before: number): Promise<number> {
    return this.s.run(async () => (await this.s.exec(PURGE, { before })).rowCount ?? 0);
  }

  claimDeliveries(until: number, now: number, limit: number): Promise<DeliveryRow[]> {
    // SKIP LOCKED: instances sweeping at once each take different deliveries.
    return this.s.run(async () => (await this.s.exec<DeliveryRow>(claimDeliveriesSql(POSTGRES), { until, now, limit })).rows);
  }

  settle(id: string, outcome: Parameters<JobStore["settleDelivery"]>[1]): Promise<void> {
    return this.s.run(async () => {
      if (outcome.kind === "delivered") await this.s.exec(SETTLE.delivered, { id });
      else if (outcome.kind === "retry") await this.s.exec(SETTLE.retry, { id, at: outcome.at, error: outcome.error });
      else await this.s.exec(SETTLE.failed, { id, error: outcome.error });
    });
  }

  private announcements?: Announcements | undefined;

  /**
   * Changes from every instance, through LISTEN/NOTIFY (pg-announce.ts): notifies are sent in
   * the same statement as the change, so they arrive only if it commits. Heard from the start,
   * so that the first long-poll misses nothing.
   */
  listen(changed: (id: string) => void, available: (name: string | undefined, at: number) => void): void {
    this.announcements = new Announcements(this.url, this.s.channels, changed, available);
  }

  connections(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  ping(): Promise<void> {
    return this.s.run(async () => {
      await this.pool.query("SELECT 1");
    });
  }

  query<T>(sql: string, params: Record<string, unknown>): Promise<{ rows: T[]; changes: number }> {
    return this.s.run(async () => {
      const r = await this.s.exec(sql, params);
      return { rows: r.rows as T[], changes: r.rowCount ?? 0 };
    });
  }

  async close(): Promise<void> {
    await this.announcements?.close();
    await this.pool.end();
  }
}

export class PgJobStore extends SqlJobStore {
  static async open(url: string, opts: PgOptions = {}, onIdleError?: (e: Error) => void): Promise<PgJobStore> {
    const parsed = parsePgUrl(url);
    const schema = opts.schema ?? parsed.schema;
    const pool = new pg.Pool({
      connectionString: parsed.connectionString,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000,
      idleTimeoutMillis: 10_000,
      statement_timeout: opts.statementTimeoutMs ?? 5000,
      // No JIT: the queue's statements are short, and the planner's estimates for a batch of
      // creates (rows from unnest, two index lookups each for their fair-share tags) passed
      // its threshold, so that every batch compiled for 650 ms to run for 5.
      options: `-c jit=off${schema ? ` -c search_path=${schema}` : ""}`,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    pool.on("error", (e) => onIdleError?.(e));
    const driver = new PgDriver(pool, schema, parsed.connectionString);
    try {
      await driver.migrate({ defaultMaxAttempts: opts.defaultMaxAttempts ?? DEFAULT_MAX_ATTEMPTS });
    } catch (e) {
      await pool.end().catch(() => {});
      throw e;
    }
    return new PgJobStore(driver);
  }
}
