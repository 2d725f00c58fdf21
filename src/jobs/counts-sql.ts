// How many jobs each name has IN PROGRESS, for the queue's stats (the /metrics gauges, the
// dashboard's queues), at a cost that does not grow with the backlog. Counting the IN PROGRESS
// rows grew with it: 20 ms a scrape at 1 million stored jobs with 20,000 waiting on SQLite,
// 18 times the cost at 10,000 (`npm run bench:scale`); job engines' users report the same
// count taking seconds at millions (riverqueue/river#746, hexpm/hexpm#1773).
//
// Triggers on jobs append each change of a job's count as a row (name, +1 or -1) to
// job_counts: append-only, so concurrent writers on PostgreSQL never wait for one another on a
// counter row. Reading the stats first folds the rows into one per name (one statement on
// PostgreSQL, by one instance at a time; rows inserted meanwhile are left for the next fold),
// then sums them: the read costs the number of names plus the changes since the previous
// fold, whatever the backlog. (A read is right without the fold too: the fold only keeps the
// rows few.) Which of those jobs are running (held under an unexpired lease) is counted
// through the leases' index: as many as the workers hold.
import type { Dialect } from "./queue-sql.js";
import { IN_PROGRESS } from "./machine.js";

const TABLE = (big: string) => `CREATE TABLE job_counts (name TEXT, delta ${big} NOT NULL);
   INSERT INTO job_counts (name, delta) SELECT name, COUNT(*) FROM jobs WHERE status = '${IN_PROGRESS}' GROUP BY name;`;

/** Migration (SQLite): the table, filled with today's counts, and its triggers. */
export const SQLITE_COUNTS_MIGRATION = `${TABLE("INTEGER")}
   CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs WHEN NEW.status = '${IN_PROGRESS}' BEGIN
     INSERT INTO job_counts (name, delta) VALUES (NEW.name, 1);
   END;
   CREATE TRIGGER job_counts_update AFTER UPDATE OF status, name ON jobs
     WHEN NEW.status IS NOT OLD.status OR NEW.name IS NOT OLD.name BEGIN
     INSERT INTO job_counts (name, delta) SELECT OLD.name, -1 WHERE OLD.status = '${IN_PROGRESS}';
     INSERT INTO job_counts (name, delta) SELECT NEW.name, 1 WHERE NEW.status = '${IN_PROGRESS}';
   END;
   CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs WHEN OLD.status = '${IN_PROGRESS}' BEGIN
     INSERT INTO job_counts (name, delta) VALUES (OLD.name, -1);
   END;`;

/**
 * Migration (PostgreSQL): the same. Creates come in batches (one INSERT of many rows), so the
 * insert trigger runs once a statement over its new rows; updates and deletes run per row,
 * only when the status or name changes (a heartbeat does not call it).
 */
export const PG_COUNTS_MIGRATION = `${TABLE("BIGINT")}
   CREATE FUNCTION job_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     INSERT INTO job_counts (name, delta) SELECT name, COUNT(*) FROM new_jobs WHERE status = '${IN_PROGRESS}' GROUP BY name;
     RETURN NULL;
   END $$;
   CREATE FUNCTION job_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP <> 'INSERT' AND OLD.status = '${IN_PROGRESS}' THEN INSERT INTO job_counts (name, delta) VALUES (OLD.name, -1); END IF;
     IF TG_OP <> 'DELETE' AND NEW.status = '${IN_PROGRESS}' THEN INSERT INTO job_counts (name, delta) VALUES (NEW.name, 1); END IF;
     RETURN NULL;
   END $$;
   CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION job_counts_inserted();
   CREATE TRIGGER job_counts_update AFTER UPDATE OF status, name ON jobs FOR EACH ROW
     WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION job_counts_changed();
   CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs FOR EACH ROW WHEN (OLD.status = '${IN_PROGRESS}') EXECUTE FUNCTION job_counts_changed();`;

/**
 * The fold, PostgreSQL: one statement, by one instance at a time (the others skip it rather
 * than wait: the sums read the same with or without it).
 */
export const PG_FOLD_COUNTS = `WITH turn AS (SELECT pg_try_advisory_xact_lock(7367727, hashtext(current_schema())) AS mine),
  gone AS (DELETE FROM job_counts WHERE (SELECT mine FROM turn) RETURNING name, delta)
  INSERT INTO job_counts (name, delta) SELECT name, SUM(delta) FROM gone GROUP BY name HAVING SUM(delta) <> 0`;

/** The fold, SQLite: these three in one write transaction. */
export const SQLITE_FOLD_COUNTS = {
  sums: "SELECT name, SUM(delta) AS delta FROM job_counts GROUP BY name HAVING SUM(delta) <> 0",
  clear: "DELETE FROM job_counts",
  put: "INSERT INTO job_counts (name, delta) VALUES (:name, :delta)",
};

/** IN PROGRESS jobs by name (`total`), running (an unexpired lease) among them; read after a fold. */
export function statsQueuesSql(d: Dialect): string {
  return `SELECT t.name, COALESCE(r.running, 0) AS running, t.total
  FROM (SELECT name, SUM(delta) AS total FROM job_counts GROUP BY name HAVING SUM(delta) <> 0) t
  LEFT JOIN (SELECT name, COUNT(*) AS running FROM jobs${d.indexed("jobs_leases")}
             WHERE status = '${IN_PROGRESS}' AND lease_expires_ms > 0 AND lease_expires_ms > :now GROUP BY name) r
    ON r.name = t.name OR (r.name IS NULL AND t.name IS NULL)
  ORDER BY t.name`;
}
