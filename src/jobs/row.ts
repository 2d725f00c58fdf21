// The jobs table's row, as both stores read it (SQLite gives numbers where node-postgres
// gives BIGINTs as strings and BOOLEANs as booleans), and its mapping to a JobRecord.
import { IN_PROGRESS, type JobStatus } from "./machine.js";
import { DEFAULT_MAX_ATTEMPTS, type JobError, type JobRecord, type NewJob } from "./store.js";

// Schema steps the two stores write alike (the SQL is the same in both dialects).
/** Migration 3's indexes: the queue indexes hold only IN PROGRESS jobs, so claim cost does not grow with ended ones. */
export const WORKER_INDEXES_SQL = `CREATE INDEX jobs_queue ON jobs (priority DESC, seq) WHERE status = '${IN_PROGRESS}';
   CREATE INDEX jobs_queue_name ON jobs (name, priority DESC, seq) WHERE status = '${IN_PROGRESS}';
   CREATE INDEX jobs_leases ON jobs (lease_expires_ms) WHERE status = '${IN_PROGRESS}' AND lease_expires_ms > 0;
   CREATE INDEX jobs_name_seq ON jobs (name, seq);`;
/**
 * Singleton keys: at most one waiting job per key. A claim clears the job's key (TAKE_SET), so
 * the index holds only jobs no worker has taken; an ended job leaves it by its status.
 */
export const SINGLETON_MIGRATION_SQL = `ALTER TABLE jobs ADD COLUMN singleton_key TEXT;
   CREATE UNIQUE INDEX jobs_singleton ON jobs (singleton_key) WHERE singleton_key IS NOT NULL AND status = '${IN_PROGRESS}';`;
/** Paused job names (admins pause and resume them; claims skip their jobs). */
export const PAUSED_NAMES_SQL = (big: string) => `CREATE TABLE paused_names (name TEXT PRIMARY KEY, since_ms ${big} NOT NULL, paused_by TEXT);`;
/** Migration 4: owners. */
export const OWNER_MIGRATION_SQL = `ALTER TABLE jobs ADD COLUMN owner TEXT;
   CREATE INDEX jobs_owner_seq ON jobs (owner, seq);`;

export interface JobRow {
  seq: number | string;
  id: string;
  status: JobStatus;
  started_at: string;
  ended_at: string;
  progress: number | null;
  has_result: number | boolean;
  result: string | null;
  error: string | null;
  request: string;
  deadline_ms: number | string;
  idem_key: string | null;
  idem_fingerprint: string | null;
  callback_url: string | null;
  name: string | null;
  priority: number;
  attempts: number;
  max_attempts: number;
  run_after_ms: number | string;
  lease_token: string | null;
  lease_expires_ms: number | string;
  lease_ms: number;
  worker: string | null;
  owner: string | null;
  claimed_ms?: number | string | undefined;
  traceparent?: string | null | undefined;
  blockers?: number | undefined;
  depends_on?: string | null | undefined;
  schedule_id?: string | null | undefined;
  /** The fair-share tag (fair-sql.ts). */
  vtag?: number | string | undefined;
  concurrency_key?: string | null | undefined;
  /** Only in a claim's answer: the previous lease had run out. */
  previous_lease_expired?: number | boolean | undefined;
}

export function toRecord(r: JobRow): JobRecord {
  const job: JobRecord = {
    id: r.id,
    status: r.status,
    start: r.started_at,
    end: r.ended_at,
    request: JSON.parse(r.request),
    priority: r.priority,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAfter: Number(r.run_after_ms),
    deadlineAt: Number(r.deadline_ms),
  };
  if (r.name !== null) job.name = r.name;
  if (r.owner !== null) job.owner = r.owner;
  if (r.traceparent) job.traceparent = r.traceparent;
  if (r.lease_token !== null) job.lease = { token: r.lease_token, expiresAt: Number(r.lease_expires_ms), ms: r.lease_ms, worker: r.worker ?? "", claimedAt: Number(r.claimed_ms ?? 0) };
  if (r.previous_lease_expired) job.previousLeaseExpired = true;
  if (r.progress !== null) job.progress = r.progress;
  if (r.has_result) job.result = r.result === null ? null : JSON.parse(r.result);
  if (r.error !== null) job.error = JSON.parse(r.error) as JobError;
  if (r.concurrency_key) job.concurrencyKey = r.concurrency_key;
  if (r.schedule_id) {
    job.schedule = r.schedule_id;
    // Its Idempotency-Key ends in the due time it was made for (scheduledJobKey).
    const due = /@(\d+)$/.exec(r.idem_key ?? "");
    if (due) job.scheduledFor = Number(due[1]);
  }
  if (r.depends_on) {
    job.dependsOn = JSON.parse(r.depends_on) as string[];
    if (r.status === IN_PROGRESS && r.blockers) job.waitingFor = r.blockers;
  }
  return job;
}

/** The record of a job just inserted, without reading it back. */
export function newRecord(job: NewJob): JobRecord {
  const r: JobRecord = {
    id: job.id,
    status: IN_PROGRESS,
    start: job.start,
    end: "",
    request: job.request ?? null,
    priority: job.priority ?? 0,
    attempts: 0,
    maxAttempts: job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    runAfter: job.runAfter ?? 0,
    deadlineAt: job.deadlineAt,
  };
  if (job.name !== undefined) r.name = job.name;
  if (job.owner !== undefined) r.owner = job.owner;
  if (job.traceparent !== undefined) r.traceparent = job.traceparent;
  if (job.dependsOn) r.dependsOn = job.dependsOn.ids;
  if (job.scheduleId !== undefined) r.schedule = job.scheduleId;
  if (job.concurrencyKey !== undefined) r.concurrencyKey = job.concurrencyKey;
  return r;
}
