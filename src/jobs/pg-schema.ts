// The PostgreSQL store's schema: its migrations in order (the table jobs_schema_version says
// how many a database has had; one instance migrates at a time, under an advisory lock). The
// queue's indexes and the history's triggers are shared with SQLite where the SQL is the same
// (row.ts, events.ts).
import { PG_EVENTS_MIGRATION, PG_RERUN_EVENT_MIGRATION } from "./events.js";
import { schedulesMigration } from "../schedules/schedule-sql.js";
import { FAIR_MIGRATION_SQL } from "./fair-sql.js";
import { PG_LIMITS_MIGRATION } from "./limits-sql.js";
import { pgDepsFunction, pgDepsMigration } from "./deps-sql.js";
import { PG_COUNTS_MIGRATION } from "./counts-sql.js";
import { AVAILABLE, AVAILABLE_PAYLOAD, CHANNEL, type Channels } from "./pg-announce.js";
import { OWNER_MIGRATION_SQL, PAUSED_NAMES_SQL, SINGLETON_MIGRATION_SQL, WORKER_INDEXES_SQL } from "./row.js";

/** What a migration may depend on: the configuration it runs under, the schema's channels. */
export interface MigrationOptions {
  defaultMaxAttempts: number;
  channels: Channels;
}

/** Migrations, in order. */
export const MIGRATIONS: ((o: MigrationOptions) => string)[] = [
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
  // 6: singleton keys (row.ts).
  () => SINGLETON_MIGRATION_SQL,
  // 7: pause and re-run: paused names, and the history's `rerun` event (events.ts).
  () => `${PAUSED_NAMES_SQL("BIGINT")}
   ${PG_RERUN_EVENT_MIGRATION}`,
  // 8: dependencies between jobs (deps-sql.ts).
  () => pgDepsMigration(CHANNEL, AVAILABLE, AVAILABLE_PAYLOAD),
  // 9: recurring schedules (schedule-sql.ts).
  () => schedulesMigration("BIGINT"),
  // 10: fair share between clients (fair-sql.ts).
  () => FAIR_MIGRATION_SQL("BIGINT"),
  // 11: concurrency and rate limits (limits-sql.ts).
  () => PG_LIMITS_MIGRATION,
  // 12: IN PROGRESS counts by name, kept by triggers (counts-sql.ts).
  () => PG_COUNTS_MIGRATION,
  // 13: the dependencies' trigger announces on its schema's own channels (pg-announce.ts).
  (o) => pgDepsFunction(o.channels.changed, o.channels.available, AVAILABLE_PAYLOAD),
];
