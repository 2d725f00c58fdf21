// The worker SDK: takes jobs from the job API, keeps their leases alive, and reports how they
// went, on the generated typed client (no other dependency). A job's handler gets an
// AbortSignal that fires when the job is cancelled or its lease is lost, so that work nobody
// wants any more stops; a thrown error is a retryable failure unless marked permanent.
import os from "node:os";
import { ApiClient, type ClientOptions } from "../../generated/client.js";
import type { Task, TaskError, TaskUpdate } from "../../generated/types.js";
import { OutcomeReporter } from "./outcomes.js";

export type { Task } from "../../generated/types.js";

export interface TaskContext {
  /** Aborted when the job is cancelled, its lease is lost, or the worker gives it back on shutdown. */
  signal: AbortSignal;
  /** Reports progress (0-100); also a heartbeat. Resolves once the server has it (or could not be told). */
  progress(percent: number): Promise<void>;
}

export interface WorkerOptions {
  baseUrl: string;
  /** Take only jobs with these names (default: any). */
  names?: string[] | undefined;
  /** How many jobs to work on at once (default 1). */
  concurrency?: number | undefined;
  /** Lease length asked for (default 30 s, 5-3600); the worker heartbeats every third of it. */
  leaseSeconds?: number | undefined;
  /** How long a claim waits on the server for work (`Prefer: wait`, default 20 s, capped by the server). */
  pollSeconds?: number | undefined;
  /** This worker's name in the job records (default `host:pid`). */
  worker?: string | undefined;
  /** Does the work; what it returns is the job's result. */
  handler: (task: Task, ctx: TaskContext) => unknown;
  /** A worker's (or an admin's) API key, sent as `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
  /** Headers with every request. */
  headers?: Record<string, string> | undefined;
  fetch?: ClientOptions["fetch"] | undefined;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean | undefined;
  /** On stop, how long running handlers may go on before their jobs are given back (default 25 s). */
  shutdownTimeoutMs?: number | undefined;
  /** What happens, for logs and metrics. */
  onEvent?: ((event: WorkerEvent) => void) | undefined;
}

export type WorkerEvent =
  | { type: "claimed"; task: Task }
  | { type: "succeeded"; task: Task }
  | { type: "failed"; task: Task; retryable: boolean; error: TaskError }
  | { type: "cancelled"; task: Task }
  | { type: "lease-lost"; task: Task; reason: string }
  | { type: "released"; task: Task }
  | { type: "error"; error: unknown; task?: Task };

export interface RunningWorker {
  /** Stops claiming, lets running jobs finish (up to shutdownTimeoutMs), gives back the rest. */
  stop(): Promise<void>;
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
}

/** Throw this (or any error with `retryable: false`) for a failure that another attempt cannot fix. */
export class PermanentJobError extends Error {
  readonly retryable = false;
  constructor(message: string, readonly type?: string, readonly detail?: string) {
    super(message);
    this.name = "PermanentJobError";
  }
}

/** Why a handler's signal was aborted. */
export class JobCancelledError extends Error {
  override name = "JobCancelledError";
}
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}
export class WorkerStoppingError extends Error {
  override name = "WorkerStoppingError";
}

const CANCELLED = "urn:async-api:job-cancelled";

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A thrown value as the problem-shaped error the API stores. */
export function toTaskError(e: unknown): TaskError {
  const err = e as { message?: unknown; name?: unknown; type?: unknown; detail?: unknown };
  const title = (e instanceof Error ? e.message || e.name : typeof e === "string" ? e : "") || "the job's handler failed";
  const out: TaskError = { title };
  if (typeof err?.type === "string" && err.type) out.type = err.type;
  if (typeof err?.detail === "string") out.detail = err.detail;
  return out;
}

export function runWorker(opts: WorkerOptions): RunningWorker {
  const client = new ApiClient({ baseUrl: opts.baseUrl, fetch: opts.fetch, headers: opts.headers, ...(opts.apiKey !== undefined ? { authorization: `Bearer ${opts.apiKey}` } : {}) });
  const concurrency = opts.concurrency ?? 1;
  const leaseSeconds = opts.leaseSeconds ?? 30;
  const leaseMs = leaseSeconds * 1000;
  const pollSeconds = opts.pollSeconds ?? 20;
  const worker = opts.worker ?? `${os.hostname()}:${process.pid}`;
  const emit = (e: WorkerEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a logging callback must not stop the worker
    }
  };

  const claiming = new AbortController(); // aborted on stop: no more claims
  const stopRequested = new Promise<void>((r) => claiming.signal.addEventListener("abort", () => r(), { once: true }));
  const running = new Map<string, { abort: AbortController; finished: Promise<void> }>();

  /** A task's updates carry its trace context, so that their server spans join the job's trace. */
  const traced = (task: Task) => (task.traceparent !== undefined ? { traceparent: task.traceparent } : {});

  const reporter = new OutcomeReporter(client, traced);

  /**
   * Reports the outcome (together with other jobs' that end meanwhile: outcomes.ts), retrying
   * through network trouble while the lease may still be ours.
   */
  const report = async (task: Task, body: TaskUpdate & { leaseToken: string }, leaseEnd: () => number): Promise<"ok" | "cancelled" | "lost"> => {
    for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const r = await reporter.report(task, body);
        if (r.status === 200) return "ok";
        if (r.status === 409) return r.type === CANCELLED ? "cancelled" : "lost";
        if (r.status === 404) return "cancelled";
        emit({ type: "error", error: new Error(`the update of task ${task.id} was answered ${r.status}: ${r.type ?? ""} ${r.detail ?? ""}`), task });
        return "lost";
      } catch (error) {
        if (Date.now() + delay >= leaseEnd()) {
          emit({ type: "error", error, task });
          return "lost";
        }
        await sleep(delay);
      }
    }
  };

  const work = async (task: Task, claimedAt: number, abort: AbortController): Promise<void> => {
    // Counted from when the claim was sent: the server's lease started no earlier.
    let leaseEnd = claimedAt + leaseMs;
    let pendingProgress: number | undefined;
    let inFlight: Promise<void> | undefined;
    let finished = false;

    const lose = (reason: Error) => {
      if (!abort.signal.aborted) abort.abort(reason);
    };
    const beat = (): Promise<void> => {
      if (inFlight) return inFlight.then(() => (pendingProgress !== undefined ? beat() : undefined));
      const progress = pendingProgress;
      pendingProgress = undefined;
      const sentAt = Date.now();
      const body: TaskUpdate = { leaseToken: task.leaseToken };
      if (progress !== undefined) body.progress = progress;
      inFlight = (async () => {
        try {
          const r = await client.updateTask({ params: { id: task.id }, headers: traced(task), body, mediaType: "application/json" });
          if (finished) return;
          if (r.status === 200) leaseEnd = sentAt + leaseMs;
          else if (r.status === 409) lose(r.body.type === CANCELLED ? new JobCancelledError(r.body.detail ?? "the job was cancelled") : new LeaseLostError(r.body.detail ?? "the lease was lost"));
          else if (r.status === 404) lose(new JobCancelledError("the job no longer exists"));
        } catch (error) {
          // Unreachable for now: the next heartbeat tries again, unless the lease runs out first.
          if (!finished && Date.now() >= leaseEnd) lose(new LeaseLostError("the lease expired: no heartbeat got through"));
          else emit({ type: "error", error, task });
        } finally {
          inFlight = undefined;
        }
      })();
      return inFlight;
    };
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(() => {
        if (Date.now() >= leaseEnd) lose(new LeaseLostError("the lease expired: no heartbeat got through"));
        if (finished || abort.signal.aborted) return;
        void beat().finally(() => !finished && !abort.signal.aborted && schedule());
      }, Math.max(1000, leaseMs / 3));
    };
    schedule();

    const ctx: TaskContext = {
      signal: abort.signal,
      progress: (percent) => {
        pendingProgress = Math.max(0, Math.min(100, Math.round(percent)));
        return finished || abort.signal.aborted ? Promise.resolve() : beat();
      },
    };
    type Outcome = { ok: true; result: unknown } | { ok: false; error: unknown } | { ok: "stopping" };
    const handled = (async (): Promise<Outcome> => {
      try {
        return { ok: true, result: await opts.handler(task, ctx) };
      } catch (error) {
        return { ok: false, error };
      }
    })();
    // On shutdown the job is given back when the handler's time is up, whether it has
    // stopped or not; otherwise the handler is waited for (it should honour its signal).
    const stopping = new Promise<Outcome>((resolve) =>
      abort.signal.addEventListener("abort", () => abort.signal.reason instanceof WorkerStoppingError && resolve({ ok: "stopping" }), { once: true }),
    );
    const outcome = await Promise.race([handled, stopping]);
    finished = true;
    clearTimeout(timer);
    await inFlight;

    const reason = abort.signal.reason;
    if (reason instanceof JobCancelledError) return emit({ type: "cancelled", task });
    if (reason instanceof LeaseLostError) return emit({ type: "lease-lost", task, reason: reason.message });
    if (reason instanceof WorkerStoppingError) {
      await report(task, { leaseToken: task.leaseToken, release: true }, () => leaseEnd);
      return emit({ type: "released", task });
    }
    if (outcome.ok === "stopping") return;
    let body: TaskUpdate & { leaseToken: string };
    let event: WorkerEvent;
    if (outcome.ok) {
      body = { leaseToken: task.leaseToken, status: "SUCCESS" };
      if (outcome.result !== undefined) body.result = outcome.result;
      event = { type: "succeeded", task };
    } else {
      const error = toTaskError(outcome.error);
      const retryable = (outcome.error as { retryable?: unknown })?.retryable !== false;
      body = { leaseToken: task.leaseToken, status: "FAILED", error, ...(retryable ? { retryable: true } : {}) };
      event = { type: "failed", task, retryable, error };
    }
    const r = await report(task, body, () => leaseEnd);
    if (r === "ok") emit(event);
    else if (r === "cancelled") emit({ type: "cancelled", task });
    else emit({ type: "lease-lost", task, reason: "the outcome was refused: the lease was no longer this worker's" });
  };

  const start = (task: Task, claimedAt: number) => {
    emit({ type: "claimed", task });
    const abort = new AbortController();
    const finished = work(task, claimedAt, abort)
      .catch((error) => emit({ type: "error", error, task }))
      .finally(() => running.delete(task.id));
    running.set(task.id, { abort, finished });
  };

  const loop = async () => {
    let failures = 0;
    while (!claiming.signal.aborted) {
      const free = concurrency - running.size;
      if (free <= 0) {
        await Promise.race([...[...running.values()].map((r) => r.finished), stopRequested]);
        continue;
      }
      const sentAt = Date.now();
      // A signal of its own per claim: fetch leaves a listener on the signal it is given until
      // that is collected, so one long-lived signal for every claim would pile them up.
      const call = new AbortController();
      const stop = () => call.abort();
      claiming.signal.addEventListener("abort", stop, { once: true });
      try {
        const r = await client.claimTasks(
          { params: {}, headers: { prefer: `wait=${pollSeconds}` }, body: { worker, max: free, leaseSeconds, ...(opts.names ? { names: opts.names } : {}) }, mediaType: "application/json" },
          { signal: call.signal },
        );
        if (r.status !== 200) throw new Error(`POST /tasks/claim answered ${r.status}: ${JSON.stringify(r.body)}`);
        failures = 0;
        for (const task of r.body.tasks) start(task, sentAt);
      } catch (error) {
        if (claiming.signal.aborted) break;
        emit({ type: "error", error });
        // The server is away or refuses: back off (up to 10 s) rather than hammer it.
        await sleep(Math.min(10_000, 250 * 2 ** failures++), claiming.signal);
      } finally {
        claiming.signal.removeEventListener("abort", stop);
      }
    }
  };

  // Kept until the worker has stopped: a signal often arrives twice (Ctrl-C reaches every
  // process of the group, and runners such as npm and tsx relay it too), and a second one
  // must not kill the process in the middle of giving jobs back. Stopping is bounded by
  // shutdownTimeoutMs.
  const onSignal = () => void stop();
  if (opts.handleSignals !== false) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }

  const looping = loop();
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      claiming.abort();
      await looping;
      const all = Promise.all([...running.values()].map((r) => r.finished));
      const timeout = opts.shutdownTimeoutMs ?? 25_000;
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeout)))]);
      clearTimeout(timer);
      if (late) {
        for (const r of running.values()) r.abort.abort(new WorkerStoppingError("the worker is stopping"));
        await all;
      }
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      resolveDone();
    })();
    return stopping;
  };
  return { stop, done };
}
