// The JobStore contract. Implementations: sqlite-store.ts (embedded default), pg-store.ts.
import type { JobStatus, TerminalStatus } from "./machine.js";

export interface JobError {
  type: string;
  title: string;
  detail?: string;
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  /** RFC 3339. */
  start: string;
  /** RFC 3339, or "" until the job ends. */
  end: string;
  progress?: number;
  /** Present (possibly null) once the job has succeeded. */
  result?: unknown;
  error?: JobError;
  request: unknown;
  /** Epoch ms after which an IN PROGRESS job is failed. */
  deadlineAt: number;
}

export interface NewJob {
  id: string;
  request: unknown;
  /** Where to push the job when it ends. */
  callbackUrl?: string;
  start: string;
  deadlineAt: number;
  idempotency?: { key: string; fingerprint: string };
}

export type CreateResult =
  | { kind: "created"; job: JobRecord }
  | { kind: "replayed"; job: JobRecord }
  | { kind: "key-conflict"; job: JobRecord };

export interface EndPatch {
  to: TerminalStatus;
  end: string;
  progress?: number;
  result?: unknown;
  error?: JobError;
}

export type TransitionResult =
  | { kind: "applied"; job: JobRecord }
  /** The job was not IN PROGRESS any more; here it is as it is now. */
  | { kind: "lost"; job: JobRecord }
  | { kind: "not-found" };

export interface ListQuery {
  limit: number;
  /** Opaque cursor from a previous page. */
  after?: string;
  status?: JobStatus;
}

export interface JobPage {
  jobs: JobRecord[];
  /** Cursor for the following page, when there is more. */
  next?: string;
}

/** A pending completion push (the outbox row written with the job's end). */
export interface Delivery {
  /** Stable across retries: the `webhook-id` receivers deduplicate on. */
  id: string;
  jobId: string;
  url: string;
  attempts: number;
  createdAt: number;
}

export interface JobStore {
  create(job: NewJob): Promise<CreateResult>;
  get(id: string): Promise<JobRecord | undefined>;
  list(q: ListQuery): Promise<JobPage>;
  /** Compare-and-set: ends the job only if it is still IN PROGRESS. */
  end(id: string, patch: EndPatch): Promise<TransitionResult>;
  /** Compare-and-set: updates progress only while the job is IN PROGRESS. */
  progress(id: string, progress: number): Promise<TransitionResult>;
  /** Fails every IN PROGRESS job whose deadline is at or before `now`; returns how many. */
  expire(now: number, end: string, error: JobError): Promise<number>;
  /** Removes jobs that ended at or before `before` (epoch ms); returns how many. */
  purge(before: number): Promise<number>;
  /**
   * Due deliveries, leased for `leaseMs` so that no other instance sends them meanwhile.
   * A job's delivery is written in the same transaction as its end: a restart loses none.
   */
  claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]>;
  /** Records the outcome of an attempt: delivered, retry at `retryAt`, or given up. */
  settleDelivery(id: string, outcome: { kind: "delivered" } | { kind: "retry"; at: number; error: string } | { kind: "failed"; error: string }): Promise<void>;
  /** Resolves when the store answers; for readiness checks. */
  ping(): Promise<void>;
  /**
   * Calls `listener` with the id of every job that changes, in this process and (where the
   * store can tell, as PostgreSQL can with LISTEN/NOTIFY) in other instances. Returns an
   * unsubscribe function.
   */
  onChange(listener: (id: string) => void): () => void;
  close(): Promise<void>;
}

/** Thrown when a cursor was not made by this store. */
export class BadCursorError extends Error {}

/** The store cannot be reached (database down or restarting); answered with 503. */
export class StoreUnavailableError extends Error {}
