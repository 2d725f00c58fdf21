// Dependencies between jobs, as SQL for both stores. A job created with `dependsOn` records
// its parents in job_deps and counts in `blockers` those not yet ended; claims take only jobs
// with none (CLAIMABLE, and the queue indexes hold only those). What a parent's end does to
// its dependants is written by the database itself, a trigger on the parent's status, so that
// every path that ends a job (a worker, a cancel, the deadline sweep, an exhausted lease) does
// it in the same transaction:
//
// - a parent that SUCCEEDED (or, for a dependant created with onDependencyFailure `run`, ended
//   in any way) counts one blocker fewer; at none the dependant may be claimed;
// - a parent that FAILED or was CANCELLED cancels its `cancel` dependants, with an error
//   naming it (urn:async-api:dependency-failed) and their completion pushes; their own
//   dependants follow the same rule in turn (PostgreSQL's triggers nest; SQLite's do with
//   `PRAGMA recursive_triggers`);
// - a parent run again (an admin's re-run) makes its waiting dependants wait for it again.
//
// Counting down rather than counting parents again: two parents ending at once in two
// PostgreSQL transactions each decrement the row as the other left it (the second waits for
// the first's row lock, then re-reads the row), where a recount would read a snapshot from
// before the other's commit. A dependant's id is new when it is created and parents must
// exist then, so no cycle can be made.
import { IN_PROGRESS } from "./machine.js";

/** The error of a dependant cancelled because a parent did not succeed. */
export const DEPENDENCY_FAILED = "urn:async-api:dependency-failed";
const DEPENDENCY_FAILED_TITLE = "A job this one depends on did not succeed";

export function dependencyFailedError(parent: string, status: string): { type: string; title: string; detail: string } {
  return { type: DEPENDENCY_FAILED, title: DEPENDENCY_FAILED_TITLE, detail: `job ${parent} ended ${status}` };
}

/** What to do with a dependant when a parent fails or is cancelled. */
export type OnDependencyFailure = "cancel" | "run";

/** Most parents one job may have. */
export const MAX_DEPENDENCIES = 1000;

const CHILDREN = "id IN (SELECT child_id FROM job_deps WHERE parent_id = NEW.id)";
const WAITING = `status = '${IN_PROGRESS}'`;
const GOES_ON = `(NEW.status = 'SUCCESS' OR on_parent_failure = 'run')`;
const STOPS = `NEW.status <> 'SUCCESS' AND on_parent_failure = 'cancel'`;

/** A created dependant's columns (run after its insert, in the same transaction). */
export const SET_DEPENDENCIES = "UPDATE jobs SET blockers = :blockers, depends_on = :dependsOn, on_parent_failure = :mode WHERE id = :id";
/** Marks parents as having dependants (their status changes then reach the trigger). */
export const MARK_PARENT = "UPDATE jobs SET has_dependants = (1 = 1) WHERE id = :id";
/** A dependant created when a parent had already failed (cancel mode): cancelled at once. */
export const CANCEL_DEPENDANT = `UPDATE jobs SET status = 'CANCELLED', ended_at = :end, ended_ms = :now, touched_ms = :now, ended_by = NULL, error = :error
  WHERE id = :id AND ${WAITING} RETURNING *`;
/** A job's parents as a dependant's worker gets them (the `:ids` list, by dialect). */
export const PARENT_COLUMNS = "id, status, has_result, result, owner";

/**
 * Blockers of a job run again: its parents not yet ended (those that ended are not looked at
 * again: a re-run is an admin's "run it").
 */
export const RECOUNT_BLOCKERS = `blockers = (SELECT COUNT(*) FROM job_deps d JOIN jobs p ON p.id = d.parent_id WHERE d.child_id = jobs.id AND p.status = '${IN_PROGRESS}')`;

/** The columns and table, both dialects (`bool` the boolean type, `no` its false). */
function columns(bool: string, no: string): string {
  return `ALTER TABLE jobs ADD COLUMN blockers INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN depends_on TEXT;
   ALTER TABLE jobs ADD COLUMN on_parent_failure TEXT;
   ALTER TABLE jobs ADD COLUMN has_dependants ${bool} NOT NULL DEFAULT ${no};
   CREATE TABLE job_deps (child_id TEXT NOT NULL, parent_id TEXT NOT NULL, PRIMARY KEY (child_id, parent_id));
   CREATE INDEX job_deps_parent ON job_deps (parent_id);
   DROP INDEX jobs_queue;
   DROP INDEX jobs_queue_name;
   CREATE INDEX jobs_queue ON jobs (priority DESC, seq) WHERE ${WAITING} AND blockers = 0;
   CREATE INDEX jobs_queue_name ON jobs (name, priority DESC, seq) WHERE ${WAITING} AND blockers = 0;`;
}

/** SQLite: the trigger calls job_announce(id, status, name, run_after_ms, blockers) for each dependant it changed, heard after commit. */
export const SQLITE_DEPS_MIGRATION = `${columns("INTEGER", "0")}
   CREATE TRIGGER job_deps_ended AFTER UPDATE OF status ON jobs
     WHEN NEW.has_dependants = 1 AND OLD.status = '${IN_PROGRESS}' AND NEW.status <> '${IN_PROGRESS}' BEGIN
     UPDATE jobs SET blockers = blockers - 1 WHERE ${CHILDREN} AND ${WAITING} AND ${GOES_ON};
     INSERT INTO deliveries (id, job_id, url, status, created_ms, next_attempt_ms)
       SELECT 'msg_' || lower(hex(randomblob(16))), id, callback_url, 'pending', NEW.touched_ms, NEW.touched_ms
       FROM jobs WHERE ${CHILDREN} AND ${WAITING} AND ${STOPS} AND callback_url IS NOT NULL;
     UPDATE jobs SET status = 'CANCELLED', ended_at = NEW.ended_at, ended_ms = NEW.touched_ms, touched_ms = NEW.touched_ms, ended_by = NULL,
       error = json_object('type', '${DEPENDENCY_FAILED}', 'title', '${DEPENDENCY_FAILED_TITLE}', 'detail', 'job ' || NEW.id || ' ended ' || NEW.status)
       WHERE ${CHILDREN} AND ${WAITING} AND ${STOPS};
     SELECT job_announce(id, status, name, run_after_ms, blockers) FROM jobs WHERE ${CHILDREN};
   END;
   CREATE TRIGGER job_deps_rerun AFTER UPDATE OF status ON jobs
     WHEN NEW.has_dependants = 1 AND OLD.status <> '${IN_PROGRESS}' AND NEW.status = '${IN_PROGRESS}' BEGIN
     UPDATE jobs SET blockers = blockers + 1 WHERE ${CHILDREN} AND ${WAITING};
   END;
   CREATE TRIGGER job_deps_delete AFTER DELETE ON jobs WHEN OLD.has_dependants = 1 BEGIN
     DELETE FROM job_deps WHERE parent_id = OLD.id;
   END;`;

/** PostgreSQL: the trigger announces each dependant it changed (and, once it may be claimed, as available). */
export function pgDepsMigration(channel: string, available: string, availablePayload: string): string {
  return `${columns("BOOLEAN", "FALSE")}
   ${pgDepsFunction(channel, available, availablePayload)}
   CREATE TRIGGER job_deps AFTER UPDATE OF status ON jobs FOR EACH ROW
     WHEN (NEW.has_dependants AND (OLD.status = '${IN_PROGRESS}') <> (NEW.status = '${IN_PROGRESS}')) EXECUTE FUNCTION job_deps_changed();
   CREATE TRIGGER job_deps_delete AFTER DELETE ON jobs FOR EACH ROW WHEN (OLD.has_dependants) EXECUTE FUNCTION job_deps_changed();`;
}

/** The dependencies' trigger function, announcing on the channels given. */
export function pgDepsFunction(channel: string, available: string, availablePayload: string): string {
  return `CREATE OR REPLACE FUNCTION job_deps_changed() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE c record;
   BEGIN
     IF TG_OP = 'DELETE' THEN
       DELETE FROM job_deps WHERE parent_id = OLD.id;
       RETURN NULL;
     END IF;
     IF NEW.status = '${IN_PROGRESS}' THEN
       UPDATE jobs SET blockers = blockers + 1 WHERE ${CHILDREN} AND ${WAITING};
       RETURN NULL;
     END IF;
     FOR c IN UPDATE jobs SET blockers = blockers - 1 WHERE ${CHILDREN} AND ${WAITING} AND ${GOES_ON}
         RETURNING id, name, run_after_ms, blockers LOOP
       PERFORM pg_notify('${channel}', c.id);
       IF c.blockers = 0 THEN PERFORM pg_notify('${available}', ${availablePayload.replace(/\b(name|id|run_after_ms)\b/g, "c.$1")}); END IF;
     END LOOP;
     FOR c IN UPDATE jobs SET status = 'CANCELLED', ended_at = NEW.ended_at, ended_ms = NEW.touched_ms, touched_ms = NEW.touched_ms, ended_by = NULL,
         error = json_build_object('type', '${DEPENDENCY_FAILED}', 'title', '${DEPENDENCY_FAILED_TITLE}', 'detail', 'job ' || NEW.id || ' ended ' || NEW.status)::text
         WHERE ${CHILDREN} AND ${WAITING} AND ${STOPS} RETURNING id, callback_url LOOP
       IF c.callback_url IS NOT NULL THEN
         INSERT INTO deliveries (id, job_id, url, status, created_ms, next_attempt_ms)
         VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), c.id, c.callback_url, 'pending', NEW.touched_ms, NEW.touched_ms);
       END IF;
       PERFORM pg_notify('${channel}', c.id);
     END LOOP;
     RETURN NULL;
   END $$;`;
}
