// Each job's history: its transitions with their time and actor, written by the database
// itself (triggers on the jobs and deliveries tables) in the statement that makes the change.
// So every path that changes a job (a request, a claim, the sweeper, a SQL-level batch) is
// recorded, atomically with the change, without another round trip; and the history is
// deleted with its job. (One exception: in SQLite the created event is written by the store's
// insert, in the same transaction; a job is inserted nowhere else.) Both dialects record the
// same events from the same row changes:
//
// | event           | when the row changes like this                          | at            | actor             |
// |-----------------|---------------------------------------------------------|---------------|-------------------|
// | created         | inserted                                                | creation      | the owner (client)|
// | lease-expired   | claimed again or ended after its lease ran out          | lease's end   | the lease's worker|
// | claimed         | a new lease token                                       | claim         | the worker        |
// | progress        | progress changed, at most one event per job per 5 s     | update        | the lease holder  |
// | retry-scheduled | lease given back, the attempt counted (retryable fail)  | update        | the worker        |
// | released        | lease given back, the attempt not counted               | update        | the worker        |
// | succeeded, failed, cancelled | status ends                                | end           | the lease holder, or the cancelling caller |
// | webhook-delivered, webhook-failed | the job's completion push settles     | settlement    |                   |
//
// Times come from the service's clock through `touched_ms` (every write sets it), except the
// webhook events, which use the database's clock. (The same migration adds `claimed_ms`, the
// time of the latest claim, for the claim-to-end metric, `ended_by`, who cancelled, and
// `traceparent`, the W3C trace context of the create, handed to workers with their claims.)

/** One recorded transition, as the stores read it. */
export interface JobEventRow {
  seq: number | string;
  job_id: string;
  at_ms: number | string;
  type: string;
  actor: string | null;
  attempt: number | null;
  data: string | null;
}

export interface JobEvent {
  seq: number;
  /** Epoch ms. */
  at: number;
  type: string;
  actor?: string | undefined;
  attempt?: number | undefined;
  /** Event-specific fields (progress, error, runAfter, url, ...). */
  data?: Record<string, unknown> | undefined;
}

export interface JobEventPage {
  events: JobEvent[];
  /** Cursor (`seq` of the last event) for the following page, when there is more. */
  next?: number | undefined;
}

export function toEvent(r: JobEventRow): JobEvent {
  const e: JobEvent = { seq: Number(r.seq), at: Number(r.at_ms), type: r.type };
  if (r.actor !== null) e.actor = r.actor;
  if (r.attempt !== null && r.attempt > 0) e.attempt = r.attempt;
  if (r.data !== null) {
    const data = JSON.parse(r.data) as Record<string, unknown>;
    for (const k of Object.keys(data)) if (data[k] === null) delete data[k];
    e.data = data;
  }
  return e;
}

/** At most one progress event per job in this many ms (heartbeats may come every second). */
export const PROGRESS_EVENT_MS = 5000;

const TABLE = (seq: string, big: string) => `CREATE TABLE job_events (
     seq ${seq},
     job_id TEXT NOT NULL,
     at_ms ${big} NOT NULL,
     type TEXT NOT NULL,
     actor TEXT,
     attempt INTEGER,
     data TEXT
   );
   CREATE INDEX job_events_job ON job_events (job_id, seq);`;

/**
 * The events of the rerun migration: a FAILED or CANCELLED job set IN PROGRESS again by an
 * admin records `rerun` (actor: the admin, through ended_by; data: the status it left) and
 * nothing else (the lease, progress and attempts it resets are not a worker's doing).
 */
const rerunParts = (rerun: boolean) => ({
  running: rerun ? "OLD.status = 'IN PROGRESS' AND " : "",
  rerunType: rerun ? "WHEN 'IN PROGRESS' THEN 'rerun' " : "",
  rerunData: (obj: string) => (rerun ? `WHEN NEW.status = 'IN PROGRESS' THEN ${obj}('from', OLD.status)${obj === "json_build_object" ? "::text" : ""} ` : ""),
});

/** SQLite's trigger for changes of a job (migration 5; recreated with `rerun` by migration 8). */
function sqliteUpdateTrigger(rerun: boolean): string {
  const { running, rerunType, rerunData } = rerunParts(rerun);
  return `CREATE TRIGGER job_events_update AFTER UPDATE ON jobs BEGIN
     INSERT INTO job_events (job_id, at_ms, type, actor, attempt)
       SELECT NEW.id, OLD.lease_expires_ms, 'lease-expired', OLD.worker, OLD.attempts
       WHERE ${running}OLD.lease_token IS NOT NULL AND OLD.lease_expires_ms > 0 AND OLD.lease_expires_ms <= NEW.touched_ms
         AND (NEW.lease_token IS NOT OLD.lease_token OR NEW.status <> OLD.status);
     INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       SELECT NEW.id, NEW.touched_ms, 'claimed', NEW.worker, NEW.attempts, json_object('leaseSeconds', NEW.lease_ms / 1000)
       WHERE NEW.lease_token IS NOT OLD.lease_token;
     INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       SELECT NEW.id, NEW.touched_ms, CASE WHEN NEW.attempts < OLD.attempts THEN 'released' ELSE 'retry-scheduled' END, NEW.worker, OLD.attempts,
         CASE WHEN NEW.attempts < OLD.attempts THEN NULL ELSE json_object('runAfter', NEW.run_after_ms) END
       WHERE ${running}NEW.status = 'IN PROGRESS' AND NEW.lease_token IS OLD.lease_token AND OLD.lease_expires_ms > 0 AND NEW.lease_expires_ms = 0;
     INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       SELECT NEW.id, NEW.touched_ms, 'progress', CASE WHEN NEW.lease_expires_ms > NEW.touched_ms THEN NEW.worker END, NEW.attempts, json_object('progress', NEW.progress)
       WHERE ${running}NEW.status = 'IN PROGRESS' AND NEW.progress IS NOT OLD.progress
         AND NOT EXISTS (SELECT 1 FROM job_events WHERE job_id = NEW.id AND type = 'progress' AND at_ms > NEW.touched_ms - ${PROGRESS_EVENT_MS});
     INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       SELECT NEW.id, NEW.touched_ms, CASE NEW.status WHEN 'SUCCESS' THEN 'succeeded' WHEN 'FAILED' THEN 'failed' ${rerunType}ELSE 'cancelled' END,
         COALESCE(NEW.ended_by, CASE WHEN NEW.status <> 'CANCELLED' AND OLD.lease_expires_ms > NEW.touched_ms THEN OLD.worker END),
         NEW.attempts, CASE ${rerunData("json_object")}WHEN NEW.error IS NOT NULL THEN json_object('error', json(NEW.error)) END
       WHERE NEW.status <> OLD.status;
   END;`;
}

/** SQLite, migration 8: the `rerun` event. */
export const SQLITE_RERUN_EVENT_MIGRATION = `DROP TRIGGER job_events_update;
   ${sqliteUpdateTrigger(true)}`;

/**
 * SQLite: one trigger per table and operation, so that the events of one change are written
 * in a fixed order (SQLite does not promise an order between triggers).
 */
export const SQLITE_EVENTS_MIGRATION = `ALTER TABLE jobs ADD COLUMN touched_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN ended_by TEXT;
   ALTER TABLE jobs ADD COLUMN claimed_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN traceparent TEXT;
   ${TABLE("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER")}
   CREATE TRIGGER job_events_insert AFTER INSERT ON jobs BEGIN
     INSERT INTO job_events (job_id, at_ms, type, actor) VALUES (NEW.id, NEW.touched_ms, 'created', NEW.owner);
   END;
   ${sqliteUpdateTrigger(false)}
   CREATE TRIGGER job_events_delete AFTER DELETE ON jobs BEGIN
     DELETE FROM job_events WHERE job_id = OLD.id;
   END;
   CREATE TRIGGER job_events_delivery AFTER UPDATE OF status ON deliveries WHEN NEW.status <> OLD.status BEGIN
     INSERT INTO job_events (job_id, at_ms, type, data)
       VALUES (NEW.job_id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'webhook-' || NEW.status,
         json_object('url', NEW.url, 'deliveryAttempts', NEW.attempts, 'deliveryError', NEW.last_error));
   END;`;

/**
 * SQLite, migration 6: the created event moves from the insert trigger to the store's insert
 * (same statement order, same transaction; see SqliteJobStore.insert for why).
 */
export const SQLITE_CREATED_EVENT_MIGRATION = "DROP TRIGGER job_events_insert;";

/** PostgreSQL's trigger function for changes of a job (migration 5; replaced with `rerun` by migration 7). */
function pgRecordFunction(rerun: boolean): string {
  const { running, rerunType, rerunData } = rerunParts(rerun);
  return `CREATE ${rerun ? "OR REPLACE " : ""}FUNCTION job_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP = 'DELETE' THEN
       DELETE FROM job_events WHERE job_id = OLD.id;
       RETURN NULL;
     END IF;
     IF TG_OP = 'INSERT' THEN
       INSERT INTO job_events (job_id, at_ms, type, actor) VALUES (NEW.id, NEW.touched_ms, 'created', NEW.owner);
       RETURN NULL;
     END IF;
     IF ${running}OLD.lease_token IS NOT NULL AND OLD.lease_expires_ms > 0 AND OLD.lease_expires_ms <= NEW.touched_ms
        AND (NEW.lease_token IS DISTINCT FROM OLD.lease_token OR NEW.status <> OLD.status) THEN
       INSERT INTO job_events (job_id, at_ms, type, actor, attempt) VALUES (NEW.id, OLD.lease_expires_ms, 'lease-expired', OLD.worker, OLD.attempts);
     END IF;
     IF NEW.lease_token IS DISTINCT FROM OLD.lease_token THEN
       INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       VALUES (NEW.id, NEW.touched_ms, 'claimed', NEW.worker, NEW.attempts, json_build_object('leaseSeconds', NEW.lease_ms / 1000)::text);
     END IF;
     IF ${running}NEW.status = 'IN PROGRESS' AND NEW.lease_token IS NOT DISTINCT FROM OLD.lease_token AND OLD.lease_expires_ms > 0 AND NEW.lease_expires_ms = 0 THEN
       INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       VALUES (NEW.id, NEW.touched_ms, CASE WHEN NEW.attempts < OLD.attempts THEN 'released' ELSE 'retry-scheduled' END, NEW.worker, OLD.attempts,
         CASE WHEN NEW.attempts < OLD.attempts THEN NULL ELSE json_build_object('runAfter', NEW.run_after_ms)::text END);
     END IF;
     IF ${running}NEW.status = 'IN PROGRESS' AND NEW.progress IS DISTINCT FROM OLD.progress
        AND NOT EXISTS (SELECT 1 FROM job_events WHERE job_id = NEW.id AND type = 'progress' AND at_ms > NEW.touched_ms - ${PROGRESS_EVENT_MS}) THEN
       INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       VALUES (NEW.id, NEW.touched_ms, 'progress', CASE WHEN NEW.lease_expires_ms > NEW.touched_ms THEN NEW.worker END, NEW.attempts,
         json_build_object('progress', NEW.progress)::text);
     END IF;
     IF NEW.status <> OLD.status THEN
       INSERT INTO job_events (job_id, at_ms, type, actor, attempt, data)
       VALUES (NEW.id, NEW.touched_ms, CASE NEW.status WHEN 'SUCCESS' THEN 'succeeded' WHEN 'FAILED' THEN 'failed' ${rerunType}ELSE 'cancelled' END,
         COALESCE(NEW.ended_by, CASE WHEN NEW.status <> 'CANCELLED' AND OLD.lease_expires_ms > NEW.touched_ms THEN OLD.worker END),
         NEW.attempts, CASE ${rerunData("json_build_object")}WHEN NEW.error IS NOT NULL THEN json_build_object('error', NEW.error::json)::text END);
     END IF;
     RETURN NULL;
   END $$;`;
}

/** PostgreSQL, migration 7: the `rerun` event. */
export const PG_RERUN_EVENT_MIGRATION = pgRecordFunction(true);

/** PostgreSQL: the same events, in the same order, from one function per table. */
export const PG_EVENTS_MIGRATION = `ALTER TABLE jobs ADD COLUMN touched_ms BIGINT NOT NULL DEFAULT 0, ADD COLUMN ended_by TEXT,
     ADD COLUMN claimed_ms BIGINT NOT NULL DEFAULT 0, ADD COLUMN traceparent TEXT;
   ${TABLE("BIGSERIAL PRIMARY KEY", "BIGINT")}
   ${pgRecordFunction(false)}
   CREATE TRIGGER job_events AFTER INSERT OR UPDATE OR DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION job_events_record();
   CREATE FUNCTION job_events_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     INSERT INTO job_events (job_id, at_ms, type, data)
     VALUES (NEW.job_id, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 'webhook-' || NEW.status,
       json_build_object('url', NEW.url, 'deliveryAttempts', NEW.attempts, 'deliveryError', NEW.last_error)::text);
     RETURN NULL;
   END $$;
   CREATE TRIGGER job_events_delivery AFTER UPDATE OF status ON deliveries FOR EACH ROW WHEN (NEW.status <> OLD.status) EXECUTE FUNCTION job_events_delivery();`;
