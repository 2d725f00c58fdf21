// PostgreSQL job store, for several instances behind one database. Same semantics as the
// SQLite store: every transition is one compare-and-set UPDATE; creates take a row lock on a
// counter, so `seq` order is commit order and pagination never skips a job that commits late;
// idempotency keys are unique in the table; the schema is migrated under an advisory lock.
import pg from "pg";
import { IN_PROGRESS, type Fence, type TerminalStatus } from "./machine.js";
import {
  DEFAULT_MAX_ATTEMPTS,
  StoreUnavailableError,
  type ClaimQuery,
  type Requeue,
  type Delivery,
  type CreateResult,
  type EndPatch,
  type JobError,
  type JobPage,
  type JobRecord,
  type JobStore,
  type ListQuery,
  type NewJob,
  type QueueStats,
  type TransitionResult,
} from "./store.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { fenceSql, newRecord, OWNER_MIGRATION_SQL, toRecord, WORKER_INDEXES_SQL, type JobRow } from "./row.js";
import { ChangeFeed } from "./changes.js";
import { PG_EVENTS_MIGRATION, toEvent, type JobEventPage, type JobEventRow } from "./events.js";

const CHANNEL = "job_changed";
/** Payload: `name/id` (name "" for none). Sent when a job is created or given back. */
const AVAILABLE = "job_available";

/** Migrations; a migration may depend on the configuration it runs under. */
export const MIGRATIONS: ((o: { defaultMaxAttempts: number }) => string)[] = [
  () => `CREATE TABLE jobs (
     seq BIGINT NOT NULL UNIQUE,
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL CHECK (status IN ('IN PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED')),
     started_at TEXT NOT NULL,
     ended_at TEXT NOT NULL DEFAULT '',
     ended_ms BIGINT,
     progress INTEGER,
     has_result BOOLEAN NOT NULL DEFAULT FALSE,
     result TEXT,
     error TEXT,
     request TEXT NOT NULL,
     deadline_ms BIGINT NOT NULL,
     idem_key TEXT UNIQUE,
     idem_fingerprint TEXT
   );
   CREATE INDEX jobs_status_seq ON jobs (status, seq);
   CREATE INDEX jobs_deadline ON jobs (deadline_ms) WHERE status = 'IN PROGRESS';
   CREATE INDEX jobs_ended ON jobs (ended_ms) WHERE ended_ms IS NOT NULL;
   CREATE TABLE job_seq (one INTEGER PRIMARY KEY CHECK (one = 1), value BIGINT NOT NULL);
   INSERT INTO job_seq VALUES (1, 0);`,
  // 2: completion push. The outbox row is written with the job's end, in one statement.
  () => `ALTER TABLE jobs ADD COLUMN callback_url TEXT;
   CREATE TABLE deliveries (
     id TEXT PRIMARY KEY,
     job_id TEXT NOT NULL,
     url TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     created_ms BIGINT NOT NULL,
     next_attempt_ms BIGINT NOT NULL,
     lease_until_ms BIGINT NOT NULL DEFAULT 0,
     last_error TEXT
   );
   CREATE INDEX deliveries_due ON deliveries (next_attempt_ms) WHERE status = 'pending';`,
  // 3: workers (as in the SQLite store): claim columns, existing jobs filled from their
  // request, queue indexes over IN PROGRESS jobs only.
  (o) => `ALTER TABLE jobs ADD COLUMN name TEXT,
     ADD COLUMN priority INTEGER NOT NULL DEFAULT 0,
     ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
     ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT ${o.defaultMaxAttempts},
     ADD COLUMN run_after_ms BIGINT NOT NULL DEFAULT 0,
     ADD COLUMN lease_token TEXT,
     ADD COLUMN lease_expires_ms BIGINT NOT NULL DEFAULT 0,
     ADD COLUMN lease_ms INTEGER NOT NULL DEFAULT 0,
     ADD COLUMN worker TEXT;
   UPDATE jobs SET name = request::jsonb ->> 'name',
     priority = COALESCE((request::jsonb ->> 'priority')::int, 0),
     max_attempts = COALESCE((request::jsonb ->> 'maxAttempts')::int, ${o.defaultMaxAttempts})
   WHERE request <> 'null';
   ${WORKER_INDEXES_SQL}`,
  // 4: owners (as in the SQLite store).
  () => OWNER_MIGRATION_SQL,
  // 5: each job's history (events.ts).
  () => PG_EVENTS_MIGRATION,
];

// Writes the outbox row of every ended job that has a callback, in the statement that ends it.
const OUTBOX = `outbox AS (
  INSERT INTO deliveries (id, job_id, url, status, created_ms, next_attempt_ms)
  SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), id, callback_url, 'pending', ended_ms, ended_ms
  FROM ended WHERE callback_url IS NOT NULL)`;

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The claim: with the table's statistics the planner walks the queue index (priority DESC,
 * seq) and stops at the limit. (Before autovacuum has analyzed a new table it may read every
 * waiting job and sort them instead: 3 ms a claim with 7,000 waiting, until it has.)
 * $1 now, $2 how many, $3 their tokens, $4 lease end, $5 lease ms, $6 worker,
 * $7 names (when filtered). Exported for the query-plan test.
 */
export function claimSql(byName: boolean): string {
  return `WITH c AS (
     SELECT id, priority, seq, lease_token IS NOT NULL AND lease_expires_ms > 0 AS expired FROM jobs
     WHERE status = '${IN_PROGRESS}' AND lease_expires_ms <= $1 AND run_after_ms <= $1
       AND attempts < max_attempts AND deadline_ms > $1${byName ? " AND name = ANY($7::text[])" : ""}
     ORDER BY priority DESC, seq LIMIT $2
     FOR UPDATE SKIP LOCKED),
   picked AS (SELECT id, expired, row_number() OVER (ORDER BY priority DESC, seq) AS n FROM c)
   UPDATE jobs j SET attempts = j.attempts + 1, lease_token = ($3::text[])[picked.n],
     lease_expires_ms = $4, lease_ms = $5, worker = $6, touched_ms = $1, claimed_ms = $1
   FROM picked WHERE j.id = picked.id
   RETURNING j.*, picked.expired AS previous_lease_expired`;
}

type Row = JobRow;

interface PendingEnd {
  id: string;
  p: EndPatch;
  fence: Fence & { kind: "lease" };
  resolve: (r: TransitionResult) => void;
  reject: (e: unknown) => void;
}

// Connection-level failures: the database is away, not the request wrong.
const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "57P01", "57P02", "57P03", "53300"]);

function isUnavailable(e: unknown): boolean {
  if (!e || typeof e !== "object") return false;
  const err = e as { code?: string; message?: string };
  if (err.code && (UNAVAILABLE_CODES.has(err.code) || err.code.startsWith("08"))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection timeout|terminating connection/i.test(err.message ?? "");
}

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

/** `postgres://...?schema=name`: the schema parameter is ours, not libpq's. */
export function parsePgUrl(url: string): { connectionString: string; schema?: string | undefined } {
  const u = new URL(url);
  const schema = u.searchParams.get("schema") ?? undefined;
  u.searchParams.delete("schema");
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema ${JSON.stringify(schema)} is not a plain lower-case identifier`);
  return { connectionString: u.toString(), schema };
}

export class PgJobStore implements JobStore {
  private readonly pool: pg.Pool;

  private constructor(pool: pg.Pool, private readonly schema: string | undefined, private readonly url: string) {
    this.pool = pool;
  }

  static async open(url: string, opts: PgOptions = {}, onIdleError?: (e: Error) => void): Promise<PgJobStore> {
    const parsed = parsePgUrl(url);
    const schema = opts.schema ?? parsed.schema;
    const pool = new pg.Pool({
      connectionString: parsed.connectionString,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000,
      idleTimeoutMillis: 10_000,
      statement_timeout: opts.statementTimeoutMs ?? 5000,
      options: schema ? `-c search_path=${schema}` : undefined,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    pool.on("error", (e) => onIdleError?.(e));
    const store = new PgJobStore(pool, schema, parsed.connectionString);
    try {
      await store.migrate({ defaultMaxAttempts: opts.defaultMaxAttempts ?? DEFAULT_MAX_ATTEMPTS });
      // Listen from the start, so that the first long-poll misses nothing.
      void store.listen();
    } catch (e) {
      await pool.end().catch(() => {});
      throw e;
    }
    return store;
  }

  private async migrate(o: { defaultMaxAttempts: number }): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      // One instance migrates at a time; the others wait here, then find nothing to do.
      await c.query("SELECT pg_advisory_xact_lock(7367726, hashtext($1))", [this.schema ?? "public"]);
      if (this.schema) await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await c.query("CREATE TABLE IF NOT EXISTS jobs_schema_version (version INTEGER NOT NULL)");
      const r = await c.query<{ version: number }>("SELECT version FROM jobs_schema_version");
      let version = r.rows[0]?.version ?? 0;
      if (!r.rows.length) await c.query("INSERT INTO jobs_schema_version VALUES (0)");
      if (version > MIGRATIONS.length) throw new Error(`the job database has schema version ${version}, newer than this program knows (${MIGRATIONS.length})`);
      for (; version < MIGRATIONS.length; version++) await c.query(MIGRATIONS[version]!(o));
      await c.query("UPDATE jobs_schema_version SET version = $1", [version]);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /** Runs a store operation, turning a lost database into StoreUnavailableError. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isUnavailable(e)) throw new StoreUnavailableError("the job database is unavailable", { cause: e });
      throw e;
    }
  }

  /** Statement names by SQL text: each connection parses and plans a statement once, not per call. */
  private readonly names = new Map<string, string>();

  private q<T extends pg.QueryResultRow = Row>(text: string, values: unknown[]): Promise<pg.QueryResult<T>> {
    let name = this.names.get(text);
    if (!name) this.names.set(text, (name = `jobs_${this.names.size}`));
    return this.pool.query<T>({ name, text, values });
  }

  private async one(sql: string, params: unknown[]): Promise<Row | undefined> {
    return (await this.q(sql, params)).rows[0];
  }

  /**
   * Group commit: creates that arrive while a batch is being written are written together in
   * the next one, one statement and one commit for all of them. Each promise resolves only
   * once the batch holding its job has committed. (Creates serialize on the counter's row lock
   * anyway, so one batch at a time loses nothing and a lone create is written at once.)
   */
  create(job: NewJob): Promise<CreateResult> {
    return new Promise((resolve, reject) => {
      this.pendingCreates.push({ job, resolve, reject });
      if (!this.writing) void this.writeCreates();
    });
  }

  private pendingCreates: { job: NewJob; resolve: (r: CreateResult) => void; reject: (e: unknown) => void }[] = [];
  private writing = false;

  private async writeCreates(): Promise<void> {
    this.writing = true;
    while (this.pendingCreates.length) {
      const batch = this.pendingCreates.splice(0, 500);
      try {
        const results = await this.run(() => this.insertBatch(batch.map((b) => b.job)));
        batch.forEach((b, i) => b.resolve(results[i]!));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.writing = false;
  }

  private async insertBatch(jobs: NewJob[]): Promise<CreateResult[]> {
    // One statement, one round trip. The counter's row lock is held until this statement's
    // transaction commits, so seq order is commit order, and a concurrent create with the
    // same Idempotency-Key has committed before this one looks (ON CONFLICT sees it).
    // Long-polling claims on every instance hear of each new job when it commits (one
    // notification per job: the payload carries its id, so that none are merged).
    const col = <T>(f: (j: NewJob) => T) => jobs.map(f);
    const inserted = await this.q<{ id: string }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $12::text[], $13::bigint[], $14::text[])
           WITH ORDINALITY AS t(id, started_at, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, max_attempts, owner, touched_ms, traceparent, ord)),
       next AS (UPDATE job_seq SET value = value + $11 RETURNING value),
       ins AS (
         INSERT INTO jobs (seq, id, status, started_at, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, max_attempts, owner, touched_ms, traceparent)
         SELECT next.value - $11 + input.ord, input.id, '${IN_PROGRESS}', input.started_at, input.request, input.deadline_ms, input.idem_key,
           input.idem_fingerprint, input.callback_url, input.name, input.priority, input.max_attempts, input.owner, input.touched_ms, input.traceparent
         FROM input, next ORDER BY input.ord
         ON CONFLICT (idem_key) DO NOTHING RETURNING id, name)
       SELECT id, pg_notify('${AVAILABLE}', COALESCE(name, '') || '/' || id) FROM ins`,
      [
        col((j) => j.id),
        col((j) => j.start),
        col((j) => JSON.stringify(j.request ?? null)),
        col((j) => j.deadlineAt),
        col((j) => j.idempotency?.key ?? null),
        col((j) => j.idempotency?.fingerprint ?? null),
        col((j) => j.callbackUrl ?? null),
        col((j) => j.name ?? null),
        col((j) => j.priority ?? 0),
        col((j) => j.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
        jobs.length,
        col((j) => j.owner ?? null),
        col((j) => Date.parse(j.start)),
        col((j) => j.traceparent ?? null),
      ],
    );
    const created = new Set(inserted.rows.map((r) => r.id));
    return Promise.all(
      jobs.map(async (job): Promise<CreateResult> => {
        if (created.has(job.id)) return { kind: "created", job: newRecord(job) };
        // Its Idempotency-Key was taken, by an earlier create or by one in this very batch.
        const prior = (await this.one("SELECT * FROM jobs WHERE idem_key = $1", [job.idempotency!.key]))!;
        return prior.idem_fingerprint === job.idempotency!.fingerprint
          ? { kind: "replayed", job: toRecord(prior) }
          : { kind: "key-conflict", job: toRecord(prior) };
      }),
    );
  }

  get(id: string): Promise<JobRecord | undefined> {
    return this.run(async () => {
      const row = await this.one("SELECT * FROM jobs WHERE id = $1", [id]);
      return row && toRecord(row);
    });
  }

  list(q: ListQuery): Promise<JobPage> {
    return this.run(async () => {
      const after = q.after === undefined ? (q.newestFirst ? Number.MAX_SAFE_INTEGER : 0) : decodeCursor(q.after);
      const params: unknown[] = [after, q.limit + 1];
      let where = q.newestFirst ? "seq < $1" : "seq > $1";
      if (q.status) where += ` AND status = $${params.push(q.status)}`;
      if (q.name !== undefined) where += ` AND name = $${params.push(q.name)}`;
      if (q.owner !== undefined) where += ` AND owner = $${params.push(q.owner)}`;
      const rows = (await this.q(`SELECT * FROM jobs WHERE ${where} ORDER BY seq${q.newestFirst ? " DESC" : ""} LIMIT $2`, params)).rows;
      const more = rows.length > q.limit;
      const page = rows.slice(0, q.limit);
      return { jobs: page.map(toRecord), next: more ? encodeCursor(Number(page[page.length - 1]!.seq)) : undefined };
    });
  }

  claim(q: ClaimQuery): Promise<JobRecord[]> {
    if (!q.tokens.length) return Promise.resolve([]);
    return this.run(async () => {
      // One statement: SKIP LOCKED lets concurrent claims (from any instance) take different
      // jobs, and the row lock re-checks the conditions against a concurrent change, so a
      // job is never handed out twice. Each job gets the token at its place in the order.
      const params: unknown[] = [q.now, q.tokens.length, q.tokens, q.now + q.leaseMs, q.leaseMs, q.worker];
      if (q.names) params.push(q.names);
      const r = await this.q(claimSql(q.names !== undefined), params);
      return r.rows.sort((a, b) => b.priority - a.priority || Number(a.seq) - Number(b.seq)).map(toRecord);
    });
  }

  /** A compare-and-set UPDATE (`set` uses $2 onwards) under a fence, notifying on change. */
  private cas(id: string, set: string, params: unknown[], fence: Fence, extra = ""): Promise<Row | undefined> {
    const all: unknown[] = [id, ...params];
    const cond = fenceSql(fence, (_name, value) => `$${all.push(value)}`);
    return this.one(`UPDATE jobs SET ${set} WHERE id = $1 AND status = '${IN_PROGRESS}'${cond} RETURNING *, pg_notify('${CHANNEL}', id)${extra}`, all);
  }

  /**
   * A worker's outcome (a lease fence) joins the group commit of ends: outcomes that arrive
   * while a batch is being written are written together in the next one, one statement and
   * one commit for all of them (each still under its own fence). Other ends (cancels, the
   * deadline, the last lease running out) are rare and go alone.
   */
  end(id: string, p: EndPatch, fence: Fence): Promise<TransitionResult> {
    if (fence.kind !== "lease") return this.endOne(id, p, fence);
    return new Promise((resolve, reject) => {
      this.pendingEnds.push({ id, p, fence, resolve, reject });
      if (!this.ending) void this.writeEnds();
    });
  }

  private pendingEnds: PendingEnd[] = [];
  private ending = false;

  private async writeEnds(): Promise<void> {
    this.ending = true;
    while (this.pendingEnds.length) {
      // A job at most once per batch: a second outcome for it waits for the next batch and
      // then meets the first one's result, as it would alone.
      const batch: PendingEnd[] = [];
      const later: PendingEnd[] = [];
      const ids = new Set<string>();
      for (const e of this.pendingEnds) {
        if (batch.length < 500 && !ids.has(e.id)) {
          ids.add(e.id);
          batch.push(e);
        } else later.push(e);
      }
      this.pendingEnds = later;
      if (batch.length === 1) {
        const e = batch[0]!;
        await this.endOne(e.id, e.p, e.fence).then(e.resolve, e.reject);
        continue;
      }
      let rows: Row[];
      try {
        rows = await this.run(() => this.endBatch(batch));
      } catch (err) {
        if (err instanceof StoreUnavailableError) {
          for (const e of batch) e.reject(err);
          continue;
        }
        // Anything else (a deadlock with a sweeper, say): each outcome on its own, so that one
        // cannot fail the others.
        await Promise.all(batch.map((e) => this.endOne(e.id, e.p, e.fence).then(e.resolve, e.reject)));
        continue;
      }
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const e of batch) {
        const row = byId.get(e.id);
        if (row) e.resolve({ kind: "applied", job: toRecord(row) });
        else this.run(() => this.current(e.id)).then(e.resolve, e.reject);
      }
    }
    this.ending = false;
  }

  private async endBatch(batch: PendingEnd[]): Promise<Row[]> {
    const col = <T>(f: (e: PendingEnd) => T) => batch.map(f);
    const cond = fenceSql(batch[0]!.fence, (name) => `i.${name}`);
    const r = await this.q(
      `WITH i AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::boolean[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
           AS t(id, status, ended_at, ended_ms, progress, has_result, result, error, ended_by, token, now)),
       ended AS (
         UPDATE jobs SET status = i.status, ended_at = i.ended_at, ended_ms = i.ended_ms, touched_ms = i.ended_ms, ended_by = i.ended_by,
           progress = COALESCE(i.progress, jobs.progress), has_result = i.has_result, result = i.result, error = i.error
         FROM i WHERE jobs.id = i.id AND jobs.status = '${IN_PROGRESS}'${cond} RETURNING jobs.*), ${OUTBOX}
       SELECT *, pg_notify('${CHANNEL}', id) FROM ended`,
      [
        col((e) => e.id),
        col((e) => e.p.to),
        col((e) => e.p.end),
        col((e) => Date.parse(e.p.end)),
        col((e) => e.p.progress ?? null),
        col((e) => e.p.to === "SUCCESS"),
        col((e) => (e.p.to === "SUCCESS" && e.p.result !== undefined ? JSON.stringify(e.p.result) : null)),
        col((e) => (e.p.error ? JSON.stringify(e.p.error) : null)),
        col((e) => e.p.by ?? null),
        col((e) => e.fence.token),
        col((e) => e.fence.now),
      ],
    );
    return r.rows;
  }

  private endOne(id: string, p: EndPatch, fence: Fence): Promise<TransitionResult> {
    return this.run(async () => {
      const all: unknown[] = [
        id,
        p.to,
        p.end,
        Date.parse(p.end),
        p.progress ?? null,
        p.to === "SUCCESS",
        p.to === "SUCCESS" && p.result !== undefined ? JSON.stringify(p.result) : null,
        p.error ? JSON.stringify(p.error) : null,
        p.by ?? null,
      ];
      const cond = fenceSql(fence, (_name, value) => `$${all.push(value)}`);
      const row = await this.one(
        `WITH ended AS (
           UPDATE jobs SET status = $2, ended_at = $3, ended_ms = $4, touched_ms = $4, ended_by = $9, progress = COALESCE($5, progress),
             has_result = $6, result = $7, error = $8
           WHERE id = $1 AND status = '${IN_PROGRESS}'${cond} RETURNING *), ${OUTBOX}
         SELECT *, pg_notify('${CHANNEL}', id) FROM ended`,
        all,
      );
      return row ? { kind: "applied", job: toRecord(row) } : this.current(id);
    });
  }

  progress(id: string, progress: number | undefined, fence: Fence, now: number): Promise<TransitionResult> {
    return this.run(async () => {
      // Under a lease, a heartbeat: the lease is extended by its length from now.
      const set = fence.kind === "lease" ? `progress = COALESCE($2, progress), lease_expires_ms = $3::bigint + lease_ms, touched_ms = $3` : "progress = COALESCE($2, progress), touched_ms = $3";
      const params = [progress ?? null, fence.kind === "lease" ? fence.now : now];
      const row = await this.cas(id, set, params, fence);
      return row ? { kind: "applied", job: toRecord(row) } : this.current(id);
    });
  }

  requeue(id: string, r: Requeue, fence: Fence & { kind: "lease" }): Promise<TransitionResult> {
    return this.run(async () => {
      const row = await this.cas(id, "lease_expires_ms = 0, run_after_ms = $2, attempts = attempts - $3, touched_ms = $4", [r.runAfter, r.uncount ? 1 : 0, fence.now], fence, `, pg_notify('${AVAILABLE}', COALESCE(name, '') || '/' || id)`);
      return row ? { kind: "applied", job: toRecord(row) } : this.current(id);
    });
  }

  exhausted(now: number, limit: number): Promise<string[]> {
    return this.run(async () => {
      const r = await this.q<{ id: string }>(
        `SELECT id FROM jobs WHERE status = '${IN_PROGRESS}' AND lease_expires_ms > 0 AND lease_expires_ms <= $1 AND attempts >= max_attempts LIMIT $2`,
        [now, limit],
      );
      return r.rows.map((x) => x.id);
    });
  }

  private async current(id: string): Promise<TransitionResult> {
    const row = await this.one("SELECT * FROM jobs WHERE id = $1", [id]);
    return row ? { kind: "lost", job: toRecord(row) } : { kind: "not-found" };
  }

  expire(now: number, end: string, error: JobError): Promise<number> {
    return this.run(async () => {
      // Row locks make concurrent sweepers from several instances expire each job once.
      const r = await this.q(
        `WITH ended AS (
           UPDATE jobs SET status = 'FAILED', ended_at = $2, ended_ms = $1, touched_ms = $1, error = $3
           WHERE status = '${IN_PROGRESS}' AND deadline_ms <= $1 RETURNING *), ${OUTBOX}
         SELECT pg_notify('${CHANNEL}', id) FROM ended`,
        [now, end, JSON.stringify(error)],
      );
      return r.rowCount ?? 0;
    });
  }

  stats(now: number, since: number): Promise<QueueStats> {
    return this.run(async () => {
      const r = await this.q<{ kind: string; name: string | null; a: number; b: number }>(
        `(SELECT 'q' AS kind, name, count(*) FILTER (WHERE lease_expires_ms > $1)::int AS a, count(*)::int AS b FROM jobs WHERE status = '${IN_PROGRESS}' GROUP BY name ORDER BY name)
         UNION ALL (SELECT 'e', status, count(*)::int, 0 FROM jobs WHERE ended_ms > $2 GROUP BY status)
         UNION ALL (SELECT 'o', NULL, count(*)::int, 0 FROM deliveries WHERE status = 'pending')`,
        [now, since],
      );
      const stats: QueueStats = { queues: [], ended: {}, outbox: 0 };
      for (const x of r.rows) {
        if (x.kind === "q") stats.queues.push({ ...(x.name === null ? {} : { name: x.name }), running: x.a, waiting: x.b - x.a });
        else if (x.kind === "e") stats.ended[x.name as TerminalStatus] = x.a;
        else stats.outbox = x.a;
      }
      return stats;
    });
  }

  events(jobId: string, after: number, limit: number): Promise<JobEventPage> {
    return this.run(async () => {
      const rows = (await this.q<JobEventRow>("SELECT * FROM job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", [jobId, after, limit + 1])).rows;
      const page = rows.slice(0, limit).map(toEvent);
      return rows.length > limit ? { events: page, next: page[page.length - 1]!.seq } : { events: page };
    });
  }

  purge(before: number): Promise<number> {
    return this.run(async () => (await this.pool.query("DELETE FROM jobs WHERE ended_ms IS NOT NULL AND ended_ms <= $1", [before])).rowCount ?? 0);
  }

  claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]> {
    return this.run(async () => {
      // SKIP LOCKED: instances sweeping at once each take different deliveries.
      const r = await this.pool.query<{ id: string; job_id: string; url: string; attempts: number; created_ms: string }>(
        `UPDATE deliveries SET lease_until_ms = $1
         WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= $2 AND lease_until_ms <= $2
                      ORDER BY next_attempt_ms LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, job_id, url, attempts, created_ms`,
        [now + leaseMs, now, limit],
      );
      return r.rows.map((d) => ({ id: d.id, jobId: d.job_id, url: d.url, attempts: d.attempts, createdAt: Number(d.created_ms) }));
    });
  }

  settleDelivery(id: string, outcome: Parameters<JobStore["settleDelivery"]>[1]): Promise<void> {
    return this.run(async () => {
      if (outcome.kind === "delivered") await this.pool.query("UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL WHERE id = $1", [id]);
      else if (outcome.kind === "retry") await this.pool.query("UPDATE deliveries SET attempts = attempts + 1, next_attempt_ms = $2, lease_until_ms = 0, last_error = $3 WHERE id = $1", [id, outcome.at, outcome.error]);
      else await this.pool.query("UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1", [id, outcome.error]);
    });
  }

  private readonly feed = new ChangeFeed<string>();
  private readonly available = new ChangeFeed<string | undefined>();
  private listener?: pg.Client | undefined;
  private listening?: Promise<void> | undefined;

  /**
   * Changes from every instance, through LISTEN/NOTIFY on a dedicated connection (notifies
   * are sent in the same statement as the change, so they arrive only if it commits).
   * The connection is opened on first use and re-opened if it drops.
   */
  onChange(listener: (id: string) => void): () => void {
    const off = this.feed.subscribe(listener);
    void this.listen();
    return off;
  }

  /** Jobs made available on any instance, through LISTEN/NOTIFY as for changes. */
  onAvailable(listener: (name: string | undefined) => void): () => void {
    const off = this.available.subscribe(listener);
    void this.listen();
    return off;
  }

  private listen(): Promise<void> {
    this.listening ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
      client.on("notification", (n) => {
        if (n.channel === AVAILABLE) {
          // `name/id`: unique per job, so that PostgreSQL merges none of them.
          const name = (n.payload ?? "").replace(/\/[^/]*$/, "");
          this.available.publish(name || undefined);
        }
        else if (n.payload) this.feed.publish(n.payload);
      });
      client.on("error", () => {
        this.listener = undefined;
        this.listening = undefined;
        client.end().catch(() => {});
        // Retry later; long-polls fall back to their timeout meanwhile.
        if (!this.closed) setTimeout(() => void this.listen(), 1000).unref();
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANNEL}; LISTEN ${AVAILABLE}`);
        this.listener = client;
      } catch {
        this.listening = undefined;
        client.end().catch(() => {});
        if (!this.closed) setTimeout(() => void this.listen(), 1000).unref();
      }
    })();
    return this.listening;
  }

  private closed = false;

  connections(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.pool.query("SELECT 1");
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }
}
