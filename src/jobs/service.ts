// The job engine: creation with idempotency keys, transitions through the state machine with
// compare-and-set in the store, deadline expiry and retention.
import type { JobRequest, TaskUpdate } from "../../generated/types.js";
import type { Clock } from "./clock.js";
import { fingerprint } from "./fingerprint.js";
import { newJobId } from "./ids.js";
import { decide, IN_PROGRESS, type TerminalStatus, type Transition } from "./machine.js";
import type { CreateResult, JobError, JobPage, JobRecord, JobStore, ListQuery } from "./store.js";

export const JOB_FAILED_TYPE = "urn:async-api:job-failed";
export const DEADLINE_EXCEEDED_TYPE = "urn:async-api:deadline-exceeded";

export interface JobServiceOptions {
  clock: Clock;
  /** An IN PROGRESS job older than this is failed with "deadline exceeded". */
  deadlineMs: number;
  /** Ended jobs are removed this long after they ended. */
  retentionMs: number;
}

export type ChangeResult =
  | { kind: "ok"; job: JobRecord }
  | { kind: "conflict"; job: JobRecord; reason: string }
  | { kind: "not-found" };

/** A contradiction inside an update body (e.g. `error` on SUCCESS). */
export class InvalidUpdateError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

export class JobService {
  constructor(readonly store: JobStore, private readonly opts: JobServiceOptions) {}

  private iso(ms = this.opts.clock.now()): string {
    return new Date(ms).toISOString();
  }

  async create(request: JobRequest | null | undefined, idempotencyKey?: string): Promise<CreateResult> {
    const now = this.opts.clock.now();
    return this.store.create({
      id: newJobId(),
      request: request ?? null,
      start: this.iso(now),
      deadlineAt: now + this.opts.deadlineMs,
      callbackUrl: request?.callbackUrl,
      idempotency: idempotencyKey ? { key: idempotencyKey, fingerprint: fingerprint(request ?? null) } : undefined,
    });
  }

  /** The job as it is now; a job past its deadline is failed first, so no poll reports it running. */
  async get(id: string): Promise<JobRecord | undefined> {
    const job = await this.store.get(id);
    if (job && job.status === IN_PROGRESS && job.deadlineAt <= this.opts.clock.now()) {
      const r = await this.store.end(id, { to: "FAILED", end: this.iso(), error: deadlineError() });
      return r.kind === "not-found" ? undefined : r.job;
    }
    return job;
  }

  list(q: ListQuery): Promise<JobPage> {
    return this.store.list(q);
  }

  cancel(id: string): Promise<ChangeResult> {
    return this.transition(id, { kind: "end", to: "CANCELLED" }, () => this.store.end(id, { to: "CANCELLED", end: this.iso() }));
  }

  /** What the backend reports through PUT /tasks/{id}. */
  update(id: string, body: TaskUpdate | null | undefined): Promise<ChangeResult> {
    const u = body ?? {};
    const keys = Object.keys(u);
    const to: TerminalStatus | undefined =
      u.status ?? (u.error !== undefined ? "FAILED" : keys.length === 1 && keys[0] === "progress" ? undefined : "SUCCESS");
    if (to === "SUCCESS" && u.error !== undefined) throw new InvalidUpdateError("body/error", "error is only allowed with status FAILED");
    if (to === "FAILED" && u.result !== undefined) throw new InvalidUpdateError("body/result", "result is only allowed with status SUCCESS");
    if (to === undefined) {
      return this.transition(id, { kind: "progress" }, () => this.store.progress(id, u.progress!));
    }
    const error: JobError | undefined =
      to === "FAILED" ? { type: u.error?.type ?? JOB_FAILED_TYPE, title: u.error?.title ?? "The job failed", ...(u.error?.detail !== undefined ? { detail: u.error.detail } : {}) } : undefined;
    return this.transition(id, { kind: "end", to }, () =>
      this.store.end(id, { to, end: this.iso(), progress: u.progress, result: to === "SUCCESS" ? (u.result ?? null) : undefined, error }),
    );
  }

  private async transition(id: string, t: Transition, apply: () => ReturnType<JobStore["end"]>): Promise<ChangeResult> {
    const current = await this.get(id);
    if (!current) return { kind: "not-found" };
    let job = current;
    if (decide(job.status, t).kind === "apply") {
      const r = await apply();
      if (r.kind === "not-found") return r;
      if (r.kind === "applied") return { kind: "ok", job: r.job };
      job = r.job; // lost the race: judge the request against the winner's outcome
    }
    const d = decide(job.status, t);
    if (d.kind === "conflict") return { kind: "conflict", job, reason: d.reason };
    return { kind: "ok", job };
  }

  /** Wake-ups of the long-polls now waiting, for shutdown. */
  private readonly waiting = new Set<() => void>();
  private stopped = false;

  /**
   * Long-poll: the job once it differs from `seen` (status or progress), or as it is when
   * `ms` pass, the signal aborts, or the service stops waiting (shutdown).
   */
  async waitForChange(seen: JobRecord, ms: number, signal?: AbortSignal): Promise<JobRecord | undefined> {
    const changed = (j: JobRecord | undefined) => !j || j.status !== seen.status || j.progress !== seen.progress;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    // Subscribe first, then look again: a change between the caller's read and now is not missed.
    const off = this.store.onChange((id) => id === seen.id && wake());
    const timer = setTimeout(wake, ms);
    const abort = () => wake();
    signal?.addEventListener("abort", abort, { once: true });
    this.waiting.add(abort);
    if (this.stopped) wake();
    try {
      const now = await this.get(seen.id);
      if (changed(now)) return now;
      await woken;
      return await this.get(seen.id);
    } finally {
      off();
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
      this.waiting.delete(abort);
    }
  }

  /** Answers every waiting long-poll at once (on shutdown). */
  stopWaiting(): void {
    this.stopped = true;
    for (const wake of this.waiting) wake();
  }

  /** Deadline expiry and retention; safe to run at any time and from several places. */
  async sweep(): Promise<{ expired: number; purged: number }> {
    const now = this.opts.clock.now();
    const expired = await this.store.expire(now, this.iso(now), deadlineError());
    const purged = await this.store.purge(now - this.opts.retentionMs);
    return { expired, purged };
  }
}

function deadlineError(): JobError {
  return { type: DEADLINE_EXCEEDED_TYPE, title: "deadline exceeded", detail: "the backend did not report in time" };
}
