// The job semantics of the service, in memory and without validation, shared by the peer
// servers the benchmark compares against (same routes, same statuses, same bodies).
import { randomBytes } from "node:crypto";

export class MemoryJobs {
  jobs = new Map();
  order = [];

  create(request) {
    const id = randomBytes(16).toString("base64url");
    const job = { id, href: `/resources/${id}`, status: "IN PROGRESS", start: new Date().toISOString(), end: "", request };
    this.jobs.set(id, job);
    this.order.push(id);
    return job;
  }

  /** The job as the service shows it (same fields, same order). */
  view(job) {
    const r = job.request ?? {};
    const out = { id: job.id, href: job.href, status: job.status };
    if (r.name !== undefined) out.name = r.name;
    out.priority = r.priority ?? 0;
    out.tags = r.tags ?? [];
    if (r.input !== undefined) out.input = r.input;
    out.attempts = 0;
    out.maxAttempts = r.maxAttempts ?? 3;
    out.start = job.start;
    out.end = job.end;
    if (job.status === "SUCCESS") out.result = job.result ?? null;
    return out;
  }

  /** [status, headers, body] for GET /resources/:id */
  poll(id) {
    const job = this.jobs.get(id);
    if (!job) return [404, {}, { type: "about:blank", title: "Not Found", status: 404 }];
    if (job.status === "SUCCESS") return [303, { Location: `/resources/${id}/result` }, this.view(job)];
    if (job.status === "FAILED") return [500, {}, this.view(job)];
    if (job.status === "IN PROGRESS") return [200, { "Retry-After": "1" }, this.view(job)];
    return [200, {}, this.view(job)];
  }

  cancel(id) {
    const job = this.jobs.get(id);
    if (!job) return [404, { type: "about:blank", title: "Not Found", status: 404 }];
    if (job.status === "IN PROGRESS") Object.assign(job, { status: "CANCELLED", end: new Date().toISOString() });
    if (job.status !== "CANCELLED") return [409, { type: "about:blank", title: "Conflict", status: 409 }];
    return [200, this.view(job)];
  }

  update(id, body) {
    const job = this.jobs.get(id);
    if (!job) return [404, { type: "about:blank", title: "Not Found", status: 404 }];
    const to = body?.status ?? "SUCCESS";
    if (job.status === "IN PROGRESS") Object.assign(job, { status: to, end: new Date().toISOString(), result: body?.result ?? null });
    else if (job.status !== to) return [409, { type: "about:blank", title: "Conflict", status: 409 }];
    return [200, { status: "UPDATED" }];
  }

  list(limit = 20) {
    return { tasks: this.order.slice(0, limit).map((id) => ({ id, href: `/resources/${id}` })) };
  }
}
