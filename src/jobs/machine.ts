// The job state machine: IN PROGRESS -> SUCCESS | FAILED | CANCELLED, terminal states final,
// and the leases under which workers hold IN PROGRESS jobs. Pure decisions; the store applies
// them with compare-and-set (the Fence says what must still hold), so racing requests have
// exactly one winner and a stale worker can never overwrite the current attempt's outcome.
export const IN_PROGRESS = "IN PROGRESS";
export type JobStatus = "IN PROGRESS" | "SUCCESS" | "FAILED" | "CANCELLED";
export type TerminalStatus = Exclude<JobStatus, "IN PROGRESS">;

export function isTerminal(s: JobStatus): s is TerminalStatus {
  return s !== IN_PROGRESS;
}

/** The latest claim of a job. Kept after it ends, so that its token is still recognised. */
export interface LeaseState {
  token: string;
  /** Epoch ms; 0 once the lease was given back (retryable failure or release). */
  expiresAt: number;
}

/** What the decisions need to know of a job. */
export interface JobState {
  status: JobStatus;
  lease?: LeaseState | undefined;
}

/** Whether a worker holds the job now: IN PROGRESS under an unexpired lease. */
export function heldLease(job: JobState, now: number): LeaseState | undefined {
  return job.status === IN_PROGRESS && job.lease && job.lease.expiresAt > now ? job.lease : undefined;
}

/** What a request asks of a job. */
export type Transition =
  /** A client's DELETE: cancels whoever holds the job. */
  | { kind: "cancel" }
  /** A backend's outcome. */
  | { kind: "end"; to: "SUCCESS" | "FAILED" }
  /** Progress, and with a token a heartbeat that extends the lease. */
  | { kind: "progress" }
  /** A retryable failure: this attempt ends, the job is queued again (or exhausted: FAILED). */
  | { kind: "retry" }
  /** The holder gives the job back unfinished. */
  | { kind: "release" };

/**
 * The condition the store's compare-and-set checks, besides the job being IN PROGRESS. A job
 * is live while it is before its deadline and has not run out of attempts (its last allowed
 * attempt's lease has not expired).
 */
export type Fence =
  /** No further condition. */
  | { kind: "none" }
  /** Past its deadline, and not waiting under a paused name (a pause stops its deadline): the deadline failing the job. */
  | { kind: "due"; now: number }
  /** No unexpired lease (the last allowed attempt's lease running out). */
  | { kind: "lapsed"; now: number }
  /** Live, whoever holds it (a client's cancel). */
  | { kind: "live"; now: number }
  /** Live, and no unexpired lease held (a backend that did not claim). */
  | { kind: "unheld"; now: number }
  /** Live, and held under the unexpired lease with this token (its worker). */
  | { kind: "lease"; token: string; now: number };

/** The fence a request is applied under when the job allows it (see decide). */
export function fenceFor(t: Transition, token: string | undefined, now: number): Fence {
  if (t.kind === "cancel") return { kind: "live", now };
  return token === undefined ? { kind: "unheld", now } : { kind: "lease", token, now };
}

export type ConflictType = "ended" | "cancelled" | "lease-mismatch";

export type Decision =
  /** Apply it, under this fence. */
  | { kind: "apply"; fence: Fence }
  /** The job already has this outcome: answer as before, change nothing. */
  | { kind: "repeat" }
  | { kind: "conflict"; type: ConflictType; reason: string };

/**
 * Decides a request against the job as it is at `now`. `token` is the lease token the request
 * carries (undefined: a client, or a backend that did not claim).
 */
export function decide(job: JobState, t: Transition, token: string | undefined, now: number): Decision {
  if (t.kind === "cancel") {
    if (job.status === IN_PROGRESS) return { kind: "apply", fence: fenceFor(t, token, now) };
    if (job.status === "CANCELLED") return { kind: "repeat" };
    return { kind: "conflict", type: "ended", reason: `the job has already ended as ${job.status}; it cannot become CANCELLED` };
  }
  if (job.status === "CANCELLED") {
    return { kind: "conflict", type: "cancelled", reason: "the job was cancelled; stop working on it" };
  }
  if (isTerminal(job.status)) {
    // A worker whose lease is not the job's last one did not produce this outcome.
    if (token !== undefined && token !== job.lease?.token) {
      return { kind: "conflict", type: "lease-mismatch", reason: `the job has ended as ${job.status} under another lease` };
    }
    const outcome = t.kind === "end" ? t.to : t.kind === "retry" ? "FAILED" : undefined;
    if (outcome === job.status) return { kind: "repeat" };
    const what = t.kind === "progress" ? "progress cannot be updated" : t.kind === "release" ? "it cannot be released" : `it cannot become ${outcome}`;
    return { kind: "conflict", type: "ended", reason: `the job has already ended as ${job.status}; ${what}` };
  }
  const held = heldLease(job, now);
  if (held) {
    if (token === held.token) return { kind: "apply", fence: fenceFor(t, token, now) };
    return {
      kind: "conflict",
      type: "lease-mismatch",
      reason: token === undefined ? "a worker holds this job's lease; only its leaseToken may update it" : "this leaseToken is not the job's current lease",
    };
  }
  if (token === undefined) return { kind: "apply", fence: fenceFor(t, token, now) };
  return {
    kind: "conflict",
    type: "lease-mismatch",
    reason: token === job.lease?.token ? "this lease has expired or was given back; the job is queued for another attempt" : "this leaseToken is not the job's current lease",
  };
}

/**
 * Delay before a job that failed retryably may be taken again: exponential in the attempt
 * number, capped, with jitter (a uniformly random point in the upper half) so that jobs that
 * failed together do not come back together.
 */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + random() * (full / 2));
}
