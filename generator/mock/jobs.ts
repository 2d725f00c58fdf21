// The async request-reply pattern in the mock: a POST answering 202 with Location creates a
// job; its status resource answers 200 while it runs, 303 to the result when it succeeded,
// 500 when it failed; DELETE cancels; the backend's callback (PUT or POST on another path)
// finishes it, or it succeeds by itself after a delay. Jobs are part of the mock's state.
import { randomUUID } from "node:crypto";
import type { ApiModel, Operation } from "../model/model.js";
import type { HandlerContext } from "../runtime/index.js";
import type { MockHandler, MockRequest, Respond } from "./collections.js";
import type { MockJob, MockState } from "./state.js";

/** The operations that make up the async job pattern, when the spec has it. */
export interface JobPattern {
  create: Operation;
  status: Operation;
  /** `/collection/{id}` as a prefix for Location. */
  collection: string;
  cancel?: Operation | undefined;
  callback?: Operation | undefined;
  result?: Operation | undefined;
}

export function findPattern(model: ApiModel): JobPattern | undefined {
  const create = model.operations.find((o) => o.method === "post" && o.responses.some((r) => r.status === 202 && r.headers.some((h) => h.name.toLowerCase() === "location")));
  if (!create) return undefined;
  const status = model.operations.find(
    (o) => o.method === "get" && o.uriParams.length === 1 && o.path === `${create.path}/{${o.uriParams[0]!.name}}` && o.responses.some((r) => r.status === 303),
  );
  if (!status) return undefined;
  const cancel = model.operations.find((o) => o.method === "delete" && o.path === status.path);
  // The result: a GET below the status resource; the one the 303's Location example points at
  // when there are several (a job may have /result and /events, say).
  const below = model.operations.filter((o) => o.method === "get" && o.uriParams.length === 1 && o.path.startsWith(`${status.path}/`));
  const location = status.responses.find((r) => r.status === 303)?.headers.find((h) => h.name.toLowerCase() === "location")?.examples[0]?.value;
  const last = (p: string) => p.slice(p.lastIndexOf("/"));
  const result = (typeof location === "string" && below.find((o) => last(o.path) === last(location))) || below[0];
  const callback = model.operations.find((o) => (o.method === "put" || o.method === "post") && o.uriParams.length === 1 && !o.path.startsWith(create.path));
  return { create, status, collection: create.path, cancel, callback, result };
}

export interface JobKit {
  state: MockState;
  respond: Respond;
  notFound(op: Operation, ctx: HandlerContext, detail: string): unknown;
  changed(): void;
  /** Jobs succeed by themselves after this many ms (0: only through the callback). */
  advanceAfterMs: number;
}

const setHeader = (out: unknown, name: string, value: string | undefined) => {
  const headers = (out as { headers?: Record<string, unknown> }).headers ?? {};
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name) value === undefined ? delete headers[k] : (headers[k] = value);
};

export class Jobs {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly p: JobPattern,
    private readonly kit: JobKit,
  ) {}

  install(handlers: Record<string, MockHandler>): void {
    const { p, kit } = this;
    handlers[p.create.name] = (_req, ctx) => {
      const job: MockJob = { id: randomUUID(), status: "IN PROGRESS", start: now(), end: "" };
      kit.state.jobs.set(job.id, job);
      this.arm(job);
      kit.changed();
      const href = `${p.collection}/${job.id}`;
      const out = kit.respond(p.create, ctx, 202, (ex) => (ex && typeof ex === "object" ? { ...ex, id: job.id, href } : { id: job.id, href }));
      setHeader(out, "location", href);
      return out;
    };
    handlers[p.status.name] = (req, ctx) => {
      const job = this.byId(p.status, req);
      if (!job) return this.missing(p.status, req, ctx);
      const code = job.status === "SUCCESS" ? 303 : job.status === "FAILED" && p.status.responses.some((r) => r.status === 500) ? 500 : 200;
      const out = kit.respond(p.status, ctx, code, (ex) => this.view(job, ex));
      if (code === 303) setHeader(out, "location", p.result ? p.result.path.replace(`{${p.result.uriParams[0]!.name}}`, job.id) : `${p.collection}/${job.id}`);
      if (job.status !== "IN PROGRESS") setHeader(out, "retry-after", undefined);
      return out;
    };
    if (p.cancel) {
      const op = p.cancel;
      handlers[op.name] = (req, ctx) => {
        const job = this.byId(op, req);
        if (!job) return this.missing(op, req, ctx);
        if (!this.end(job, "CANCELLED") && job.status !== "CANCELLED" && op.responses.some((r) => r.status === 409)) return kit.respond(op, ctx, 409);
        return kit.respond(op, ctx, 200, (ex) => this.view(job, ex));
      };
    }
    if (p.result) {
      const op = p.result;
      handlers[op.name] = (req, ctx) => {
        const job = this.byId(op, req);
        if (!job || job.status !== "SUCCESS") return this.missing(op, req, ctx);
        return kit.respond(op, ctx, 200, () => job.result ?? null);
      };
    }
    if (p.callback) {
      const op = p.callback;
      handlers[op.name] = (req, ctx) => {
        const job = this.byId(op, req);
        if (!job) return this.missing(op, req, ctx);
        const body = (req.body ?? {}) as { status?: string; result?: unknown; progress?: number };
        const onlyProgress = Object.keys(body).length === 1 && body.progress !== undefined;
        const to = body.status === "FAILED" ? "FAILED" : "SUCCESS";
        if (!onlyProgress && !this.end(job, to, body.result) && job.status !== to && op.responses.some((r) => r.status === 409)) return kit.respond(op, ctx, 409);
        return kit.respond(op, ctx, 200);
      };
    }
  }

  /** Re-arms the jobs of a state read from its file. */
  resume(): void {
    for (const job of this.kit.state.jobs.values()) this.arm(job);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private arm(job: MockJob): void {
    if (!this.kit.advanceAfterMs || job.status !== "IN PROGRESS") return;
    this.timers.set(
      job.id,
      setTimeout(() => {
        if (this.end(job, "SUCCESS")) this.kit.changed();
      }, this.kit.advanceAfterMs).unref(),
    );
  }

  private byId(op: Operation, req: MockRequest): MockJob | undefined {
    return this.kit.state.jobs.get(String(req.params[op.uriParams[0]!.name]));
  }

  private missing(op: Operation, req: MockRequest, ctx: HandlerContext): unknown {
    return this.kit.notFound(op, ctx, `there is no job ${String(req.params[op.uriParams[0]!.name])}`);
  }

  private view(job: MockJob, template: unknown): Record<string, unknown> {
    const base = template && typeof template === "object" && !Array.isArray(template) ? (template as Record<string, unknown>) : {};
    const view: Record<string, unknown> = { ...base, id: job.id, href: `${this.p.collection}/${job.id}`, status: job.status, start: job.start, end: job.end };
    delete view["error"];
    delete view["result"];
    if (job.status === "SUCCESS" && "result" in job) view["result"] = job.result;
    if (job.status === "FAILED") view["error"] = { type: "urn:ramlgen:mock:job-failed", title: "The job failed" };
    return view;
  }

  private end(job: MockJob, status: MockJob["status"], result?: unknown): boolean {
    if (job.status !== "IN PROGRESS") return false;
    clearTimeout(this.timers.get(job.id));
    this.timers.delete(job.id);
    job.status = status;
    job.end = now();
    if (status === "SUCCESS") job.result = result ?? null;
    this.kit.changed();
    return true;
  }
}

const now = () => new Date().toISOString();
