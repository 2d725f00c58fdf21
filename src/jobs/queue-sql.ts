// The queue's rules as SQL, written once for both stores (pg-boss keeps its "plans" so, and
// River its queries per driver): which jobs a claim may take and in what order, what a claim,
// an end, a heartbeat and a give-back change, what the deadline fails, what counts as waiting
// and running, what the retention sweep removes. Statements name their parameters `:name`; a
// Dialect turns them into its own placeholders and fills in the few words the databases say
// differently.
import { IN_PROGRESS, type Fence } from "./machine.js";
import { DEFAULT_MAX_ATTEMPTS, type NewJob } from "./store.js";
import { RECOUNT_BLOCKERS } from "./deps-sql.js";

export interface Dialect {
  /** How a statement written with `:name` parameters is sent: its text and the names in order. */
  compile(sql: string): Compiled;
  /** After a claim's SELECT: lock the rows it takes, skipping rows other claims hold (PostgreSQL). */
  skipLocked: string;
  /** After a table's name: the index to walk, where the planner has to be told (SQLite). */
  indexed(index: string): string;
  /** `name` among a list parameter's values. */
  nameIn(param: string): string;
  /** limits-sql.ts UNLIMITED in this dialect. */
  unlimited: string;
}

export interface Compiled {
  text: string;
  /** The parameter name of each placeholder, in the order the driver passes values. */
  names: string[];
}

/** Values in a compiled statement's order. */
export function values(c: { names: string[] }, params: Record<string, unknown>): unknown[] {
  const out = new Array<unknown>(c.names.length);
  for (let i = 0; i < out.length; i++) out[i] = params[c.names[i]!];
  return out;
}

/**
 * Placeholders numbered (`$1`, the same number again for a repeated name): PostgreSQL. In the
 * order given, then by first use.
 */
export function numbered(sql: string, order: string[] = []): Compiled {
  const names = [...order];
  const text = sql.replace(/(?<!:):([a-zA-Z_]\w*)/g, (_, name: string) => {
    let i = names.indexOf(name);
    if (i === -1) i = names.push(name) - 1;
    return `$${i + 1}`;
  });
  return { text, names };
}

/** One `?` per use (a repeated name is passed again): SQLite, whose driver binds by position fastest. */
export function positional(sql: string): Compiled {
  const names: string[] = [];
  const text = sql.replace(/(?<!:):([a-zA-Z_]\w*)/g, (_, name: string) => {
    names.push(name);
    return "?";
  });
  return { text, names };
}

/** Not of a paused name (admins pause names: claims skip their jobs). */
export const UNPAUSED = "(name IS NULL OR name NOT IN (SELECT name FROM paused_names))";

/**
 * A job a claim may take: waiting (no unexpired lease), past its backoff, before its
 * deadline, with attempts left, its dependencies met (deps-sql.ts). The queue indexes are ordered for the claim's ORDER BY, so
 * the walk stops at the limit.
 */
export const CLAIMABLE = `status = '${IN_PROGRESS}' AND lease_expires_ms <= :now AND run_after_ms <= :now
  AND attempts < max_attempts AND deadline_ms > :now AND blockers = 0 AND ${UNPAUSED}`;

/** Whether a claimable job's previous lease ran out (rather than was given back, or never was). */
export const LEASE_RAN_OUT = "lease_token IS NOT NULL AND lease_expires_ms > 0";

/** The claim's order: highest priority first, then each client in turn (fair-sql.ts), then oldest. */
export const CLAIM_ORDER = "priority DESC, vtag, seq";

/**
 * Which waiting jobs a claim looks at: any, those of one name, or of several. One name is an
 * equality on the name's index, which yields its jobs in the claim's order, so the walk stops
 * at the limit; several names are a list whose jobs the database must sort (SQLite's driver
 * claims those one name at a time instead).
 */
export type ClaimScope = "any" | "one" | "many";

export function claimScope(names: string[] | undefined): ClaimScope {
  return names === undefined ? "any" : names.length === 1 ? "one" : "many";
}

/** The ids a claim takes, in order, with whether their previous lease ran out (and `also`, other columns). */
export function claimSelect(d: Dialect, scope: ClaimScope, also = ""): string {
  const filter = scope === "one" ? " AND name = :name" : scope === "many" ? ` AND ${d.nameIn(":names")}` : "";
  return `SELECT id, ${also}${LEASE_RAN_OUT} AS expired FROM jobs${d.indexed(scope === "any" ? "jobs_queue" : "jobs_queue_name")} WHERE ${CLAIMABLE}${filter} AND ${d.unlimited}
     ORDER BY ${CLAIM_ORDER} LIMIT :max${d.skipLocked}`;
}

// The SET clauses name the row's own columns as `jobs.x`: a statement that updates many jobs
// from a list of values (PostgreSQL's batches) has columns of the same names in that list.

/** What a claim sets on a job it takes (`:token` is the job's own). */
export const TAKE_SET = "attempts = jobs.attempts + 1, lease_token = :token, lease_expires_ms = :expires, lease_ms = :ms, worker = :worker, touched_ms = :now, claimed_ms = :now, singleton_key = NULL";

/** The waiting job holding a singleton key (none once a worker has taken it: a claim frees the key). */
export const SINGLETON_HOLDER = `SELECT * FROM jobs WHERE singleton_key = :key AND status = '${IN_PROGRESS}'`;

/**
 * singletonMode replace: the waiting job holding the key takes the new create's request, and
 * with it its name, priority, attempts, completion push, run time and deadline. Its id, creation
 * time, owner and history stay.
 */
export const REPLACE_SINGLETON = `UPDATE jobs SET request = :request, name = :name, priority = :priority, max_attempts = :maxAttempts,
    callback_url = :callbackUrl, run_after_ms = :runAfter, deadline_ms = :deadlineAt, touched_ms = :touched
  WHERE singleton_key = :key AND status = '${IN_PROGRESS}'`;

/** REPLACE_SINGLETON's parameters for a create. */
export function replaceParams(job: NewJob): Record<string, unknown> {
  return {
    key: job.singleton!.key,
    request: JSON.stringify(job.request ?? null),
    name: job.name ?? null,
    priority: job.priority ?? 0,
    maxAttempts: job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    callbackUrl: job.callbackUrl ?? null,
    runAfter: job.runAfter ?? 0,
    deadlineAt: job.deadlineAt,
    touched: Date.parse(job.start),
  };
}

/** The compare-and-set transitions of a job still IN PROGRESS: what each sets. */
export const TRANSITION_SET = {
  end: `status = :to, ended_at = :end, ended_ms = :endedMs, touched_ms = :endedMs, ended_by = :by,
    progress = COALESCE(:progress, jobs.progress), has_result = (:hasResult = 1), result = :result, error = :error`,
  /** Progress from a backend that holds no lease. */
  progress: "progress = COALESCE(:progress, jobs.progress), touched_ms = :touched",
  /** Progress under a lease: a heartbeat, which extends the lease by its length from now. */
  heartbeat: "progress = COALESCE(:progress, jobs.progress), lease_expires_ms = CAST(:now AS BIGINT) + jobs.lease_ms, touched_ms = :now",
  /** The lease given back: the job waits for another claim after `runAfter`. */
  requeue: "lease_expires_ms = 0, run_after_ms = :runAfter, attempts = jobs.attempts - :uncount, touched_ms = :now",
};

export type TransitionKind = keyof typeof TRANSITION_SET;

/**
 * The condition a fence adds to a compare-and-set (see Fence in machine.ts), with `:now` and
 * `:token` for its values.
 */
export function fenceSql(kind: Fence["kind"]): string {
  if (kind === "none") return "";
  // A fence is checked on one job found by its id. Its comparisons are written so that no
  // index can serve them (`+ 0`): without statistics PostgreSQL found the job by walking the
  // deadline index instead (`deadline_ms > :now` over every waiting job; 3,004 rows read to
  // cancel one, and a cost that grew with the backlog).
  // Before the deadline, and not exhausted: attempts left, or the last lease not yet run out.
  const live = " AND deadline_ms + 0 > :now AND (attempts < max_attempts OR lease_expires_ms = 0 OR lease_expires_ms + 0 > :now)";
  switch (kind) {
    case "due":
      return ` AND deadline_ms + 0 <= :now AND (${UNPAUSED} OR lease_expires_ms + 0 > :now)`;
    case "lapsed":
      return " AND lease_expires_ms + 0 <= :now";
    case "live":
      return live;
    case "unheld":
      return ` AND lease_expires_ms + 0 <= :now${live}`;
    case "lease":
      return " AND lease_token = :token AND lease_expires_ms + 0 > :now AND deadline_ms + 0 > :now";
  }
}

/** A transition's UPDATE of one job under a fence; the driver adds what it returns. */
export function transitionSql(kind: TransitionKind, fence: Fence["kind"]): string {
  return `UPDATE jobs SET ${TRANSITION_SET[kind]} WHERE id = :id AND status = '${IN_PROGRESS}'${fenceSql(fence)}`;
}

/** The fence's values as statement parameters. */
export function fenceParams(fence: Fence, params: Record<string, unknown>): Record<string, unknown> {
  if (fence.kind !== "none") params["now"] = fence.now;
  if (fence.kind === "lease") params["token"] = fence.token;
  return params;
}

/**
 * The deadline: every IN PROGRESS job past it fails (the driver adds what it returns). Through
 * the partial index over IN PROGRESS deadlines, which starts at the overdue ones (without
 * statistics SQLite would rather read every IN PROGRESS job by status: 9 ms against 3 for 50
 * overdue among 20,000 waiting in `npm run bench:scale`).
 */
export function expireSql(d: Dialect): string {
  return `UPDATE jobs${d.indexed("jobs_deadline")} SET status = 'FAILED', ended_at = :end, ended_ms = :now, touched_ms = :now, error = :error, ended_by = NULL
  WHERE status = '${IN_PROGRESS}' AND deadline_ms <= :now AND (${UNPAUSED} OR lease_expires_ms > :now)`;
}

// Pause and re-run, for admins.

/** Pauses a name (a paused name stays as it was paused). */
export const PAUSE = "INSERT INTO paused_names (name, since_ms, paused_by) VALUES (:name, :now, :by) ON CONFLICT (name) DO NOTHING";
export const PAUSED = "SELECT name, since_ms, paused_by FROM paused_names ORDER BY name";
/**
 * Resuming moves the deadlines of the name's waiting jobs on by the time it was paused (their
 * deadlines stopped while it was; jobs workers held were not paused). Run before UNPAUSE, in its transaction.
 */
export const RESUME_DEADLINES = `UPDATE jobs SET deadline_ms = jobs.deadline_ms + (:now - :since)
  WHERE name = :name AND status = '${IN_PROGRESS}' AND lease_expires_ms <= :now`;
export const UNPAUSE = "DELETE FROM paused_names WHERE name = :name";

/**
 * What a re-run sets: IN PROGRESS again, a new series of attempts from now, nothing of the
 * previous outcome kept. The lease token stays (its lease ended: a stale worker's report is
 * still refused by its fence); ended_by is the admin, the actor of the history's `rerun` event,
 * until the job ends again.
 */
const RERUN_SET = `status = '${IN_PROGRESS}', ended_at = '', ended_ms = NULL, ended_by = :by, touched_ms = :now, progress = NULL,
  has_result = (1 = 0), result = NULL, error = NULL, attempts = 0, lease_expires_ms = 0, run_after_ms = 0, deadline_ms = :deadline,
  ${RECOUNT_BLOCKERS}`;
const RERUNNABLE = "status IN ('FAILED', 'CANCELLED')";
/** Re-runs one job, if it failed or was cancelled. */
export const RERUN = `UPDATE jobs SET ${RERUN_SET} WHERE id = :id AND ${RERUNNABLE}`;
/** The redrive: re-runs the oldest `:limit` jobs of a name with a status. */
export const REDRIVE = `UPDATE jobs SET ${RERUN_SET}
  WHERE id IN (SELECT id FROM jobs WHERE name = :name AND status = :status ORDER BY seq LIMIT :limit) AND ${RERUNNABLE}`;
/** Whether the redrive left jobs of the name and status. */
export const REDRIVE_MORE = "SELECT 1 AS more FROM jobs WHERE name = :name AND status = :status LIMIT 1";

/** Jobs whose last allowed attempt's lease has run out: to be failed. */
export const EXHAUSTED = `SELECT id FROM jobs WHERE status = '${IN_PROGRESS}' AND lease_expires_ms > 0 AND lease_expires_ms <= :now AND attempts >= max_attempts LIMIT :limit`;

/** Retention: ended jobs (their histories go with them) that ended at or before `:before`. */
export const PURGE = "DELETE FROM jobs WHERE ended_ms IS NOT NULL AND ended_ms <= :before";

/**
 * Jobs ended since `:since`, by status, through the partial index over ended times (without
 * statistics SQLite would rather walk jobs_status_seq whole: 13 ms against 0.1 ms with 90,000
 * ended jobs).
 */
export function statsEndedSql(d: Dialect): string {
  return `SELECT status, COUNT(*) AS n FROM jobs${d.indexed("jobs_ended")} WHERE ended_ms > :since GROUP BY status`;
}
/** Completion pushes not yet delivered. */
export const STATS_OUTBOX = "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'";

/** A page of jobs in creation order (`seq`), filtered; one more than asked, to tell whether there is another. */
export function pageSql(f: { status: boolean; name: boolean; owner: boolean; newestFirst: boolean }, columns: string): string {
  const where = [
    f.newestFirst ? "seq < :after" : "seq > :after",
    ...(f.status ? ["status = :status"] : []),
    ...(f.name ? ["name = :name"] : []),
    ...(f.owner ? ["owner = :owner"] : []),
  ].join(" AND ");
  return `SELECT ${columns} FROM jobs WHERE ${where} ORDER BY seq${f.newestFirst ? " DESC" : ""} LIMIT :limit`;
}

/** A job's history after event `:after`, oldest first. */
export const EVENTS = "SELECT * FROM job_events WHERE job_id = :id AND seq > :after ORDER BY seq LIMIT :limit";

/** Completion pushes due now, leased until `:until` so that no other instance sends them meanwhile. */
export function claimDeliveriesSql(d: Dialect): string {
  return `UPDATE deliveries SET lease_until_ms = :until
    WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= :now AND lease_until_ms <= :now
                 ORDER BY next_attempt_ms LIMIT :limit${d.skipLocked})
    RETURNING id, job_id, url, attempts, created_ms`;
}

/** How a push attempt settles. */
export const SETTLE = {
  delivered: "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL WHERE id = :id",
  retry: "UPDATE deliveries SET attempts = attempts + 1, next_attempt_ms = :at, lease_until_ms = 0, last_error = :error WHERE id = :id",
  failed: "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = :error WHERE id = :id",
};
