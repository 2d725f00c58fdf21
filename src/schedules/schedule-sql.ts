// Recurring schedules as SQL for both stores: the table, and one statement per operation.
// Every instance's scheduler reads the schedules due (`next_ms` within its look-ahead), creates
// each one's job under an Idempotency-Key made of the schedule and the due time, then moves
// `next_ms` on with a compare-and-set from the due time it read. Two instances firing the same
// due time create one job (the second create replays the first's) and one of them moves it on;
// an instance that dies between the create and the move leaves the due time to the next look,
// whose create replays. So each due time gets exactly one job, across instances and crashes.

/** The schedules table and the jobs' link to their schedule (`big` the dialect's 64-bit integer). */
export function schedulesMigration(big: string): string {
  return `CREATE TABLE schedules (
     id TEXT PRIMARY KEY,
     owner TEXT,
     cron TEXT,
     timezone TEXT,
     every_ms ${big},
     anchor_ms ${big} NOT NULL,
     template TEXT NOT NULL,
     catch_up TEXT NOT NULL,
     paused INTEGER NOT NULL DEFAULT 0,
     next_ms ${big},
     last_ms ${big},
     last_job TEXT,
     created_ms ${big} NOT NULL,
     updated_ms ${big} NOT NULL
   );
   CREATE INDEX schedules_due ON schedules (next_ms) WHERE paused = 0 AND next_ms IS NOT NULL;
   CREATE INDEX schedules_owner ON schedules (owner, created_ms);
   ALTER TABLE jobs ADD COLUMN schedule_id TEXT;`;
}

export interface ScheduleRow {
  id: string;
  owner: string | null;
  cron: string | null;
  timezone: string | null;
  every_ms: number | string | null;
  anchor_ms: number | string;
  template: string;
  catch_up: "skip" | "once";
  paused: number;
  next_ms: number | string | null;
  last_ms: number | string | null;
  last_job: string | null;
  created_ms: number | string;
  updated_ms: number | string;
}

const COLUMNS = "id, owner, cron, timezone, every_ms, anchor_ms, template, catch_up, paused, next_ms, last_ms, last_job, created_ms, updated_ms";

export const SCHEDULE_SQL = {
  insert: `INSERT INTO schedules (${COLUMNS})
    VALUES (:id, :owner, :cron, :timezone, :every, :anchor, :template, :catchUp, :paused, :next, NULL, NULL, :now, :now)`,
  get: `SELECT ${COLUMNS} FROM schedules WHERE id = :id`,
  /** Oldest first; an owner's own (`:owner` NULL: every owner's). */
  list: `SELECT ${COLUMNS} FROM schedules WHERE (CAST(:owner AS TEXT) IS NULL OR owner = :owner) ORDER BY created_ms, id LIMIT :limit`,
  /** Everything but its identity, its owner and what it last did. */
  update: `UPDATE schedules SET cron = :cron, timezone = :timezone, every_ms = :every, anchor_ms = :anchor, template = :template,
    catch_up = :catchUp, paused = :paused, next_ms = :next, updated_ms = :now WHERE id = :id`,
  delete: "DELETE FROM schedules WHERE id = :id",
  /** Schedules with a due time up to `:until`, earliest first. */
  due: `SELECT ${COLUMNS} FROM schedules WHERE paused = 0 AND next_ms IS NOT NULL AND next_ms <= :until ORDER BY next_ms LIMIT :limit`,
  /** Moves a schedule on from the due time it was read at; nothing when another instance did first. */
  advance: `UPDATE schedules SET next_ms = :next, last_ms = COALESCE(:last, last_ms), last_job = COALESCE(:job, last_job) WHERE id = :id AND next_ms = :due AND paused = 0`,
  /** A job made for a due time, recorded although the schedule was paused or retimed meanwhile (never going back). */
  recordRun: `UPDATE schedules SET last_ms = :last, last_job = :job WHERE id = :id AND (last_ms IS NULL OR last_ms < :last)`,
};
