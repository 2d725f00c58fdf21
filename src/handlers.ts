// The job API's handlers: they implement the generated Handlers interface, so the compiler
// checks every status, header and body here against spec/api.raml.
import type { Handlers, Job, NodeContext, JobEvent, JobRequest, Problem, Task, TaskOutcomeResult, TaskUpdate, TaskUpdated } from "../generated/index.js";
import { invalid } from "./problems.js";
import { basePath } from "../generated/router.js";
import { IN_PROGRESS, type ConflictType } from "./jobs/machine.js";
import { InvalidUpdateError, type JobService } from "./jobs/service.js";
import { maySee, type Caller } from "./auth/authenticators.js";
import type { RateLimiter } from "./auth/rate-limit.js";
import { callbackUrlProblem } from "./jobs/webhooks.js";
import { BadCursorError, type Dependency, type JobRecord, type PausedName } from "./jobs/store.js";
import { decodeCursor, encodeCursor } from "./jobs/cursor.js";
import type { JobEvent as StoredEvent } from "./jobs/events.js";
import type { QueueSample, QueueSampler } from "./ops/sampler.js";
import type { Tracing } from "./ops/tracing.js";
import type { Clock } from "./jobs/clock.js";
import { scheduleHandlers } from "./schedule-handlers.js";
import { limitHandlers } from "./limit-handlers.js";

export interface HandlerOptions {
  /** Seconds a client should wait between polls. */
  retryAfterSeconds: number;
  /** Longest a `Prefer: wait=N` long-poll is held, in seconds (0: long-poll off). */
  longPollMaxSeconds: number;
  /** Which callback URLs are accepted; undefined: completion push is off. */
  callbacks?: { allowedHosts: string[]; allowPrivate: boolean } | undefined;
  /** Per-caller limit on job creation; undefined: none. */
  createLimit?: RateLimiter | undefined;
  /** The queue's samples, for GET /admin/queues. */
  queue: QueueSampler;
  /** Trace context: what a create keeps with its job, what a claim hands the worker. */
  tracing: Pick<Tracing, "traceparentOf" | "claimed">;
  /** For /schedules. */
  clock: Clock;
}

/** A client sees only its own jobs; an admin, or anyone on a service without keys, sees all. */
function ownerFilter(caller: Caller): string | undefined {
  return maySee(caller, undefined) ? undefined : caller.name;
}

/** `wait=N` from an RFC 7240 Prefer header, in seconds. */
export function preferredWait(prefer: string | undefined): number | undefined {
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(prefer ?? "");
  return m ? Number(m[1]) : undefined;
}

const jobPath = (id: string) => `${basePath}/resources/${encodeURIComponent(id)}`;

function notFound(id: string): Problem {
  return { type: "about:blank", title: "Not Found", status: 404, detail: `no job with id ${JSON.stringify(id)}` };
}

/** Problem types of 409 answers to workers, so that they can tell a cancel from a lost lease. */
export const CONFLICT_TYPES: Record<ConflictType, string> = {
  ended: "about:blank",
  cancelled: "urn:async-api:job-cancelled",
  "lease-mismatch": "urn:async-api:lease-mismatch",
};

function conflict(detail: string, type: ConflictType = "ended"): Problem {
  return { type: CONFLICT_TYPES[type], title: "Conflict", status: 409, detail };
}

/** Who an admin's action is recorded as (nobody when the service runs without keys). */
function adminName(p: Caller): string | undefined {
  return p.open ? undefined : p.name;
}

function pausedName(p: PausedName): { name: string; since: string; by?: string } {
  return { name: p.name, since: new Date(p.since).toISOString(), ...(p.by !== undefined && { by: p.by }) };
}

/** How far ahead a job may be scheduled (`delaySeconds`' maximum too). */
const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;

/** What the client sent, as stored (null for a POST without a body). */
function requestOf(r: JobRecord): JobRequest | null {
  return r.request as JobRequest | null;
}

export function toJob(r: JobRecord): Job {
  const request = requestOf(r);
  // In the spec's property order, so that the JSON reads as documented.
  const job: Job = {
    id: r.id,
    href: jobPath(r.id),
    status: r.status,
    ...(r.name !== undefined && { name: r.name }),
    priority: r.priority,
    tags: request?.tags ?? [],
    ...(request?.input !== undefined && { input: request.input }),
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    start: r.start,
    end: r.end,
  };
  // Waiting for a time (scheduled, or backing off) and held by no worker: from when it may run.
  if (r.status === IN_PROGRESS && r.runAfter > 0 && !(r.lease && r.lease.expiresAt > r.runAfter)) {
    const { end, ...before } = job;
    return withTail({ ...before, runAt: new Date(r.runAfter).toISOString(), end }, r);
  }
  return withTail(job, r);
}

/** The fields after `end`, in the spec's order. */
function withTail(job: Job, r: JobRecord): Job {
  if (r.progress !== undefined) job.progress = r.progress;
  if (r.status === "SUCCESS") job.result = r.result ?? null;
  if ((r.status === "FAILED" || r.status === "CANCELLED") && r.error) job.error = r.error;
  if (r.concurrencyKey !== undefined) job.concurrencyKey = r.concurrencyKey;
  if (r.schedule !== undefined) job.schedule = r.schedule;
  if (r.scheduledFor !== undefined) job.scheduledFor = new Date(r.scheduledFor).toISOString();
  if (r.dependsOn) job.dependsOn = r.dependsOn;
  if (r.waitingFor) job.waitingFor = r.waitingFor;
  return job;
}

/** A claimed job as the worker gets it. */
export function toTask(r: JobRecord, traceparent = r.traceparent, parents?: Map<string, Dependency>): Task {
  const request = requestOf(r);
  const lease = r.lease!;
  return {
    id: r.id,
    ...(r.name !== undefined && { name: r.name }),
    priority: r.priority,
    tags: request?.tags ?? [],
    ...(request?.input !== undefined && { input: request.input }),
    attempt: r.attempts,
    maxAttempts: r.maxAttempts,
    leaseToken: lease.token,
    leaseSeconds: lease.ms / 1000,
    leaseExpiresAt: new Date(lease.expiresAt).toISOString(),
    ...(traceparent !== undefined && { traceparent }),
    ...(r.dependsOn && parents && { dependencies: r.dependsOn.flatMap((id) => parents.get(id) ?? []) }),
  };
}

/**
 * A page of the job list for the list operations: the jobs, and the query string of the
 * following page (same filters), or the problem with the cursor.
 */
async function listPage(
  service: JobService,
  query: { limit: number; cursor?: string; status?: JobRecord["status"]; name?: string },
  scope: { owner?: string | undefined; newestFirst?: boolean | undefined },
): Promise<{ jobs: JobRecord[]; next?: string } | { problem: Problem }> {
  let page;
  try {
    page = await service.list({ limit: query.limit, after: query.cursor, status: query.status, name: query.name, ...scope });
  } catch (e) {
    if (e instanceof BadCursorError) return { problem: invalid("query/cursor", "is not a cursor this server issued") };
    throw e;
  }
  if (!page.next) return { jobs: page.jobs };
  const qs = new URLSearchParams({ cursor: page.next, limit: String(query.limit) });
  if (query.status) qs.set("status", query.status);
  if (query.name !== undefined) qs.set("name", query.name);
  return { jobs: page.jobs, next: qs.toString() };
}

/** A stored event as the spec's jobEvent: times as RFC 3339, the event's own fields alongside. */
function toEvent(e: StoredEvent): JobEvent {
  // Object.assign, not a spread: V8 (Node 20) takes a slow path for every property added to
  // an object made by a spread, ten times the cost (see HeadList in the router runtime).
  const out = Object.assign({}, e.data, { at: new Date(e.at).toISOString(), type: e.type }) as JobEvent;
  if (e.actor !== undefined) out.actor = e.actor;
  if (e.attempt !== undefined) out.attempt = e.attempt;
  if (typeof out.runAfter === "number") out.runAfter = new Date(out.runAfter).toISOString();
  return out;
}

export function jobHandlers(service: JobService, opts: HandlerOptions): Handlers<Caller, NodeContext> {
  /** The job, if it exists and this caller may see it (another client's job is not found). */
  const visibleJob = async (id: string, caller: Caller) => {
    const job = await service.get(id);
    return job && maySee(caller, job.owner) ? job : undefined;
  };
  return {
    ...scheduleHandlers(service.store.schedules, { clock: opts.clock, callbacks: opts.callbacks }),
    ...limitHandlers(service.store.limits, opts.clock),

    async listJobs({ query, auth }) {
      const page = await listPage(service, query, { owner: ownerFilter(auth.principal) });
      if ("problem" in page) return { status: 400, body: page.problem };
      const body: { tasks: { id: string; href: string }[]; next?: string } = {
        tasks: page.jobs.map((j) => ({ id: j.id, href: jobPath(j.id) })),
      };
      if (page.next) body.next = `${basePath}/resources?${page.next}`;
      return { status: 200, body };
    },

    async listRecentJobs({ query }) {
      const page = await listPage(service, query, { newestFirst: true });
      if ("problem" in page) return { status: 400, body: page.problem };
      const body: { jobs: Job[]; next?: string } = { jobs: page.jobs.map(toJob) };
      if (page.next) body.next = `${basePath}/admin/jobs?${page.next}`;
      return { status: 200, body };
    },

    async inspectJob({ params }) {
      const job = await service.get(params.id);
      return job ? { status: 200, body: toJob(job) } : { status: 404, body: notFound(params.id) };
    },

    async rerunJob({ params, auth }) {
      const r = await service.rerun(params.id, adminName(auth.principal));
      if (r.kind === "not-found") return { status: 404, body: notFound(params.id) };
      if (r.kind === "lost") return { status: 409, body: conflict(`the job is ${r.job.status}: only FAILED or CANCELLED jobs are run again`) };
      return { status: 200, body: toJob(r.job) };
    },

    async redriveJobs({ body, auth }) {
      const r = await service.redrive({ name: body.name, status: body.status ?? "FAILED", limit: body.limit ?? 100 }, adminName(auth.principal));
      return { status: 200, body: { rerun: r.ids.length, more: r.more } };
    },

    async listPausedNames() {
      return { status: 200, body: { names: (await service.paused()).map(pausedName) } };
    },

    async pauseName({ params, auth }) {
      return { status: 200, body: pausedName(await service.pause(params.name, adminName(auth.principal))) };
    },

    async resumeName({ params }) {
      await service.resume(params.name);
      return { status: 204 };
    },

    async getQueueOverview({ headers, query }, ctx) {
      const wait = Math.min(preferredWait(headers.prefer) ?? 0, opts.longPollMaxSeconds);
      if (wait > 0) {
        await service.waitForAnyChange(wait * 1000, ctx.signal, query.seen);
      }
      // Read before the queue, so that a change during the read shows as unseen next time.
      const changes = service.changes;
      const now = await opts.queue.now();
      const iso = (ms: number) => new Date(ms).toISOString();
      const sample = (s: QueueSample) => ({
        at: iso(s.at),
        queues: s.queues,
        ended: s.ended,
        outbox: s.outbox,
        ...(s.claimLatency && { claimLatency: { count: s.claimLatency.count, p50Ms: Math.round(s.claimLatency.p50), p99Ms: Math.round(s.claimLatency.p99) } }),
      });
      return {
        status: 200,
        body: {
          now: { at: iso(Date.now()), queues: now.queues, outbox: now.outbox },
          intervalSeconds: opts.queue.intervalMs / 1000,
          changes,
          samples: opts.queue.history().map(sample),
        },
      };
    },

    async createJob({ body, headers, auth }, ctx) {
      const caller = auth.principal;
      const wait = opts.createLimit?.take(caller.open ? `address ${ctx.remoteAddress}` : caller.name);
      if (wait !== undefined) {
        return {
          status: 429,
          headers: { "Retry-After": wait },
          body: { type: "about:blank", title: "Too Many Requests", status: 429, detail: `this caller creates jobs faster than the server allows; retry in ${wait} s` },
        };
      }
      if (body?.singletonMode !== undefined && body.singletonKey === undefined) return { status: 400, body: invalid("body/singletonMode", "needs singletonKey") };
      if (body?.onDependencyFailure !== undefined && body.dependsOn === undefined) return { status: 400, body: invalid("body/onDependencyFailure", "needs dependsOn") };
      if (body?.dependsOn !== undefined && body.singletonKey !== undefined) return { status: 400, body: invalid("body/dependsOn", "give dependsOn or singletonKey, not both") };
      if (body?.runAt !== undefined && body.delaySeconds !== undefined) return { status: 400, body: invalid("body/delaySeconds", "give runAt or delaySeconds, not both") };
      if (body?.runAt !== undefined && Date.parse(body.runAt) - Date.now() > MAX_DELAY_MS) return { status: 400, body: invalid("body/runAt", "must be at most a year ahead") };
      if (body?.callbackUrl !== undefined) {
        const why = opts.callbacks ? callbackUrlProblem(body.callbackUrl, opts.callbacks) : "completion push is not enabled on this server";
        if (why) return { status: 400, body: invalid("body/callbackUrl", why) };
      }
      const r = await service.create(body, headers["idempotency-key"], caller.open ? undefined : caller.name, opts.tracing.traceparentOf(ctx.req));
      if (r.kind === "unknown-dependency") {
        return { status: 400, body: invalid(`body/dependsOn/${r.index}`, `is no job of this client: ${body!.dependsOn![r.index]}`) };
      }
      if (r.kind === "key-conflict") {
        return {
          status: 422,
          body: {
            type: "about:blank",
            title: "Unprocessable Content",
            status: 422,
            detail: "this Idempotency-Key was used before with a different request body",
            errors: [{ field: "headers/idempotency-key", pointer: "#", detail: "was used with a different body" }],
          },
        };
      }
      const href = jobPath(r.job.id);
      const singleton = body?.singletonKey === undefined ? undefined : r.kind === "joined" || r.kind === "replaced" ? r.kind : "created";
      return { status: 202, headers: { Location: href, "Retry-After": opts.retryAfterSeconds }, body: { id: r.job.id, href, ...(singleton && { singleton }) } };
    },

    async getJob({ params, headers, auth }, ctx) {
      let job = await visibleJob(params.id, auth.principal);
      if (!job) return { status: 404, body: notFound(params.id) };
      const wait = Math.min(preferredWait(headers.prefer) ?? 0, opts.longPollMaxSeconds);
      if (job.status === IN_PROGRESS && wait > 0) {
        // Held until the job changes, the time runs out, or the client goes away.
        job = await service.waitForChange(job, wait * 1000, ctx.signal);
        if (!job) return { status: 404, body: notFound(params.id) };
      }
      switch (job.status) {
        case "SUCCESS":
          return { status: 303, headers: { Location: `${jobPath(job.id)}/result` }, body: toJob(job) };
        case "FAILED":
          return { status: 500, body: toJob(job) };
        case IN_PROGRESS:
          return { status: 200, headers: { "Retry-After": opts.retryAfterSeconds }, body: toJob(job) };
        default:
          return { status: 200, body: toJob(job) };
      }
    },

    async cancelJob({ params, auth }) {
      if (ownerFilter(auth.principal) !== undefined && !(await visibleJob(params.id, auth.principal))) return { status: 404, body: notFound(params.id) };
      const r = await service.cancel(params.id, auth.principal.open ? undefined : auth.principal.name);
      if (r.kind === "not-found") return { status: 404, body: notFound(params.id) };
      if (r.kind === "conflict") return { status: 409, body: conflict(r.reason, r.type) };
      return { status: 200, body: toJob(r.job) };
    },

    async listJobEvents({ params, query, auth }) {
      if (!(await visibleJob(params.id, auth.principal))) return { status: 404, body: notFound(params.id) };
      let after = 0;
      try {
        if (query.cursor !== undefined) after = decodeCursor(query.cursor);
      } catch (e) {
        if (e instanceof BadCursorError) return { status: 400, body: invalid("query/cursor", "is not a cursor this server issued") };
        throw e;
      }
      const page = await service.events(params.id, after, query.limit);
      const body: { events: JobEvent[]; next?: string } = { events: page.events.map(toEvent) };
      if (page.next !== undefined) body.next = `${jobPath(params.id)}/events?${new URLSearchParams({ cursor: encodeCursor(page.next), limit: String(query.limit) })}`;
      return { status: 200, body };
    },

    async claimTasks({ body, headers }, ctx) {
      const wait = Math.min(preferredWait(headers.prefer) ?? 0, opts.longPollMaxSeconds);
      const gone = wait > 0 ? ctx.signal : undefined;
      const jobs = await service.claim({ worker: body.worker, names: body.names, max: body.max ?? 1, leaseSeconds: body.leaseSeconds ?? 30 }, wait * 1000, gone);
      // The worker went away while its claim was held: nobody would work on these.
      if (gone?.aborted && jobs.length) {
        await Promise.all(jobs.map((j) => service.giveBack(j)));
        return { status: 200, body: { tasks: [] } };
      }
      const parents = jobs.some((j) => j.dependsOn) ? await service.dependencies(jobs) : undefined;
      return { status: 200, body: { tasks: jobs.map((j) => toTask(j, opts.tracing.claimed(j, body.worker), parents)) } };
    },

    async getJobResult({ params, auth }) {
      const job = await visibleJob(params.id, auth.principal);
      if (!job) return { status: 404, body: notFound(params.id) };
      if (job.status !== "SUCCESS") {
        return { status: 404, body: { ...notFound(params.id), detail: `job ${job.id} has no result: it is ${job.status}` } };
      }
      return { status: 200, body: job.result ?? null };
    },

    updateTask({ params, body }) {
      return applyUpdate(params.id, body);
    },

    async reportTaskOutcomes({ body }) {
      const seen = new Map<string, number>();
      for (const [i, o] of body.outcomes.entries()) {
        const first = seen.get(o.id);
        if (first !== undefined) return { status: 400, body: invalid(`body/outcomes/${i}/id`, `names the same job as body/outcomes/${first}/id: each job at most once`) };
        seen.set(o.id, i);
      }
      // Each on its own, all at once: the stores share their round trips within the turn.
      const results = await Promise.all(
        body.outcomes.map(async ({ id, ...update }, i): Promise<TaskOutcomeResult> => {
          const r = await applyUpdate(id, update, `body/outcomes/${i}`);
          return r.status === 200 ? { id, status: 200, updated: r.body } : { id, status: r.status, problem: r.body };
        }),
      );
      return { status: 200, body: { results } };
    },
  };

  /** PUT /tasks/{id}'s answer, for one job (`at`: where its body is, for a 400's field). */
  async function applyUpdate(id: string, body: TaskUpdate | null | undefined, at = "body") {
    let r;
    try {
      r = await service.update(id, body);
    } catch (e) {
      if (e instanceof InvalidUpdateError) return { status: 400 as const, body: invalid(e.field.replace(/^body/, at), e.message) };
      throw e;
    }
    if (r.kind === "not-found") return { status: 404 as const, body: notFound(id) };
    if (r.kind === "conflict") return { status: 409 as const, body: conflict(r.reason, r.type) };
    const updated: TaskUpdated = { status: "UPDATED" };
    // A heartbeat that extended the lease says until when.
    if (r.job.status === IN_PROGRESS && body?.leaseToken !== undefined && r.job.lease?.token === body.leaseToken && r.job.lease.expiresAt > 0) {
      updated.leaseExpiresAt = new Date(r.job.lease.expiresAt).toISOString();
    }
    if (r.retryAt !== undefined) updated.retryAt = new Date(r.retryAt).toISOString();
    return { status: 200 as const, body: updated };
  }
}
