// The JobStore contract. Implementations: sqlite-store.ts (embedded default), pg-store.ts.
import type { ScheduleStore } from "../schedules/store.js";
import type { OnDependencyFailure } from "./deps-sql.js";
import type { LimitStore } from "./limits.js";
import type { JobEventPage } from "./events.js";
import type { Fence, JobStatus, TerminalStatus } from "./machine.js";

/** What a worker reports when an attempt fails. */
export interface TaskError {
  type?: string;
  title: string;
  detail?: string;
}

export interface JobError {
  type: string;
  title: string;
  detail?: string;
  /** The last attempt's error, when the attempts are exhausted. */
  cause?: TaskError;
}

/** The latest claim of a job (kept after it ends, so that its token is still recognised). */
export interface Lease {
  token: string;
  /** Epoch ms; 0 once given back (retryable failure or release). */
  expiresAt: number;
  /** What a heartbeat extends it by. */
  ms: number;
  /** Who claimed it. */
  worker: string;
  /** Epoch ms of the claim (0 for leases taken before this was recorded). */
  claimedAt: number;
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  /** RFC 3339. */
  start: string;
  /** RFC 3339, or "" until the job ends. */
  end: string;
  progress?: number | undefined;
  /** Present (possibly null) once the job has succeeded. */
  result?: unknown | undefined;
  error?: JobError | undefined;
  request: unknown;
  /** The client that created it (absent when the service runs without keys). */
  owner?: string | undefined;
  name?: string | undefined;
  priority: number;
  /** Claims so far (the running attempt included); an attempt given back does not count. */
  attempts: number;
  maxAttempts: number;
  /** Epoch ms before which the job is not handed out (retry backoff). */
  runAfter: number;
  lease?: Lease | undefined;
  /** W3C trace context of the create (`00-<trace>-<span>-<flags>`), handed to workers. */
  traceparent?: string | undefined;
  /** Set by a claim when the job's previous lease had run out (rather than been given back). */
  previousLeaseExpired?: boolean | undefined;
  /** Epoch ms after which an IN PROGRESS job is failed. */
  deadlineAt: number;
  /** The jobs it was created to wait for (deps-sql.ts), in the order given. */
  dependsOn?: string[] | undefined;
  /** How many of them have not ended yet (while it waits for them). */
  waitingFor?: number | undefined;
  /** The schedule that created it, and the due time (epoch ms) it was created for. */
  schedule?: string | undefined;
  scheduledFor?: number | undefined;
  concurrencyKey?: string | undefined;
}

/** A parent job as its dependant's worker sees it. */
export interface Dependency {
  id: string;
  status: JobStatus;
  /** Present (possibly null) when it succeeded. */
  result?: unknown | undefined;
}

export interface NewJob {
  id: string;
  request: unknown;
  /** The client creating it; its Idempotency-Keys are its own. */
  owner?: string | undefined;
  name?: string | undefined;
  /** Default 0. */
  priority?: number | undefined;
  /** Default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number | undefined;
  /** Where to push the job when it ends. */
  callbackUrl?: string | undefined;
  /** W3C trace context of the create. */
  traceparent?: string | undefined;
  start: string;
  deadlineAt: number;
  /** Epoch ms before which the job is not handed out (a scheduled job); 0 or absent: at once. */
  runAfter?: number | undefined;
  idempotency?: { key: string; fingerprint: string } | undefined;
  /**
   * At most one waiting job per key (already scoped to its owner): while one waits unclaimed,
   * this create joins it, or gives it this job's request (replace).
   */
  singleton?: { key: string; mode: SingletonMode } | undefined;
  /** Jobs of the same owner to wait for (deps-sql.ts), and what their failure does to this one. */
  dependsOn?: { ids: string[]; onFailure: OnDependencyFailure } | undefined;
  /** The schedule creating it. */
  scheduleId?: string | undefined;
  /** Groups it with other jobs under an admin's concurrency and rate limits (limits-sql.ts). */
  concurrencyKey?: string | undefined;
}

export type SingletonMode = "join" | "replace";

export type CreateResult =
  | { kind: "created"; job: JobRecord }
  | { kind: "replayed"; job: JobRecord }
  | { kind: "key-conflict"; job: JobRecord }
  /** A job with its singleton key was waiting: answered as it was (join), or with this create's request (replace). */
  | { kind: "joined" | "replaced"; job: JobRecord }
  /** `dependsOn[index]` is no job of this create's owner. */
  | { kind: "unknown-dependency"; index: number };

export interface EndPatch {
  to: TerminalStatus;
  end: string;
  progress?: number | undefined;
  result?: unknown | undefined;
  error?: JobError | undefined;
  /** Who ended it, for its history (the cancelling caller); default: the lease's worker, if it held the job. */
  by?: string | undefined;
}

export type TransitionResult =
  | { kind: "applied"; job: JobRecord }
  /** The job was not IN PROGRESS any more; here it is as it is now. */
  | { kind: "lost"; job: JobRecord }
  | { kind: "not-found" };

export interface ListQuery {
  limit: number;
  /** Opaque cursor from a previous page. */
  after?: string | undefined;
  status?: JobStatus | undefined;
  name?: string | undefined;
  /** Only this client's jobs. */
  owner?: string | undefined;
  /** Newest first (default oldest first). */
  newestFirst?: boolean | undefined;
}

export interface ClaimQuery {
  now: number;
  worker: string;
  /** Only jobs with one of these names. */
  names?: string[] | undefined;
  /** One fresh, unguessable token per job that may be handed out (at most this many jobs). */
  tokens: string[];
  leaseMs: number;
}

/** Give a held job back: after a retryable failure (counts as an attempt) or unfinished (does not). */
export interface Requeue {
  runAfter: number;
  /** The attempt does not count: attempts goes back by one. */
  uncount: boolean;
}

export const DEFAULT_MAX_ATTEMPTS = 3;

export interface PausedName {
  name: string;
  /** Epoch ms. */
  since: number;
  by?: string | undefined;
}

/** A re-run: by whom (the admin), when, and the new deadline. */
export interface Rerun {
  by: string | undefined;
  now: number;
  deadlineAt: number;
}

export interface JobPage {
  jobs: JobRecord[];
  /** Cursor for the following page, when there is more. */
  next?: string | undefined;
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

/** What the queue holds now, for metrics and the dashboard. */
export interface QueueStats {
  /** IN PROGRESS jobs by name: held under an unexpired lease (running) or not (waiting, in backoff included). */
  queues: { name?: string; waiting: number; running: number }[];
  /** Jobs that ended after `since`, by status. */
  ended: Partial<Record<TerminalStatus, number>>;
  /** Completion pushes not yet delivered. */
  outbox: number;
}

export interface JobStore {
  create(job: NewJob): Promise<CreateResult>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Recurring schedules, kept in the same database. */
  readonly schedules: ScheduleStore;
  /** Admins' concurrency and rate limits. */
  readonly limits: LimitStore;
  /** Jobs a dependant waited for, as its worker gets them (those no longer stored left out). */
  dependencies(ids: string[]): Promise<Dependency[]>;
  list(q: ListQuery): Promise<JobPage>;
  /**
   * Hands out up to `tokens.length` waiting jobs (IN PROGRESS, no unexpired lease, past their
   * backoff and before their deadline, attempts left), highest priority first, then oldest,
   * each under a new lease with its own token; attempts + 1. Atomic per job: no job is ever
   * handed out under two unexpired leases, from any number of processes.
   */
  claim(q: ClaimQuery): Promise<JobRecord[]>;
  /** Compare-and-set: ends the job only if it is still IN PROGRESS and the fence holds. */
  end(id: string, patch: EndPatch, fence: Fence): Promise<TransitionResult>;
  /**
   * Compare-and-set, while IN PROGRESS and the fence holds: sets progress (when given) and,
   * under a lease fence, extends the lease by its length from the fence's `now`.
   */
  progress(id: string, progress: number | undefined, fence: Fence, now: number): Promise<TransitionResult>;
  /** Compare-and-set under a lease fence: the lease ends and the job waits for another claim. */
  requeue(id: string, r: Requeue, fence: Fence & { kind: "lease" }): Promise<TransitionResult>;
  /** Fails every IN PROGRESS job whose deadline is at or before `now`; returns how many. */
  expire(now: number, end: string, error: JobError): Promise<number>;
  /** Ids of IN PROGRESS jobs whose last allowed attempt's lease has expired (to be failed). */
  exhausted(now: number, limit: number): Promise<string[]>;
  /**
   * The queue now (from the partial indexes over IN PROGRESS jobs and over ended times: its
   * cost grows with the jobs in progress and those ended since `since`, not with the table).
   */
  stats(now: number, since: number): Promise<QueueStats>;
  /** A job's history (events.ts), oldest first, `limit` at a time after event `after` (0: from the start). */
  events(jobId: string, after: number, limit: number): Promise<JobEventPage>;
  /** Removes jobs (and their histories) that ended at or before `before` (epoch ms); returns how many. */
  purge(before: number): Promise<number>;
  /**
   * Due deliveries, leased for `leaseMs` so that no other instance sends them meanwhile.
   * A job's delivery is written in the same transaction as its end: a restart loses none.
   */
  claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]>;
  /** Records the outcome of an attempt: delivered, retry at `retryAt`, or given up. */
  settleDelivery(id: string, outcome: { kind: "delivered" } | { kind: "retry"; at: number; error: string } | { kind: "failed"; error: string }): Promise<void>;
  /** Admins: pauses a name (claims skip its jobs; its waiting jobs' deadlines stop); a paused name stays as it was. */
  pause(name: string, by: string | undefined, now: number): Promise<PausedName>;
  /** Resumes a paused name (its waiting jobs' deadlines move on by the pause); false if it was not paused. */
  resume(name: string, now: number): Promise<boolean>;
  paused(): Promise<PausedName[]>;
  /** Runs a FAILED or CANCELLED job again (see queue-sql.ts RERUN); "lost" with the job as it is otherwise. */
  rerun(id: string, r: Rerun): Promise<TransitionResult>;
  /** Runs again the oldest `limit` jobs of a name with a status; their ids, and whether any are left. */
  redrive(q: { name: string; status: "FAILED" | "CANCELLED"; limit: number }, r: Rerun): Promise<{ ids: string[]; more: boolean }>;
  /** The connection pool's use, where the store has one (PostgreSQL). */
  connections?(): { total: number; idle: number; waiting: number };
  /** Resolves when the store answers; for readiness checks. */
  ping(): Promise<void>;
  /**
   * Calls `listener` with the id of every job that changes, in this process and (where the
   * store can tell, as PostgreSQL can with LISTEN/NOTIFY) in other instances. Returns an
   * unsubscribe function.
   */
  onChange(listener: (id: string) => void): () => void;
  /**
   * Calls `listener` with the job's name (undefined when it has none) whenever a job may have
   * become available to claims: created, or given back. Across instances where the store can
   * tell. Returns an unsubscribe function.
   */
  onAvailable(listener: (name: string | undefined, at: number) => void): () => void;
  close(): Promise<void>;
}

/** Thrown when a cursor was not made by this store. */
export class BadCursorError extends Error {}

/** The store cannot be reached (database down or restarting); answered with 503. */
export class StoreUnavailableError extends Error {}
