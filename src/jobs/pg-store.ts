// PostgreSQL job store, for several instances behind one database: the queue's statements
// (queue-sql.ts) under the store written once (sql-store.ts), as on SQLite. Every transition is
// one compare-and-set UPDATE; creates take a row lock on a counter, so `seq` order is commit
// order and pagination never skips a job that commits late; idempotency keys are unique in the
// table; the schema is migrated under an advisory lock; every change is announced to every
// instance (LISTEN/NOTIFY) by the statement that makes it.
import pg from "pg";
import { IN_PROGRESS, type Fence } from "./machine.js";
import { DEFAULT_MAX_ATTEMPTS, StoreUnavailableError, type ClaimQuery, type JobStore, type ListQuery, type NewJob } from "./store.js";
import { PG_FOLD_COUNTS, statsQueuesSql } from "./counts-sql.js";
import {
  CLAIM_ORDER,
  claimDeliveriesSql,
  claimScope,
  claimSelect,
  type ClaimScope,
  EVENTS,
  EXHAUSTED,
  expireSql,
  fenceParams,
  fenceSql,
  numbered,
  pageSql,
  PURGE,
  SETTLE,
  STATS_OUTBOX,
  statsEndedSql,
  TAKE_SET,
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
  TRANSITION_SET,
  transitionSql,
  values,
  type Compiled,
  type Dialect,
  type TransitionKind,
} from "./queue-sql.js";
import type { JobRow } from "./row.js";
import type { JobEventRow } from "./events.js";
import { MIGRATIONS } from "./pg-schema.js";
import { Announcements, AVAILABLE, AVAILABLE_PAYLOAD, CHANNEL } from "./pg-announce.js";
import { fairTag } from "./fair-sql.js";
import { TurnBatch } from "./turn-batch.js";
import { unlimited } from "./limits-sql.js";
import { CANCEL_DEPENDANT, dependencyFailedError, PARENT_COLUMNS, SET_DEPENDENCIES } from "./deps-sql.js";
import { SqlJobStore, type DeliveryRow, type ParentRow, type PausedRow, type QueueDriver, type StatsRows } from "./sql-store.js";


export { MIGRATIONS };

// Writes the outbox row of every ended job that has a callback, in the statement that ends it.
const OUTBOX = `outbox AS (
  INSERT INTO deliveries (id, job_id, url, status, created_ms, next_attempt_ms)
  SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), id, callback_url, 'pending', ended_ms, ended_ms
  FROM ended WHERE callback_url IS NOT NULL)`;

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** PostgreSQL's words: `$n` placeholders, claims that skip rows other claims hold, names in an array. */
export const POSTGRES: Dialect = {
  compile: (sql) => numbered(sql),
  skipLocked: " FOR UPDATE SKIP LOCKED",
  indexed: () => "",
  nameIn: (param) => `name = ANY(${param}::text[])`,
  unlimited: unlimited("LEAST", "GREATEST"),
};

/** The claim's parameters, in the order claimSql numbers them. */
const CLAIM_PARAMS = ["now", "max", "tokens", "expires", "ms", "worker"];

/**
 * The claim, one statement: the queue's selection (SKIP LOCKED: concurrent claims from any
 * instance take different jobs, and the row lock re-checks the conditions against a concurrent
 * change, so a job is never handed out twice), then the take, each job with the token at its
 * place in the order. With the table's statistics the planner walks the queue index and stops
 * at the limit. $1 now, $2 how many, $3 their tokens, $4 lease end, $5 lease ms, $6 worker,
 * $7 the name or names (when filtered). Exported for the query-plan test.
 */
export function claimSql(scope: ClaimScope): string {
  return claimStatement(scope).text;
}

const claimStatements = new Map<ClaimScope, Compiled>();

function claimStatement(scope: ClaimScope): Compiled {
  let c = claimStatements.get(scope);
  if (c) return c;
  // The job updated is `j` (the query plans tell it from the jobs the selection reads).
  const take = TAKE_SET.replace(":token", "(:tokens::text[])[picked.n]").replaceAll("jobs.", "j.");
  c = numbered(
    `WITH c AS (${claimSelect(POSTGRES, scope, "priority, vtag, seq, ")}),
     picked AS (SELECT id, expired, row_number() OVER (ORDER BY ${CLAIM_ORDER}) AS n FROM c)
     UPDATE jobs j SET ${take} FROM picked WHERE j.id = picked.id
     RETURNING j.*, picked.expired AS previous_lease_expired`,
    [...CLAIM_PARAMS, ...(scope === "one" ? ["name"] : scope === "many" ? ["names"] : [])],
  );
  claimStatements.set(scope, c);
  return c;
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

interface PendingEnd {
  id: string;
  params: Record<string, unknown>;
  fence: Fence & { kind: "lease" };
  resolve: (r: JobRow | undefined) => void;
  reject: (e: unknown) => void;
}

/** Most reads by id that share one statement. */
const READ_BATCH = 500;

/** The end's columns, as the batch of ends takes them from its arrays (`i.<name>`), with their types. */
const END_COLUMNS: [string, string][] = [
  ["id", "text"],
  ["to", "text"],
  ["end", "text"],
  ["endedMs", "bigint"],
  ["progress", "int"],
  ["hasResult", "int"],
  ["result", "text"],
  ["error", "text"],
  ["by", "text"],
  ["token", "text"],
  ["now", "bigint"],
];

class PgDriver implements QueueDriver {
  readonly announces = true;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string | undefined,
    private readonly url: string,
  ) {}

  async migrate(o: { defaultMaxAttempts: number }): Promise<void> {
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

  private q<T extends pg.QueryResultRow = JobRow>(text: string, params: unknown[], on: pg.Pool | pg.PoolClient = this.pool): Promise<pg.QueryResult<T>> {
    let name = this.names.get(text);
    if (!name) this.names.set(text, (name = `jobs_${this.names.size}`));
    return on.query<T>({ name, text, values: params });
  }

  /** Compiled statements of queue-sql.ts, by their text. */
  private readonly compiled = new Map<string, Compiled>();

  /** A statement of queue-sql.ts with its `:name` parameters. */
  private exec<T extends pg.QueryResultRow = JobRow>(sql: string, params: Record<string, unknown>, on: pg.Pool | pg.PoolClient = this.pool): Promise<pg.QueryResult<T>> {
    let c = this.compiled.get(sql);
    if (!c) this.compiled.set(sql, (c = POSTGRES.compile(sql)));
    return this.q<T>(c.text, values(c, params), on);
  }

  /**
   * Group commit: creates that arrive while a batch is being written are written together in
   * the next one, one statement and one commit for all of them. Each promise resolves only
   * once the batch holding its job has committed. (Creates serialize on the counter's row lock
   * anyway, so one batch at a time loses nothing and a lone create is written at once.)
   */
  insert(job: NewJob): Promise<boolean | { unknownDependency: number }> {
    if (job.dependsOn) return this.run(() => this.insertDependant(job, job.dependsOn!));
    return new Promise((resolve, reject) => {
      this.pendingCreates.push({ job, resolve, reject });
      if (!this.writing) void this.writeCreates();
    });
  }

  private pendingCreates: { job: NewJob; resolve: (r: boolean) => void; reject: (e: unknown) => void }[] = [];
  private writing = false;

  private async writeCreates(): Promise<void> {
    this.writing = true;
    while (this.pendingCreates.length) {
      const batch = this.pendingCreates.splice(0, 500);
      try {
        const created = await this.run(() => this.insertBatch(batch.map((b) => b.job)));
        for (const b of batch) b.resolve(created.has(b.job.id));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.writing = false;
  }

  /**
   * A job with dependencies, in a transaction of its own: its parents locked (a parent's end
   * waits for this commit, so that its trigger sees the new dependant, or ended before and is
   * counted as ended), checked to be the owner's own, the row inserted, linked, its parents
   * marked; cancelled at once if a parent has already failed and it is not to run anyway.
   */
  private async insertDependant(job: NewJob, deps: NonNullable<NewJob["dependsOn"]>): Promise<boolean | { unknownDependency: number }> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      const locked = await this.q<{ id: string; status: string; owner: string | null }>(
        `SELECT id, status, owner FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`,
        [deps.ids],
        c,
      );
      const byId = new Map(locked.rows.map((r) => [r.id, r]));
      const unknown = deps.ids.findIndex((id) => byId.get(id)?.owner !== (job.owner ?? null) || !byId.has(id));
      if (unknown !== -1) {
        await c.query("ROLLBACK");
        return { unknownDependency: unknown };
      }
      if (!(await this.insertBatch([job], c)).has(job.id)) {
        await c.query("ROLLBACK");
        return false;
      }
      const parents = deps.ids.map((id) => byId.get(id)!);
      const waiting = parents.filter((p) => p.status === IN_PROGRESS).length;
      await this.exec(SET_DEPENDENCIES, { id: job.id, blockers: waiting, dependsOn: JSON.stringify(deps.ids), mode: deps.onFailure }, c);
      await this.q("INSERT INTO job_deps (child_id, parent_id) SELECT $1, unnest($2::text[])", [job.id, deps.ids], c);
      await this.q("UPDATE jobs SET has_dependants = TRUE WHERE id = ANY($1::text[]) AND NOT has_dependants", [deps.ids], c);
      const failed = deps.onFailure === "cancel" && parents.find((p) => p.status === "FAILED" || p.status === "CANCELLED");
      if (failed) {
        const now = Date.parse(job.start);
        const error = JSON.stringify(dependencyFailedError(failed.id, failed.status));
        await this.exec(`WITH ended AS (${CANCEL_DEPENDANT}), ${OUTBOX} SELECT pg_notify('${CHANNEL}', id) FROM ended`, { id: job.id, end: job.start, now, error }, c);
      }
      await c.query("COMMIT");
      return true;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  dependencies(ids: string[]): Promise<ParentRow[]> {
    return this.run(async () => (await this.q<ParentRow>(`SELECT ${PARENT_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`, [ids])).rows);
  }

  private async insertBatch(jobs: NewJob[], on: pg.Pool | pg.PoolClient = this.pool): Promise<Set<string>> {
    // One statement, one round trip. The counter's row lock is held until this statement's
    // transaction commits, so seq order is commit order, and a concurrent create with the
    // same Idempotency-Key has committed before this one looks (ON CONFLICT sees it).
    // Long-polling claims on every instance hear of each new job when it commits (one
    // notification per job: the payload carries its id, so that none are merged).
    const col = <T>(f: (j: NewJob) => T) => jobs.map(f);
    const inserted = await this.q<{ id: string }>(
      `WITH rows AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $12::text[], $13::bigint[], $14::text[], $15::bigint[], $16::text[], $17::text[], $18::text[])
           WITH ORDINALITY AS t(id, started_at, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, max_attempts, owner, touched_ms, traceparent, run_after_ms, singleton_key, schedule_id, concurrency_key, ord)),
       -- A client's jobs in one batch take consecutive turns (the tags' lookups see none of the batch).
       input AS (SELECT *, row_number() OVER (PARTITION BY name, owner ORDER BY ord) - 1 AS turn FROM rows),
       next AS (UPDATE job_seq SET value = value + $11 RETURNING value),
       ins AS (
         INSERT INTO jobs (seq, id, status, started_at, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, max_attempts, owner, touched_ms, traceparent, run_after_ms, singleton_key, schedule_id, concurrency_key, vtag)
         SELECT next.value - $11 + input.ord, input.id, '${IN_PROGRESS}', input.started_at, input.request, input.deadline_ms, input.idem_key,
           input.idem_fingerprint, input.callback_url, input.name, input.priority, input.max_attempts, input.owner, input.touched_ms, input.traceparent, input.run_after_ms,
           input.singleton_key, input.schedule_id, input.concurrency_key,
           ${fairTag("GREATEST", { name: "input.name", owner: "input.owner", priority: "input.priority", now: "input.touched_ms" })} + input.turn
         FROM input, next ORDER BY input.ord
         ON CONFLICT DO NOTHING RETURNING id, name, run_after_ms)
       SELECT id, pg_notify('${AVAILABLE}', ${AVAILABLE_PAYLOAD}) FROM ins`,
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
        col((j) => j.runAfter ?? 0),
        col((j) => j.singleton?.key ?? null),
        col((j) => j.scheduleId ?? null),
        col((j) => j.concurrencyKey ?? null),
      ],
      on,
    );
    return new Set(inserted.rows.map((r) => r.id));
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
    const rows = (await Promise.all(parts.map((part) => this.run(async () => (await this.q("SELECT * FROM jobs WHERE id = ANY($1::text[])", [part])).rows)))).flat();
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id));
  });

  pause(name: string, by: string | undefined, now: number): Promise<PausedRow> {
    // The row inserted, or the one that was there (a CTE's insert is not seen by the statement's own reads).
    const sql = `WITH ins AS (${PAUSE} RETURNING name, since_ms, paused_by)
      SELECT * FROM ins UNION ALL SELECT name, since_ms, paused_by FROM paused_names WHERE name = :name LIMIT 1`;
    return this.run(async () => (await this.exec<PausedRow>(sql, { name, now, by: by ?? null })).rows[0]!);
  }

  resume(name: string, now: number): Promise<boolean> {
    // One statement: the name's row taken out, its waiting jobs' deadlines moved on by the
    // pause, and waiting claims on every instance told.
    const sql = `WITH p AS (${UNPAUSE} RETURNING since_ms),
        moved AS (${RESUME_DEADLINES.replace(":since", "(SELECT since_ms FROM p)")} AND EXISTS (SELECT 1 FROM p))
      SELECT since_ms, pg_notify('${AVAILABLE}', :name || '/') FROM p`;
    return this.run(async () => ((await this.exec(sql, { name, now })).rowCount ?? 0) > 0);
  }

  paused(): Promise<PausedRow[]> {
    return this.run(async () => (await this.exec<PausedRow>(PAUSED, {})).rows);
  }

  rerun(_id: string, params: Record<string, unknown>): Promise<JobRow | undefined> {
    return this.run(async () => (await this.exec(announced(RERUN), params)).rows[0]);
  }

  redrive(params: Record<string, unknown>): Promise<{ rows: JobRow[]; more: boolean }> {
    return this.run(async () => {
      const rows = (await this.exec(announced(REDRIVE), params)).rows;
      return { rows, more: ((await this.exec(REDRIVE_MORE, params)).rowCount ?? 0) > 0 };
    });
  }

  singletonHolder(job: NewJob, replace: boolean): Promise<JobRow | undefined> {
    if (!replace) return this.run(async () => (await this.exec(SINGLETON_HOLDER, { key: job.singleton!.key })).rows[0]);
    // Announced like a give-back: its run time may have moved, and pollers of it hear the change.
    return this.run(async () => (await this.exec(announced(REPLACE_SINGLETON), replaceParams(job))).rows[0]);
  }

  rowByKey(key: string): Promise<JobRow | undefined> {
    return this.run(async () => (await this.q("SELECT * FROM jobs WHERE idem_key = $1", [key])).rows[0]);
  }

  page(q: ListQuery, after: number, limit: number): Promise<JobRow[]> {
    const sql = pageSql({ status: !!q.status, name: q.name !== undefined, owner: q.owner !== undefined, newestFirst: !!q.newestFirst }, "*");
    return this.run(async () => (await this.exec(sql, { after, limit, status: q.status, name: q.name, owner: q.owner })).rows);
  }

  claim(q: ClaimQuery): Promise<JobRow[]> {
    return this.run(async () => {
      const c = claimStatement(claimScope(q.names));
      const params = { now: q.now, max: q.tokens.length, tokens: q.tokens, expires: q.now + q.leaseMs, ms: q.leaseMs, worker: q.worker, name: q.names?.[0], names: q.names };
      const r = await this.q(c.text, values(c, params));
      return r.rows;
    });
  }

  /**
   * A worker's outcome (a lease fence) joins the group commit of ends: outcomes that arrive
   * while a batch is being written are written together in the next one, one statement and
   * one commit for all of them (each still under its own fence). Other transitions (cancels,
   * heartbeats, the deadline, the last lease running out) go alone.
   */
  transition(kind: TransitionKind, id: string, fence: Fence, params: Record<string, unknown>): Promise<JobRow | undefined> {
    if (kind !== "end" || fence.kind !== "lease") return this.run(() => this.transitionOne(kind, fence, params));
    return new Promise((resolve, reject) => {
      this.pendingEnds.push({ id, params: fenceParams(fence, params), fence, resolve, reject });
      if (!this.ending) void this.writeEnds();
    });
  }

  /** One compare-and-set; an end writes its completion push; every change is announced. */
  private async transitionOne(kind: TransitionKind, fence: Fence, params: Record<string, unknown>): Promise<JobRow | undefined> {
    const update = `${transitionSql(kind, fence.kind)} RETURNING *`;
    const announce = kind === "requeue" ? `, pg_notify('${AVAILABLE}', ${AVAILABLE_PAYLOAD})` : "";
    const sql = kind === "end" ? `WITH ended AS (${update}), ${OUTBOX} SELECT *, pg_notify('${CHANNEL}', id) FROM ended` : `WITH changed AS (${update}) SELECT *, pg_notify('${CHANNEL}', id)${announce} FROM changed`;
    return (await this.exec(sql, fenceParams(fence, params))).rows[0];
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
      const alone = (e: PendingEnd) => this.run(() => this.transitionOne("end", e.fence, e.params)).then(e.resolve, e.reject);
      if (batch.length === 1) {
        await alone(batch[0]!);
        continue;
      }
      let rows: JobRow[];
      try {
        rows = await this.run(() => this.endBatch(batch));
      } catch (err) {
        if (err instanceof StoreUnavailableError) {
          for (const e of batch) e.reject(err);
          continue;
        }
        // Anything else (a deadlock with a sweeper, say): each outcome on its own, so that one
        // cannot fail the others.
        await Promise.all(batch.map(alone));
        continue;
      }
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const e of batch) e.resolve(byId.get(e.id));
    }
    this.ending = false;
  }

  /** Many ends, one statement: the same SET and fence as one end's, each row's values from arrays. */
  private async endBatch(batch: PendingEnd[]): Promise<JobRow[]> {
    const fromArrays = (sql: string) => sql.replace(/(?<!:):([a-zA-Z_]\w*)/g, "i.$1");
    const arrays = END_COLUMNS.map(([, type], n) => `$${n + 1}::${type}[]`).join(", ");
    const r = await this.q(
      `WITH i AS (SELECT * FROM unnest(${arrays}) AS t(${END_COLUMNS.map(([name]) => name).join(", ")})),
       ended AS (
         UPDATE jobs SET ${fromArrays(TRANSITION_SET.end)}
         FROM i WHERE jobs.id = i.id AND jobs.status = '${IN_PROGRESS}'${fromArrays(fenceSql("lease"))} RETURNING jobs.*), ${OUTBOX}
       SELECT *, pg_notify('${CHANNEL}', id) FROM ended`,
      END_COLUMNS.map(([name]) => batch.map((e) => e.params[name] ?? null)),
    );
    return r.rows;
  }

  expire(now: number, end: string, error: string): Promise<string[]> {
    return this.run(async () => {
      // Row locks make concurrent sweepers from several instances expire each job once.
      const r = await this.exec<{ id: string }>(`WITH ended AS (${expireSql(POSTGRES)} RETURNING *), ${OUTBOX} SELECT id, pg_notify('${CHANNEL}', id) FROM ended`, { now, end, error });
      return r.rows.map((x) => x.id);
    });
  }

  exhausted(now: number, limit: number): Promise<string[]> {
    return this.run(async () => (await this.exec<{ id: string }>(EXHAUSTED, { now, limit })).rows.map((x) => x.id));
  }

  stats(now: number, since: number): Promise<StatsRows> {
    return this.run(async () => {
      await this.exec(PG_FOLD_COUNTS, {});
      const [queues, ended, outbox] = await Promise.all([
        this.exec<StatsRows["queues"][number]>(statsQueuesSql(POSTGRES), { now }),
        this.exec<StatsRows["ended"][number]>(statsEndedSql(POSTGRES), { since }),
        this.exec<{ n: string }>(STATS_OUTBOX, {}),
      ]);
      return { queues: queues.rows, ended: ended.rows, outbox: outbox.rows[0]!.n };
    });
  }

  events(jobId: string, after: number, limit: number): Promise<JobEventRow[]> {
    return this.run(async () => (await this.exec<JobEventRow>(EVENTS, { id: jobId, after, limit })).rows);
  }

  purge(before: number): Promise<number> {
    return this.run(async () => (await this.exec(PURGE, { before })).rowCount ?? 0);
  }

  claimDeliveries(until: number, now: number, limit: number): Promise<DeliveryRow[]> {
    // SKIP LOCKED: instances sweeping at once each take different deliveries.
    return this.run(async () => (await this.exec<DeliveryRow>(claimDeliveriesSql(POSTGRES), { until, now, limit })).rows);
  }

  settle(id: string, outcome: Parameters<JobStore["settleDelivery"]>[1]): Promise<void> {
    return this.run(async () => {
      if (outcome.kind === "delivered") await this.exec(SETTLE.delivered, { id });
      else if (outcome.kind === "retry") await this.exec(SETTLE.retry, { id, at: outcome.at, error: outcome.error });
      else await this.exec(SETTLE.failed, { id, error: outcome.error });
    });
  }

  private announcements?: Announcements | undefined;

  /**
   * Changes from every instance, through LISTEN/NOTIFY (pg-announce.ts): notifies are sent in
   * the same statement as the change, so they arrive only if it commits. Heard from the start,
   * so that the first long-poll misses nothing.
   */
  listen(changed: (id: string) => void, available: (name: string | undefined, at: number) => void): void {
    this.announcements = new Announcements(this.url, changed, available);
  }

  connections(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.pool.query("SELECT 1");
    });
  }

  query<T>(sql: string, params: Record<string, unknown>): Promise<{ rows: T[]; changes: number }> {
    return this.run(async () => {
      const r = await this.exec(sql, params);
      return { rows: r.rows as T[], changes: r.rowCount ?? 0 };
    });
  }

  async close(): Promise<void> {
    await this.announcements?.close();
    await this.pool.end();
  }
}

/** The PostgreSQL store: several instances share its jobs, and hear of each other's changes. */
/** An UPDATE of jobs whose rows are announced as changed and as available (a give-back's announcements). */
function announced(update: string): string {
  return `WITH changed AS (${update} RETURNING *) SELECT *, pg_notify('${CHANNEL}', id), pg_notify('${AVAILABLE}', ${AVAILABLE_PAYLOAD}) FROM changed`;
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
