// Concurrency and rate limits, set by admins per job name or per `concurrencyKey` (given on
// create), as SQL for both stores. Enforced where a job is taken: a trigger before the claim's
// update of the job skips the job (the claim does not hand it out) when one of its limits is
// full, so every path that takes a job obeys it, on every instance:
//
// - concurrency: at most `max_running` of the group held by workers at once. The held jobs are
//   counted when a job is taken (the running jobs, through the lease index: a small set), not
//   kept in a counter, so an end, a give-back or a re-run needs no bookkeeping. A job whose
//   lease ran out still counts (its worker may still be at it) until it is taken again, which
//   does not count it twice.
// - rate: at most `per_second` taken per second, a token bucket of `burst` kept in the limit's
//   row (refilled from the claim's time when it is taken from).
//
// On PostgreSQL the trigger locks the job's limit rows first, so claims of one group from any
// instance take turns there: each counts with the others' takes committed. In SQLite writes
// take turns anyway. Claims also leave out the jobs of full groups when they choose (CLAIMABLE
// does not know the limits), so that a full group's backlog does not hide other jobs.
import { IN_PROGRESS } from "./machine.js";

/** Whether the job row `x` is held by a worker (its lease may have run out). */
const held = (x: string) => `(${x}.status = '${IN_PROGRESS}' AND ${x}.lease_token IS NOT NULL AND ${x}.lease_expires_ms > 0)`;
/** Whether limit `l` applies to job row `x`. */
const applies = (l: string, x: string) => `((${l}.kind = 'name' AND ${l}.value = ${x}.name) OR (${l}.kind = 'key' AND ${l}.value = ${x}.concurrency_key))`;
/** The tokens of limit `l`'s bucket at time `now` (`least`/`greatest`: the dialect's two-argument min and max). */
const refill = (l: string, now: string, least: string, greatest: string) =>
  `${least}(${l}.burst, ${l}.tokens + ${greatest}(${now} - ${l}.refilled_ms, 0) * ${l}.per_second / 1000.0)`;
/** Whether limit `l` lets no job of its group be taken for job row `x` (taken before: `before`) at `now`. */
function full(l: string, before: string, now: string, least: string, greatest: string): string {
  return `((${l}.max_running IS NOT NULL AND NOT ${held(before)}
      AND (SELECT COUNT(*) FROM jobs h WHERE ${held("h")} AND ${applies(l, "h")}) >= ${l}.max_running)
    OR (${l}.per_second IS NOT NULL AND ${refill(l, now, least, greatest)} < 1))`;
}

/** The limits table and the jobs' key. */
const TABLE = (big: string) => `CREATE TABLE job_limits (
     kind TEXT NOT NULL CHECK (kind IN ('name', 'key')),
     value TEXT NOT NULL,
     max_running INTEGER,
     per_second DOUBLE PRECISION,
     burst INTEGER NOT NULL DEFAULT 1,
     tokens DOUBLE PRECISION NOT NULL DEFAULT 0,
     refilled_ms ${big} NOT NULL DEFAULT 0,
     updated_ms ${big} NOT NULL,
     updated_by TEXT,
     PRIMARY KEY (kind, value)
   );
   ALTER TABLE jobs ADD COLUMN concurrency_key TEXT;`;

export const SQLITE_LIMITS_MIGRATION = `${TABLE("INTEGER")}
   CREATE TRIGGER job_limits_take BEFORE UPDATE OF lease_token ON jobs
     WHEN NEW.lease_token IS NOT OLD.lease_token AND ${held("NEW")} BEGIN
     SELECT RAISE(IGNORE) FROM job_limits l WHERE ${applies("l", "NEW")} AND ${full("l", "OLD", "NEW.touched_ms", "MIN", "MAX")} LIMIT 1;
     UPDATE job_limits SET tokens = ${refill("job_limits", "NEW.touched_ms", "MIN", "MAX")} - 1, refilled_ms = MAX(refilled_ms, NEW.touched_ms)
       WHERE ${applies("job_limits", "NEW")} AND per_second IS NOT NULL;
   END;`;

export const PG_LIMITS_MIGRATION = `${TABLE("BIGINT")}
   CREATE FUNCTION job_limits_take() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF NOT EXISTS (SELECT 1 FROM job_limits l WHERE ${applies("l", "NEW")}) THEN RETURN NEW; END IF;
     -- Claims of the group take turns from here to their commit (in a fixed order: no deadlock between two groups).
     PERFORM 1 FROM job_limits l WHERE ${applies("l", "NEW")} ORDER BY kind, value FOR UPDATE;
     IF EXISTS (SELECT 1 FROM job_limits l WHERE ${applies("l", "NEW")} AND ${full("l", "OLD", "NEW.touched_ms", "LEAST", "GREATEST")}) THEN
       RETURN NULL;
     END IF;
     UPDATE job_limits l SET tokens = ${refill("l", "NEW.touched_ms", "LEAST", "GREATEST")} - 1, refilled_ms = GREATEST(l.refilled_ms, NEW.touched_ms)
       WHERE ${applies("l", "NEW")} AND l.per_second IS NOT NULL;
     RETURN NEW;
   END $$;
   CREATE TRIGGER job_limits_take BEFORE UPDATE OF lease_token ON jobs FOR EACH ROW
     WHEN (NEW.lease_token IS DISTINCT FROM OLD.lease_token AND ${held("NEW")}) EXECUTE FUNCTION job_limits_take();`;

/** A claim's choice leaves out jobs whose group is full (a job whose lease ran out is already counted: it may be taken again). */
export const UNLIMITED = `NOT EXISTS (SELECT 1 FROM job_limits l WHERE ${applies("l", "jobs")} AND ${full("l", "jobs", ":now", ":least", ":greatest")})`;

/** UNLIMITED in a dialect (its two-argument minimum and maximum). */
export function unlimited(least: string, greatest: string): string {
  return UNLIMITED.replaceAll(":least", least).replaceAll(":greatest", greatest);
}

export interface LimitRow {
  kind: "name" | "key";
  value: string;
  max_running: number | null;
  per_second: number | null;
  burst: number;
  updated_ms: number | string;
  updated_by: string | null;
  running: number | string;
}

export const LIMIT_SQL = {
  /** Sets a limit (a new bucket starts full). */
  upsert: `INSERT INTO job_limits (kind, value, max_running, per_second, burst, tokens, refilled_ms, updated_ms, updated_by)
    VALUES (:kind, :value, :maxRunning, :perSecond, :burst, :tokens, :now, :now, :by)
    ON CONFLICT (kind, value) DO UPDATE SET max_running = :maxRunning, per_second = :perSecond, burst = :burst,
      tokens = CASE WHEN job_limits.tokens > :tokens THEN :tokens ELSE job_limits.tokens END, updated_ms = :now, updated_by = :by`,
  /** Limits with how many of their group workers hold now. */
  list: `SELECT l.kind, l.value, l.max_running, l.per_second, l.burst, l.updated_ms, l.updated_by,
      (SELECT COUNT(*) FROM jobs h WHERE ${held("h")} AND ${applies("l", "h")}) AS running
    FROM job_limits l WHERE (CAST(:kind AS TEXT) IS NULL OR (l.kind = :kind AND l.value = :value)) ORDER BY l.kind, l.value`,
  delete: "DELETE FROM job_limits WHERE kind = :kind AND value = :value",
};
