// The SQLite store's schema: its migrations in order (`PRAGMA user_version` says how many a
// file has had). The queue's indexes and the history's triggers are shared with PostgreSQL
// where the SQL is the same (row.ts, events.ts).
import { SQLITE_CREATED_EVENT_MIGRATION, SQLITE_EVENTS_MIGRATION, SQLITE_RERUN_EVENT_MIGRATION } from "./events.js";
import { schedulesMigration } from "../schedules/schedule-sql.js";
import { FAIR_MIGRATION_SQL } from "./fair-sql.js";
import { SQLITE_LIMITS_MIGRATION } from "./limits-sql.js";
import { SQLITE_DEPS_MIGRATION } from "./deps-sql.js";
import { SQLITE_COUNTS_MIGRATION } from "./counts-sql.js";
import { OWNER_MIGRATION_SQL, PAUSED_NAMES_SQL, SINGLETON_MIGRATION_SQL, WORKER_INDEXES_SQL } from "./row.js";

/**
 * Schema migrations; `PRAGMA user_version` records how many have been applied. A migration
 * may depend on the configuration it runs under (existing jobs get today's defaults).
 */
export const MIGRATIONS: ((o: { defaultMaxAttempts: number }) => string)[] = [
  () =>
  `CREATE TABLE jobs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     status TEXT NOT NULL CHECK (status IN ('IN PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED')),
     started_at TEXT NOT NULL,
     ended_at TEXT NOT NULL DEFAULT '',
     ended_ms INTEGER,
     progress INTEGER,
     has_result INTEGER NOT NULL DEFAULT 0,
     result TEXT,
     error TEXT,
     request TEXT NOT NULL,
     deadline_ms INTEGER NOT NULL,
     idem_key TEXT UNIQUE,
     idem_fingerprint TEXT
   );
   CREATE INDEX jobs_status_seq ON jobs (status, seq);
   CREATE INDEX jobs_deadline ON jobs (deadline_ms) WHERE status = 'IN PROGRESS';
   CREATE INDEX jobs_ended ON jobs (ended_ms) WHERE ended_ms IS NOT NULL;`,
  // 2: completion push. The outbox row is written with the job's end, in one transaction.
  () => `ALTER TABLE jobs ADD COLUMN callback_url TEXT;
   CREATE TABLE deliveries (
     id TEXT PRIMARY KEY,
     job_id TEXT NOT NULL,
     url TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     created_ms INTEGER NOT NULL,
     next_attempt_ms INTEGER NOT NULL,
     lease_until_ms INTEGER NOT NULL DEFAULT 0,
     last_error TEXT
   );
   CREATE INDEX deliveries_due ON deliveries (next_attempt_ms) WHERE status = 'pending';`,
  // 3: workers. What claims filter and order by gets a column of its own (the rest of the
  // request stays in \`request\`); existing jobs get theirs from their stored request.
  // The queue indexes hold only IN PROGRESS jobs: claim cost does not grow with ended ones.
  (o) => `ALTER TABLE jobs ADD COLUMN name TEXT;
   ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT ${o.defaultMaxAttempts};
   ALTER TABLE jobs ADD COLUMN run_after_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN lease_token TEXT;
   ALTER TABLE jobs ADD COLUMN lease_expires_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN lease_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN worker TEXT;
   UPDATE jobs SET name = json_extract(request, '$.name'),
     priority = COALESCE(json_extract(request, '$.priority'), 0),
     max_attempts = COALESCE(json_extract(request, '$.maxAttempts'), ${o.defaultMaxAttempts})
   WHERE request <> 'null';
   ${WORKER_INDEXES_SQL}`,
  // 4: owners. A client sees only its own jobs; its Idempotency-Keys are stored prefixed with
  // its name, so that the existing unique index scopes them per client.
  () => OWNER_MIGRATION_SQL,
  // 5: each job's history (events.ts).
  () => SQLITE_EVENTS_MIGRATION,
  // 6: the created event is written by the store's insert, in the same transaction, instead
  // of by a trigger (see insert).
  () => SQLITE_CREATED_EVENT_MIGRATION,
  // 7: singleton keys (row.ts).
  () => SINGLETON_MIGRATION_SQL,
  // 8: pause and re-run: paused names, and the history's `rerun` event (events.ts).
  () => `${PAUSED_NAMES_SQL("INTEGER")}
   ${SQLITE_RERUN_EVENT_MIGRATION}`,
  // 9: dependencies between jobs (deps-sql.ts).
  () => SQLITE_DEPS_MIGRATION,
  // 10: recurring schedules (schedule-sql.ts).
  () => schedulesMigration("INTEGER"),
  // 11: fair share between clients (fair-sql.ts).
  () => FAIR_MIGRATION_SQL("INTEGER"),
  // 12: concurrency and rate limits (limits-sql.ts).
  () => SQLITE_LIMITS_MIGRATION,
  // 13: IN PROGRESS counts by name, kept by triggers (counts-sql.ts).
  () => SQLITE_COUNTS_MIGRATION,
];
