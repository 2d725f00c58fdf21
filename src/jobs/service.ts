// The job engine: creation with idempotency keys; claims, leases and retries for workers;
// transitions decided by the state machine (machine.ts) and applied by the store with
// compare-and-set under a fence; deadline expiry and retention.
import type { JobRequest, TaskUpdate } from "../../generated/types.js";
import { ClaimWaiters } from "./changes.js";
import type { JobEventPage } from "./events.js";
import type { Clock } from "./clock.js";
import { fingerprint } from "./fingerprint.js";
import { newJobId, newLeaseToken } from "./ids.js";
import { Wakeups } from "./wakeups.js";
import { decide, fenceFor, IN_PROGRESS, retryDelay, type ConflictType, type Fence, type Transition } from "./machine.js";
import {
  DEFAULT_MAX_ATTEMPTS,
  type CreateResult,
  type Dependency,
  type JobError,
  type JobPage,
  type JobRecord,
  type JobStore,
  type ListQuery,
  type TaskError,
  type TransitionResult,
  type PausedName,
  type Rerun,
} from "./store.js";

export const JOB_FAILED_TYPE = "urn:async-api:job-failed";
export const DEADLINE_EXCEEDED_TYPE = "urn:async-api:deadline-exceeded";
export const ATTEMPTS_EXHAUSTED_TYPE = "urn:async-api:attempts-exhausted";
export const LEASE_EXPIRED_TYPE = "urn:async-api:lease-expired";

/** How often a long-polling claim looks again by itself, for jobs that become available by time (backoff over, lease expired). */
const CLAIM_RECHECK_MS = 1000;

export interface JobServiceOptions {
  clock: Clock;
  /** An IN PROGRESS job older than this is failed with "deadline exceeded". */
  deadlineMs: number;
  /** Ended jobs are removed this long after they ended. */
  retentionMs: number;
  /** maxAttempts of a job whose request does not say (default 3). */
  defaultMaxAttempts?: number | undefined;
  /** First retry delay after a retryable failure (doubling per attempt, with jitter; default 1 s). */
  retryBackoffMs?: number | undefined;
  /** Longest retry delay (default 5 min). */
  retryBackoffMaxMs?: number | undefined;
  /** Source of jitter, for tests (default Math.random). */
  random?: (() => number) | undefined;
  /** Told of what happens here, for metrics (src/metrics.ts). */
  observer?: JobObserver | undefined;
}

/** What the engine reports as it happens in this process (metrics count it; none of it may throw). */
export interface JobObserver {
  created(job: JobRecord): void;
  /** A job handed out under a new lease; `leaseExpired` if its previous lease had run out. */
  claimed(job: JobRecord, now: number, leaseExpired: boolean): void;
  /** A job ended here (by a request, on read, or by the sweeper: `count` of them). */
  ended(status: JobRecord["status"], job: JobRecord | undefined, now: number, count?: number): void;
  /** The last allowed lease ran out: the job fails (reported with ended as well). */
  leaseExhausted(): void;
  retryScheduled(): void;
  /** A worker was answered that its job was cancelled. */
  cancelSeen(): void;
}

export interface ClaimRequest {
  worker: string;
  names?: string[] | undefined;
  max: number;
  leaseSeconds: number;
}

export type ChangeResult =
  | { kind: "ok"; job: JobRecord; retryAt?: number | undefined }
  | { kind: "conflict"; job: JobRecord; type: ConflictType; reason: string }
  | { kind: "not-found" };

/** A contradiction inside an update body (e.g. `error` on SUCCESS). */
export class InvalidUpdateError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

type Applied = TransitionResult & { retryAt?: number };

export class JobService {
  private readonly claims = new ClaimWaiters();
  /** Wake-ups of claims here at the times jobs come due (a scheduled job, the end of a backoff). */
  private readonly wakeups: Wakeups;
  private readonly offAvailable: () => void;

  constructor(readonly store: JobStore, private readonly opts: JobServiceOptions) {
    // One job available: one waiting claim is woken to take it (not every waiting worker).
    // A job that may be handed out now wakes a waiting claim; one that may not before a time
    // (scheduled, or backing off), at that time: on this instance, whichever made it.
    this.wakeups = new Wakeups(opts.clock, (name) => this.claims.notify(name));
    this.offAvailable = store.onAvailable((name, at) => (at > this.opts.clock.now() ? this.wakeups.add(at, name) : this.claims.notify(name)));
    this.offCount = [store.onChange(() => this.changeCount++), store.onAvailable(() => this.changeCount++)];
  }

  /**
   * A time as RFC 3339. The last one is kept: the creates of one turn mostly share their
   * millisecond, and toISOString costs about 0.5 µs (a twentieth of that to compare).
   */
  private iso(ms = this.opts.clock.now()): string {
    if (ms !== this.lastIsoMs) {
      this.lastIsoMs = ms;
      this.lastIso = new Date(ms).toISOString();
    }
    return this.lastIso;
  }
  private lastIsoMs = NaN;
  private lastIso = "";

  /**
   * Creates a job for `owner` (undefined on a service without keys). An Idempotency-Key is the
   * owner's own: it is stored prefixed with the owner's name (names and keys have no spaces).
   */
  async create(request: JobRequest | null | undefined, idempotencyKey?: string, owner?: string, traceparent?: string, scheduleId?: string): Promise<CreateResult> {
    const now = this.opts.clock.now();
    // Run later: not handed out before then; the deadline counts from then.
    const at = request?.runAt !== undefined ? Date.parse(request.runAt) : request?.delaySeconds ? now + request.delaySeconds * 1000 : 0;
    const runAfter = at > now ? at : 0;
    const r = await this.store.create({
      id: newJobId(),
      request: request ?? null,
      owner,
      name: request?.name,
      priority: request?.priority ?? 0,
      maxAttempts: request?.maxAttempts ?? this.opts.defaultMaxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      start: this.iso(now),
      deadlineAt: Math.max(now, runAfter) + this.opts.deadlineMs,
      runAfter,
      callbackUrl: request?.callbackUrl,
      traceparent,
      idempotency: idempotencyKey ? { key: ownKey(owner, idempotencyKey), fingerprint: fingerprint(request ?? null) } : undefined,
      singleton: request?.singletonKey !== undefined ? { key: ownKey(owner, request.singletonKey), mode: request.singletonMode ?? "join" } : undefined,
      dependsOn: request?.dependsOn ? { ids: request.dependsOn, onFailure: request.onDependencyFailure ?? "cancel" } : undefined,
      scheduleId,
      concurrencyKey: request?.concurrencyKey,
    });
    if (r.kind === "created") this.opts.observer?.created(r.job);
    return r;
  }

  /**
   * The job as it is now. A job past its deadline, or whose last allowed attempt's lease has
   * expired, is failed first: no reader ever sees it running.
   */
  async get(id: string): Promise<JobRecord | undefined> {
    const job = await this.store.get(id);
    return job && this.settle(job);
  }

  /** The job as read, or, if it was overdue, as it is once failed for it. */
  private async settle(job: JobRecord): Promise<JobRecord | undefined> {
    const r = await this.overdue(job, this.opts.clock.now());
    if (!r) return job;
    return r.kind === "not-found" ? undefined : r.job;
  }

  /** Fails a job past its deadline or whose last allowed lease has expired; undefined if it is neither. */
  private overdue(job: JobRecord, now: number): Promise<TransitionResult> | undefined {
    if (job.status !== IN_PROGRESS) return undefined;
    if (job.deadlineAt <= now) return this.store.end(job.id, { to: "FAILED", end: this.iso(now), error: deadlineError() }, { kind: "due", now }).then((r) => this.observeEnd(r, now));
    // Lapsed: the last allowed lease has run out; no claim hands out a job without attempts
    // left, so nobody can take it meanwhile.
    if (exhaustedAt(job, now)) {
      return this.store.end(job.id, { to: "FAILED", end: this.iso(now), error: leaseExpiredError(job) }, { kind: "lapsed", now }).then((r) => {
        if (r.kind === "applied") this.opts.observer?.leaseExhausted();
        return this.observeEnd(r, now);
      });
    }
    return undefined;
  }

  /** Reports a job that this change ended. */
  private observeEnd<T extends TransitionResult>(r: T, now: number): T {
    if (r.kind === "applied" && r.job.status !== IN_PROGRESS) this.opts.observer?.ended(r.job.status, r.job, now);
    return r;
  }

  list(q: ListQuery): Promise<JobPage> {
    return this.store.list(q);
  }

  /** The jobs a claimed dependant waited for, as its worker gets them (one read for all the claim's jobs). */
  async dependencies(jobs: JobRecord[]): Promise<Map<string, Dependency>> {
    const ids = [...new Set(jobs.flatMap((j) => j.dependsOn ?? []))];
    return new Map((await this.store.dependencies(ids)).map((d) => [d.id, d]));
  }

  /**
   * Hands out up to `max` waiting jobs under new leases. With `waitMs`, a claim that finds
   * nothing waits for a job to become available (woken by the store) and answers as soon as
   * it has one, or empty when the time runs out, the signal aborts or the service stops.
   */
  async claim(req: ClaimRequest, waitMs = 0, signal?: AbortSignal): Promise<JobRecord[]> {
    const until = Date.now() + waitMs;
    // Registered before the first look, so a job that arrives meanwhile is not missed.
    const waiter = waitMs > 0 ? this.claims.add(req.names, req.max) : undefined;
    try {
      for (;;) {
        const now = this.opts.clock.now();
        const jobs = await this.store.claim({
          now,
          worker: req.worker,
          names: req.names,
          tokens: Array.from({ length: req.max }, newLeaseToken),
          leaseMs: req.leaseSeconds * 1000,
        });
        if (this.opts.observer) for (const j of jobs) this.opts.observer.claimed(j, now, j.previousLeaseExpired === true);
        const again = waiter?.looked(jobs.length) ?? false;
        const left = until - Date.now();
        if (!waiter || jobs.length || left <= 0 || signal?.aborted || this.stopped) return jobs;
        if (again) continue;
        await waiter.wait(Math.min(left, CLAIM_RECHECK_MS), signal);
        if (signal?.aborted || this.stopped) return [];
      }
    } finally {
      waiter?.done();
    }
  }

  /**
   * Gives a claimed job back unfinished, its attempt not counted (a claim whose worker went
   * away before the answer, a dispatch the backend did not accept). It may be taken again
   * from `runAfter` (epoch ms; default at once).
   */
  async giveBack(job: JobRecord, runAfter = 0): Promise<void> {
    await this.store.requeue(job.id, { runAfter, uncount: true }, { kind: "lease", token: job.lease!.token, now: this.opts.clock.now() });
  }

  /** Cancels a job; `by` (the caller) is recorded in its history. */
  cancel(id: string, by?: string): Promise<ChangeResult> {
    return this.transition(id, { kind: "cancel" }, undefined, (fence) => this.store.end(id, { to: "CANCELLED", end: this.iso(), by }, fence));
  }

  // Admins: pause and re-run.

  pause(name: string, by: string | undefined): Promise<PausedName> {
    return this.store.pause(name, by, this.opts.clock.now());
  }

  /** Resumes a name; waiting claims hear of its jobs (the store announces them). */
  resume(name: string): Promise<boolean> {
    return this.store.resume(name, this.opts.clock.now());
  }

  paused(): Promise<PausedName[]> {
    return this.store.paused();
  }

  /** Runs a FAILED or CANCELLED job again: a new series of attempts and a new deadline from now. */
  rerun(id: string, by: string | undefined): Promise<TransitionResult> {
    return this.store.rerun(id, this.rerunOf(by));
  }

  redrive(q: { name: string; status: "FAILED" | "CANCELLED"; limit: number }, by: string | undefined): Promise<{ ids: string[]; more: boolean }> {
    return this.store.redrive(q, this.rerunOf(by));
  }

  private rerunOf(by: string | undefined): Rerun {
    const now = this.opts.clock.now();
    return { by, now, deadlineAt: now + this.opts.deadlineMs };
  }

  /** A job's history, a page at a time (see events.ts). */
  events(id: string, after: number, limit: number): Promise<JobEventPage> {
    return this.store.events(id, after, limit);
  }

  /** What the backend reports through PUT /tasks/{id}. */
  update(id: string, body: TaskUpdate | null | undefined): Promise<ChangeResult> {
    const u = body ?? {};
    const token = u.leaseToken;
    if (u.release) {
      if (token === undefined) throw new InvalidUpdateError("body/release", "only the holder of the job's lease can release it: send its leaseToken");
      const extra = Object.keys(u).find((k) => k !== "release" && k !== "leaseToken");
      if (extra) throw new InvalidUpdateError(`body/${extra}`, "a release takes nothing but the leaseToken");
      return this.transition(id, { kind: "release" }, token, (fence) => this.store.requeue(id, { runAfter: 0, uncount: true }, fence as Fence & { kind: "lease" }));
    }
    // `release: false` asks for nothing.
    const keys = Object.keys(u).filter((k) => !(k === "release" && u.release === false));
    const onlyProgress = keys.every((k) => k === "progress" || k === "leaseToken") && (token !== undefined || u.progress !== undefined);
    const to = u.status ?? (u.error !== undefined ? "FAILED" : u.result !== undefined || !onlyProgress ? "SUCCESS" : undefined);
    if (to === "SUCCESS" && u.error !== undefined) throw new InvalidUpdateError("body/error", "error is only allowed with status FAILED");
    if (to === "FAILED" && u.result !== undefined) throw new InvalidUpdateError("body/result", "result is only allowed with status SUCCESS");
    if (u.retryable !== undefined && to !== "FAILED") throw new InvalidUpdateError("body/retryable", "retryable is only allowed with status FAILED");
    if (u.retryable && token === undefined) {
      throw new InvalidUpdateError("body/retryable", "only the holder of the job's lease can ask for another attempt: send its leaseToken");
    }
    if (to === undefined) {
      return this.transition(id, { kind: "progress" }, token, (fence) => this.store.progress(id, u.progress, fence, this.opts.clock.now()));
    }
    const error: JobError | undefined = to === "FAILED" ? reportedError(u.error) : undefined;
    if (u.retryable) {
      // Read first: whether this was the last attempt decides between queueing and failing.
      return this.transition(id, { kind: "retry" }, token, (fence, read) => {
        const job = read!; // read first (below)
        const now = this.opts.clock.now();
        if (job.attempts >= job.maxAttempts) {
          return this.store.end(id, { to: "FAILED", end: this.iso(now), progress: u.progress, error: exhaustedError(job, error!) }, fence);
        }
        const retryAt = now + retryDelay(job.attempts, this.opts.retryBackoffMs ?? 1000, this.opts.retryBackoffMaxMs ?? 300_000, this.opts.random);
        return this.store.requeue(id, { runAfter: retryAt, uncount: false }, fence as Fence & { kind: "lease" }).then((r) => {
          if (r.kind === "applied") {
            this.opts.observer?.retryScheduled();
          }
          return { ...r, retryAt };
        });
      }, true);
    }
    return this.transition(id, { kind: "end", to }, token, (fence) =>
      this.store.end(id, { to, end: this.iso(), progress: u.progress, result: to === "SUCCESS" ? (u.result ?? null) : undefined, error }, fence),
    );
  }

  /**
   * Applies a request under the fence it needs (compare-and-set). Optimistically at first: the
   * usual request (a worker's heartbeat or outcome, a cancel) needs no read before its write.
   * When the compare-and-set misses, or with `readFirst`, the job is read (and failed first if
   * it is overdue), the state machine decides against it, and a request that can still apply
   * is tried again under the decided fence.
   */
  private async transition(
    id: string,
    t: Transition,
    token: string | undefined,
    apply: (fence: Fence, job: JobRecord | undefined) => Promise<Applied>,
    readFirst = false,
  ): Promise<ChangeResult> {
    let job = readFirst ? await this.get(id) : undefined;
    if (readFirst && !job) return { kind: "not-found" };
    for (let round = 0; ; round++) {
      let fence: Fence;
      if (job) {
        const d = decide(job, t, token, this.opts.clock.now());
        if (d.kind === "repeat") return { kind: "ok", job };
        if (d.kind === "conflict") {
          if (d.type === "cancelled") this.opts.observer?.cancelSeen();
          return { kind: "conflict", job, type: d.type, reason: d.reason };
        }
        fence = d.fence;
      } else {
        fence = fenceFor(t, token, this.opts.clock.now());
      }
      if (round === 5) throw new Error(`job ${id} kept changing under a ${t.kind} request`);
      const r = await apply(fence, job);
      if (r.kind === "applied") {
        this.observeEnd(r, this.opts.clock.now());
        return { kind: "ok", job: r.job, retryAt: r.retryAt };
      }
      if (r.kind === "not-found") return r;
      // Missed: judge the request against the job as it is now.
      job = await this.settle(r.job);
      if (!job) return { kind: "not-found" };
    }
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

  /** Job changes (and creations) this instance has heard of, for live views (see waitForAnyChange). */
  get changes(): number {
    return this.changeCount;
  }
  private changeCount = 0;
  private readonly offCount: (() => void)[];

  /**
   * Long-poll for live views: resolves when any job changes, `ms` pass, the signal aborts or
   * the service stops waiting; at once if `seen` (an earlier `changes`) is out of date.
   */
  async waitForAnyChange(ms: number, signal?: AbortSignal, seen?: number): Promise<void> {
    if (seen !== undefined && seen !== this.changeCount) return;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    // A job that changes, or one that is created (announced as available, or as changed while it waits for its parents).
    const offChange = this.store.onChange(() => wake());
    const offAvailable = this.store.onAvailable(() => wake());
    const off = () => (offChange(), offAvailable());
    const timer = setTimeout(wake, ms);
    signal?.addEventListener("abort", wake, { once: true });
    this.waiting.add(wake);
    if (this.stopped) wake();
    try {
      await woken;
    } finally {
      off();
      clearTimeout(timer);
      signal?.removeEventListener("abort", wake);
      this.waiting.delete(wake);
    }
  }

  /** Answers every waiting long-poll (job polls and claims) at once (on shutdown). */
  stopWaiting(): void {
    this.stopped = true;
    for (const wake of this.waiting) wake();
    this.claims.wakeAll();
    this.wakeups.clear();
    this.offAvailable();
    for (const off of this.offCount) off();
  }

  /** Deadline expiry, exhausted leases and retention; safe to run at any time and from several places. */
  async sweep(): Promise<{ expired: number; exhausted: number; purged: number }> {
    const now = this.opts.clock.now();
    const expired = await this.store.expire(now, this.iso(now), deadlineError());
    if (expired) this.opts.observer?.ended("FAILED", undefined, now, expired);
    let exhausted = 0;
    for (const id of await this.store.exhausted(now, 1000)) {
      const job = await this.store.get(id);
      const r = job && (await this.overdue(job, now));
      if (r?.kind === "applied") exhausted++;
    }
    const purged = await this.store.purge(now - this.opts.retentionMs);
    return { expired, exhausted, purged };
  }
}

/** The last allowed attempt's lease has run out: nobody will take the job again. */
function exhaustedAt(job: JobRecord, now: number): boolean {
  return job.attempts >= job.maxAttempts && job.lease !== undefined && job.lease.expiresAt > 0 && job.lease.expiresAt <= now;
}

function reportedError(e: TaskError | undefined): JobError {
  return { type: e?.type ?? JOB_FAILED_TYPE, title: e?.title ?? "The job failed", ...(e?.detail !== undefined ? { detail: e.detail } : {}) };
}

function exhaustedError(job: JobRecord, cause: TaskError): JobError {
  return { type: ATTEMPTS_EXHAUSTED_TYPE, title: "attempts exhausted", detail: `all ${job.maxAttempts} attempts failed`, cause };
}

function leaseExpiredError(job: JobRecord): JobError {
  return exhaustedError(job, {
    type: LEASE_EXPIRED_TYPE,
    title: "lease expired",
    detail: `worker ${JSON.stringify(job.lease?.worker ?? "")} did not report within ${Math.round((job.lease?.ms ?? 0) / 1000)} s`,
  });
}

function deadlineError(): JobError {
  return { type: DEADLINE_EXCEEDED_TYPE, title: "deadline exceeded", detail: "the backend did not report in time" };
}

/** A client's key, scoped to it: keys are its own (stored prefixed with its name). */
function ownKey(owner: string | undefined, key: string): string {
  return owner === undefined ? key : `${owner} ${key}`;
}
