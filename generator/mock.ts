// ramlgen mock: serves any RAML spec from its examples, through the same router runtime and
// validation as generated code. `Prefer: code=303` or `Prefer: example=name` chooses among
// the declared responses (default: the first 2xx). For an API that follows the async job
// pattern (a POST answering 202 with Location, a status resource answering 200/303) the mock
// keeps jobs in memory: they advance when their backend callback is called (or after a
// delay) and can be cancelled, so the whole lifecycle can be walked against the spec alone.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { ApiModel, Body, Operation, Response, SecurityScheme } from "./model.js";
import { routeTable } from "./emit.js";
import { jsonExampleValue } from "./examples.js";
import { buildRouter, type AuthRequest, type Authenticator, type BodyDef, type HandlerContext, type RouteDef } from "./runtime/runtime.js";
import { isJsonMedia, type ValidatorKind, type ValidatorSet } from "./validators.js";

export interface MockOptions {
  port?: number;
  host?: string;
  /** Jobs of the async pattern succeed by themselves after this many ms (0: only via the callback). */
  advanceAfterMs?: number;
}

interface MockJob {
  id: string;
  status: "IN PROGRESS" | "SUCCESS" | "FAILED" | "CANCELLED";
  start: string;
  end: string;
  result?: unknown;
  timer?: NodeJS.Timeout;
}

/** The operations that make up the async job pattern, when the spec has it. */
interface JobPattern {
  create: Operation;
  status: Operation;
  /** `/collection/{id}` as a prefix for Location. */
  collection: string;
  cancel?: Operation;
  callback?: Operation;
  result?: Operation;
}

function findPattern(model: ApiModel): JobPattern | undefined {
  const create = model.operations.find((o) => o.method === "post" && o.responses.some((r) => r.status === 202 && r.headers.some((h) => h.name.toLowerCase() === "location")));
  if (!create) return undefined;
  const status = model.operations.find(
    (o) => o.method === "get" && o.uriParams.length === 1 && o.path === `${create.path}/{${o.uriParams[0].name}}` && o.responses.some((r) => r.status === 303),
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

function preferences(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (header ?? "").matchAll(/([\w-]+)\s*=\s*("([^"]*)"|[^,;\s]+)/g)) out[m[1].toLowerCase()] = m[3] ?? m[2];
  return out;
}

function exampleOf(body: Body | undefined, name?: string): unknown {
  if (!body) return undefined;
  const ex = (name && body.examples.find((e) => e.name === name)) || body.examples[0];
  if (ex) return isJsonMedia(body.mediaType) ? jsonExampleValue(ex.value) : ex.value;
  return undefined;
}

function headersOf(r: Response): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of r.headers) {
    const ex = h.examples[0]?.value ?? h.default;
    if (ex !== undefined) out[h.name] = ex;
    else if (h.required) out[h.name] = h.schema.type === "integer" || h.schema.type === "number" ? 1 : "example";
  }
  return out;
}

/** Builds the route table with validators compiled in memory. */
function routes(model: ApiModel, validators: ValidatorSet): RouteDef[] {
  const defs: Record<string, never> = {};
  for (const t of model.types) (defs as Record<string, unknown>)[t.name] = t.schema;
  return model.operations.map((op) => {
    const t = routeTable(op, defs);
    const v = (kind: ValidatorKind, id?: string) => (id ? validators.compiled(kind, id) : undefined);
    const bodies = (list: { mediaType: string; parse: string; validate?: string }[], kind: ValidatorKind) =>
      Object.fromEntries(list.map((b) => [b.mediaType, { parse: b.parse, validate: v(kind, b.validate) } as BodyDef]));
    return {
      operation: t.operation,
      method: t.method,
      path: t.path,
      validateParams: v("params", t.validateParams),
      validateQuery: v("params", t.validateQuery),
      headers: t.headers,
      validateHeaders: v("params", t.validateHeaders),
      bodies: t.bodies ? bodies(t.bodies, "bodies") : undefined,
      bodyOptional: t.bodyOptional,
      numeric: t.numeric,
      security: t.security,
      responses: Object.fromEntries(t.responses.map((r) => [r.status, { validateHeaders: v("responses", r.validateHeaders), bodies: bodies(r.bodies, "responses") }])),
    };
  });
}

/**
 * The mock's authenticators: a scheme is satisfied when the request carries its declared
 * credentials (any value), so a client without them sees the 401 the real API would give.
 */
function presenceAuthenticators(schemes: SecurityScheme[]): Record<string, Authenticator<unknown>> {
  const prefix: Record<string, RegExp> = {
    "Basic Authentication": /^Basic \S/i,
    "Digest Authentication": /^Digest \S/i,
    "OAuth 1.0": /^OAuth \S/i,
    "OAuth 2.0": /^Bearer \S/i,
  };
  const out: Record<string, Authenticator<unknown>> = {};
  for (const s of schemes) {
    out[s.name] = ({ headers, query }: AuthRequest) => {
      const authorization = String(headers.authorization ?? "");
      const declared =
        s.headers.some((h) => h.name.toLowerCase() !== "authorization" && headers[h.name.toLowerCase()] !== undefined) ||
        s.query.some((q) => query[q.name] !== undefined && query[q.name] !== "");
      const viaAuthorization = prefix[s.type] ? prefix[s.type].test(authorization) : authorization !== "" && (s.headers.some((h) => h.name.toLowerCase() === "authorization") || (!s.headers.length && !s.query.length));
      return declared || viaAuthorization ? { mock: true, scheme: s.name } : undefined;
    };
  }
  return out;
}

export async function startMock(model: ApiModel, validators: ValidatorSet, opts: MockOptions = {}): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const pattern = findPattern(model);
  const jobs = new Map<string, MockJob>();
  const now = () => new Date().toISOString();

  const respond = (op: Operation, req: { headers: Record<string, unknown> }, ctx: HandlerContext, wanted?: number, patch?: (body: unknown) => unknown) => {
    const prefer = preferences(String(ctx.req.headers.prefer ?? ""));
    const code = wanted ?? (prefer.code ? Number(prefer.code) : undefined);
    const r =
      (code !== undefined ? op.responses.find((x) => x.status === code) : undefined) ??
      op.responses.find((x) => x.status >= 200 && x.status < 300) ??
      op.responses[0];
    if (!r) return { status: 204 };
    const body = r.bodies[0];
    let value = exampleOf(body, prefer.example);
    if (patch) value = patch(value);
    const out: Record<string, unknown> = { status: r.status, headers: headersOf(r) };
    if (body) {
      out.contentType = body.mediaType;
      out.body = value ?? (isJsonMedia(body.mediaType) ? {} : "");
    }
    void req;
    return out;
  };

  const jobView = (job: MockJob, template: unknown) => {
    const base = template && typeof template === "object" && !Array.isArray(template) ? (template as Record<string, unknown>) : {};
    const view: Record<string, unknown> = { ...base, id: job.id, href: `${pattern!.collection}/${job.id}`, status: job.status, start: job.start, end: job.end };
    delete view.error;
    delete view.result;
    if (job.status === "SUCCESS" && "result" in job) view.result = job.result;
    if (job.status === "FAILED") view.error = { type: "urn:ramlgen:mock:job-failed", title: "The job failed" };
    return view;
  };

  const end = (job: MockJob, status: MockJob["status"], result?: unknown) => {
    if (job.status !== "IN PROGRESS") return false;
    clearTimeout(job.timer);
    job.status = status;
    job.end = now();
    if (status === "SUCCESS") job.result = result ?? null;
    return true;
  };

  type Handler = (req: { params: Record<string, string>; headers: Record<string, unknown>; body?: unknown }, ctx: HandlerContext) => unknown;
  const handlers: Record<string, Handler> = {};
  for (const op of model.operations) handlers[op.name] = (req, ctx) => respond(op, req, ctx);

  if (pattern) {
    const byId = (op: Operation, req: { params: Record<string, string> }) => jobs.get(req.params[op.uriParams[0].name]);
    const notFound = (op: Operation, req: { headers: Record<string, unknown> }, ctx: HandlerContext) =>
      op.responses.some((r) => r.status === 404) ? respond(op, req, ctx, 404) : { status: op.responses[0]?.status ?? 200 };
    handlers[pattern.create.name] = (req, ctx) => {
      const job: MockJob = { id: randomUUID(), status: "IN PROGRESS", start: now(), end: "" };
      jobs.set(job.id, job);
      if (opts.advanceAfterMs) job.timer = setTimeout(() => end(job, "SUCCESS"), opts.advanceAfterMs).unref();
      const href = `${pattern.collection}/${job.id}`;
      const out = respond(pattern.create, req, ctx, 202, (ex) => (ex && typeof ex === "object" ? { ...ex, id: job.id, href } : { id: job.id, href })) as {
        headers: Record<string, unknown>;
      };
      for (const k of Object.keys(out.headers)) if (k.toLowerCase() === "location") out.headers[k] = href;
      return out;
    };
    handlers[pattern.status.name] = (req, ctx) => {
      const job = byId(pattern.status, req);
      if (!job) return notFound(pattern.status, req, ctx);
      const code = job.status === "SUCCESS" ? 303 : job.status === "FAILED" && pattern.status.responses.some((r) => r.status === 500) ? 500 : 200;
      const out = respond(pattern.status, req, ctx, code, (ex) => jobView(job, ex)) as { headers: Record<string, unknown> };
      if (code === 303) {
        const target = pattern.result ? pattern.result.path.replace(`{${pattern.result.uriParams[0].name}}`, job.id) : `${pattern.collection}/${job.id}`;
        for (const k of Object.keys(out.headers)) if (k.toLowerCase() === "location") out.headers[k] = target;
      }
      if (job.status !== "IN PROGRESS") for (const k of Object.keys(out.headers)) if (k.toLowerCase() === "retry-after") delete out.headers[k];
      return out;
    };
    if (pattern.cancel) {
      const op = pattern.cancel;
      handlers[op.name] = (req, ctx) => {
        const job = byId(op, req);
        if (!job) return notFound(op, req, ctx);
        if (!end(job, "CANCELLED") && job.status !== "CANCELLED" && op.responses.some((r) => r.status === 409)) return respond(op, req, ctx, 409);
        return respond(op, req, ctx, 200, (ex) => jobView(job, ex));
      };
    }
    if (pattern.result) {
      const op = pattern.result;
      handlers[op.name] = (req, ctx) => {
        const job = byId(op, req);
        if (!job || job.status !== "SUCCESS") return notFound(op, req, ctx);
        return { ...(respond(op, req, ctx, 200) as object), body: job.result ?? null };
      };
    }
    if (pattern.callback) {
      const op = pattern.callback;
      handlers[op.name] = (req, ctx) => {
        const job = byId(op, req);
        if (!job) return notFound(op, req, ctx);
        const body = (req.body ?? {}) as { status?: string; result?: unknown; progress?: number };
        const onlyProgress = Object.keys(body).length === 1 && body.progress !== undefined;
        const to = body.status === "FAILED" ? "FAILED" : "SUCCESS";
        if (!onlyProgress && !end(job, to, body.result) && job.status !== to && op.responses.some((r) => r.status === 409)) return respond(op, req, ctx, 409);
        return respond(op, req, ctx, 200);
      };
    }
  }

  const schemes = Object.fromEntries(model.securitySchemes.map((sc) => [sc.name, { type: sc.type, challenge: sc.challenge }]));
  // The router on plain node:http: it answers other paths 404 problem+json by itself.
  const server = createServer(buildRouter(routes(model, validators), handlers as never, { validateResponses: false, security: presenceAuthenticators(model.securitySchemes) }, schemes));
  await new Promise<void>((r) => server.listen(opts.port ?? 4010, opts.host ?? "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    server,
    close: () =>
      new Promise<void>((r) => {
        for (const j of jobs.values()) clearTimeout(j.timer);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
