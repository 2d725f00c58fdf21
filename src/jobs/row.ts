// The jobs table's row, as both stores read it (SQLite gives numbers where node-postgres
// gives BIGINTs as strings and BOOLEANs as booleans), and its mapping to a JobRecord.
import type { JobStatus } from "./machine.js";
import type { JobError, JobRecord } from "./store.js";

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
}

export function toRecord(r: JobRow): JobRecord {
  const job: JobRecord = {
    id: r.id,
    status: r.status,
    start: r.started_at,
    end: r.ended_at,
    request: JSON.parse(r.request),
    deadlineAt: Number(r.deadline_ms),
  };
  if (r.progress !== null) job.progress = r.progress;
  if (r.has_result) job.result = r.result === null ? null : JSON.parse(r.result);
  if (r.error !== null) job.error = JSON.parse(r.error) as JobError;
  return job;
}
