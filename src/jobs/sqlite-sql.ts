// SQLite's own words beside the shared statements of queue-sql.ts: its dialect, a job row
// read as an array and made an object by one literal, and the store's statements, each
// prepared once when the file is opened.
import Database from "better-sqlite3";
import { IN_PROGRESS } from "./machine.js";
import type { JobEventRow } from "./events.js";
import { fairTag } from "./fair-sql.js";
import { unlimited } from "./limits-sql.js";
import { CANCEL_DEPENDANT, MARK_PARENT, PARENT_COLUMNS, SET_DEPENDENCIES } from "./deps-sql.js";
import { SQLITE_FOLD_COUNTS, statsQueuesSql } from "./counts-sql.js";
import {
  claimDeliveriesSql,
  claimSelect,
  EVENTS,
  EXHAUSTED,
  expireSql,
  PAUSE,
  PAUSED,
  positional,
  PURGE,
  REDRIVE,
  REDRIVE_MORE,
  RERUN,
  RESUME_DEADLINES,
  UNPAUSE,
  REPLACE_SINGLETON,
  SINGLETON_HOLDER,
  SETTLE,
  STATS_OUTBOX,
  statsEndedSql,
  TAKE_SET,
  type Dialect,
} from "./queue-sql.js";
import type { JobRow } from "./row.js";
import type { DeliveryRow, PausedRow, StatsRows } from "./sql-store.js";

type Row = JobRow;

/**
 * The columns of a JobRow, in the order statements here select them. Rows are read as arrays
 * (better-sqlite3's `raw`) and made into objects by `rowOf`, a literal V8 builds with one
 * shape: half the cost of letting the driver name every column of every row (3.9 against
 * 7.4 µs a job read, measured on a 37,000-job file).
 */
export const COLUMNS = "seq, id, status, started_at, ended_at, progress, has_result, result, error, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, attempts, max_attempts, run_after_ms, lease_token, lease_expires_ms, lease_ms, worker, owner, claimed_ms, traceparent, blockers, depends_on, schedule_id, vtag, concurrency_key";

export type Raw = unknown[];
/** A job a claim may take, as its selection reads it. */
export type Claimable = { id: string; expired: number; priority?: number; vtag?: number; seq?: number };
export function rowOf(a: Raw): Row {
  return {
    seq: a[0] as number,
    id: a[1] as string,
    status: a[2] as Row["status"],
    started_at: a[3] as string,
    ended_at: a[4] as string,
    progress: a[5] as number | null,
    has_result: a[6] as number,
    result: a[7] as string | null,
    error: a[8] as string | null,
    request: a[9] as string,
    deadline_ms: a[10] as number,
    idem_key: a[11] as string | null,
    idem_fingerprint: a[12] as string | null,
    callback_url: a[13] as string | null,
    name: a[14] as string | null,
    priority: a[15] as number,
    attempts: a[16] as number,
    max_attempts: a[17] as number,
    run_after_ms: a[18] as number,
    lease_token: a[19] as string | null,
    lease_expires_ms: a[20] as number,
    lease_ms: a[21] as number,
    worker: a[22] as string | null,
    owner: a[23] as string | null,
    claimed_ms: a[24] as number,
    traceparent: a[25] as string | null,
    blockers: a[26] as number,
    depends_on: a[27] as string | null,
    schedule_id: a[28] as string | null,
    vtag: a[29] as number,
    concurrency_key: a[30] as string | null,
  };
}

/** SQLite's words: `?` placeholders, the queue index named, names in a JSON list. */
export const SQLITE: Dialect = {
  compile: positional,
  skipLocked: "",
  // Without statistics SQLite would rather read every IN PROGRESS job through jobs_status_seq
  // and sort them (740 µs a claim with 7,000 waiting, against a walk that stops at the limit).
  indexed: (index) => ` INDEXED BY ${index}`,
  nameIn: (param) => `name IN (SELECT value FROM json_each(${param}))`,
  unlimited: unlimited("MIN", "MAX"),
};

/** The claim's selection, without and with a names filter, with `:name` parameters (exported for the query-plan test). */
export const CLAIM_SELECT = {
  any: claimSelect(SQLITE, "any"),
  byName: claimSelect(SQLITE, "one"),
};

/** A prepared statement with the parameter names of its placeholders, in order. */
export interface Prepared<R> {
  stmt: Database.Statement<unknown[], R>;
  names: string[];
}

/** A statement of queue-sql.ts, prepared with `?` for each of its `:name` parameters. */
export function prepareOn<R = unknown>(db: Database.Database, sql: string, raw = false): Prepared<R> {
  const c = SQLITE.compile(sql);
  const stmt = db.prepare<unknown[], R>(c.text);
  if (raw) stmt.raw(true);
  return { stmt, names: c.names };
}

export type SqliteStatements = ReturnType<typeof sqliteStatements>;

/** The store's statements on `db`. */
export function sqliteStatements(db: Database.Database) {
  const prepare = <R = unknown>(sql: string, raw = false) => prepareOn<R>(db, sql, raw);
return {
    // A repeated Idempotency-Key, or a singleton key a waiting job holds, inserts nothing
    // (ON CONFLICT without a target: any unique index). Parameters by position, not by name: the
    // driver looks each named one up on the object it is given, 2 µs of a create's ~17 µs
    // in the store (measured on the store alone, batches of 32).
    insert: db.prepare<[string, string, string, number, string | null, string | null, string | null, string | null, number, number, string | null, number, string | null, number, string | null, string | null, string | null]>(
      `INSERT INTO jobs (id, status, started_at, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, max_attempts, owner, touched_ms, traceparent, run_after_ms, singleton_key, schedule_id, concurrency_key, vtag)
       SELECT v.*, ${fairTag("MAX", { name: "v.name", owner: "v.owner", priority: "v.priority", now: "v.touched_ms" })}
       FROM (SELECT ? AS id, '${IN_PROGRESS}' AS status, ? AS started_at, ? AS request, ? AS deadline_ms, ? AS idem_key, ? AS idem_fingerprint, ? AS callback_url,
         ? AS name, ? AS priority, ? AS max_attempts, ? AS owner, ? AS touched_ms, ? AS traceparent, ? AS run_after_ms, ? AS singleton_key, ? AS schedule_id, ? AS concurrency_key) v
       WHERE true
       ON CONFLICT DO NOTHING`,
    ),
    singletonHolder: prepare<Row>(SINGLETON_HOLDER),
    pause: prepare(PAUSE),
    pausedOne: prepare<PausedRow>("SELECT name, since_ms, paused_by FROM paused_names WHERE name = :name"),
    paused: prepare<PausedRow>(PAUSED),
    resumeDeadlines: prepare(RESUME_DEADLINES),
    unpause: prepare(UNPAUSE),
    rerun: prepare<Row>(`${RERUN} RETURNING *`),
    redrive: prepare<Row>(`${REDRIVE} RETURNING *`),
    redriveMore: prepare<{ more: number }>(REDRIVE_MORE),
    replaceSingleton: prepare<Row>(`${REPLACE_SINGLETON} RETURNING *`),
    created: db.prepare<[string, number, string | null]>("INSERT INTO job_events (job_id, at_ms, type, actor) VALUES (?, ?, 'created', ?)"),
    undoInsert: db.prepare<[string]>("DELETE FROM jobs WHERE id = ?"),
    parent: db.prepare<[string], { id: string; status: string; owner: string | null }>("SELECT id, status, owner FROM jobs WHERE id = ?"),
    parents: prepare<{ id: string; status: Row["status"]; has_result: number; result: string | null; owner: string | null }>(
      `SELECT ${PARENT_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))`,
    ),
    setDependencies: prepare(SET_DEPENDENCIES),
    markParent: prepare(MARK_PARENT),
    addDep: db.prepare<[string, string]>("INSERT INTO job_deps (child_id, parent_id) VALUES (?, ?)"),
    cancelDependant: prepare<{ callback_url: string | null }>(CANCEL_DEPENDANT),
    byId: db.prepare<[string], Raw>(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`).raw(true),
    byKey: db.prepare<[string], Raw>(`SELECT ${COLUMNS} FROM jobs WHERE idem_key = ?`).raw(true),
    queues: prepare<StatsRows["queues"][number]>(statsQueuesSql(SQLITE)),
    countSums: prepare<{ name: string | null; delta: number }>(SQLITE_FOLD_COUNTS.sums),
    countClear: prepare(SQLITE_FOLD_COUNTS.clear),
    countPut: prepare(SQLITE_FOLD_COUNTS.put),
    endedSince: prepare<StatsRows["ended"][number]>(statsEndedSql(SQLITE)),
    outbox: prepare<{ n: number }>(STATS_OUTBOX),
    events: prepare<JobEventRow>(EVENTS),
    claimable: prepare<{ id: string; expired: number }>(claimSelect(SQLITE, "any")),
    claimableByName: prepare<Claimable>(claimSelect(SQLITE, "one", "priority, vtag, seq, ")),
    take: prepare<Raw>(`UPDATE jobs SET ${TAKE_SET} WHERE id = :id RETURNING ${COLUMNS}`, true),
    exhausted: prepare<{ id: string }>(EXHAUSTED),
    expire: prepare<{ id: string; callback_url: string | null }>(`${expireSql(SQLITE)} RETURNING id, callback_url`),
    purge: prepare(PURGE),
    ping: db.prepare("SELECT 1"),
    addDelivery: db.prepare(
      `INSERT INTO deliveries (id, job_id, url, status, created_ms, next_attempt_ms)
       VALUES ('msg_' || lower(hex(randomblob(16))), ?, ?, 'pending', ?, ?)`,
    ),
    claimDeliveries: prepare<DeliveryRow>(claimDeliveriesSql(SQLITE)),
    delivered: prepare(SETTLE.delivered),
    retry: prepare(SETTLE.retry),
    failed: prepare(SETTLE.failed),
  };
}
