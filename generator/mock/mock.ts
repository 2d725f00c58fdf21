// ramlgen mock: serves any RAML spec from its examples, through the same router runtime and
// validation as generated code. `Prefer: code=303` or `Prefer: example=name` chooses among
// the declared responses (default: the first 2xx). For an API that follows the async job
// pattern (a POST answering 202 with Location, a status resource answering 200/303) the mock
// keeps jobs in memory: they advance when their backend callback is called (or after a
// delay) and can be cancelled, so the whole lifecycle can be walked against the spec alone.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { ValidateFunction } from "ajv";
import type { ApiModel, Operation, Param, SecurityScheme } from "../model/model.js";
import { routeTable } from "../emit/emit.js";
import { firstValid, MockValues, type ValueChoice } from "./mock-values.js";
import { mockListener, mockRouterHooks, type Verdicts } from "./http.js";
import { HttpProblem, nodeRouter, problem, type AuthRequest, type Authenticator, type BodyDef, type HandlerContext, type RouteDef } from "../runtime/index.js";
import type { ValidatorKind, ValidatorSet } from "../schema/validators.js";

export interface MockOptions {
  port?: number | undefined;
  host?: string | undefined;
  /** Answer CORS, allowing the request's origin (default on). */
  cors?: boolean | undefined;
  /** Where each request's line goes (default: standard output; a no-op silences it). */
  log?: ((line: string) => void) | undefined;
  /** Jobs of the async pattern succeed by themselves after this many ms (0: only via the callback). */
  advanceAfterMs?: number | undefined;
}

interface MockJob {
  id: string;
  status: "IN PROGRESS" | "SUCCESS" | "FAILED" | "CANCELLED";
  start: string;
  end: string;
  result?: unknown;
  timer?: NodeJS.Timeout | undefined;
}

/** The operations that make up the async job pattern, when the spec has it. */
interface JobPattern {
  create: Operation;
  status: Operation;
  /** `/collection/{id}` as a prefix for Location. */
  collection: string;
  cancel?: Operation | undefined;
  callback?: Operation | undefined;
  result?: Operation | undefined;
}

function findPattern(model: ApiModel): JobPattern | undefined {
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

/**
 * A CRUD-shaped collection: a POST on P answering 201, with the list (GET P) and item
 * operations on P/{id} (GET, PUT, PATCH, DELETE) that exist.
 */
interface Collection {
  path: string;
  create: Operation;
  list?: Operation | undefined;
  get?: Operation | undefined;
  put?: Operation | undefined;
  patch?: Operation | undefined;
  remove?: Operation | undefined;
}

function findCollections(model: ApiModel, pattern: JobPattern | undefined): Collection[] {
  const out: Collection[] = [];
  for (const create of model.operations) {
    if (create.method !== "post" || create === pattern?.create || !create.responses.some((r) => r.status === 201)) continue;
    const itemOf = (method: string) =>
      model.operations.find((o) => o.method === method && o.uriParams.length > create.uriParams.length && /^\/\{[^/}]+\}$/.test(o.path.slice(create.path.length)) && o.path.startsWith(`${create.path}/`));
    const c: Collection = { path: create.path, create };
    const list = model.operations.find((o) => o.method === "get" && o.path === create.path);
    if (list) c.list = list;
    for (const [key, method] of [["get", "get"], ["put", "put"], ["patch", "patch"], ["remove", "delete"]] as const) {
      const op = itemOf(method);
      if (op) c[key] = op;
    }
    if (c.list || c.get) out.push(c);
  }
  return out;
}

type Respond = (op: Operation, ctx: HandlerContext, wanted?: number, patch?: (body: unknown) => unknown, first?: unknown[]) => unknown;
type MockHandler = (req: { params: Record<string, string>; headers: Record<string, unknown>; body?: unknown }, ctx: HandlerContext) => unknown;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Keeps a collection's items in memory: POST stores the body (under its `id`, or a new one it
 * is given), GET answers it and lists them, PUT replaces, PATCH merges, DELETE removes. Each
 * answer still has to pass the spec: state that does not fit falls back to the spec's values.
 */
function serveCollection(c: Collection, handlers: Record<string, MockHandler>, respond: Respond, notFound: (op: Operation, req: unknown, ctx: HandlerContext) => unknown): void {
  const items = new Map<string, unknown>();
  // `Prefer: code=N` (or example=, dynamic=) asks for a declared answer as it is, whatever the state.
  const asked = (ctx: HandlerContext) => /\b(?:code|example|dynamic)\s*=/.test(String(ctx.headers["prefer"] ?? ""));
  const keyOf = (op: Operation, req: { params: Record<string, string> }) => req.params[op.uriParams[op.uriParams.length - 1]!.name]!;
  const withLocation = (out: unknown, key: string) => {
    const headers = (out as { headers?: Record<string, unknown> }).headers ?? {};
    for (const k of Object.keys(headers)) if (k.toLowerCase() === "location") headers[k] = `${c.path}/${encodeURIComponent(key)}`;
    return out;
  };
  handlers[c.create.name] = (req, ctx) => {
    if (asked(ctx)) return respond(c.create, ctx);
    const given = req.body;
    const id = isObject(given) && (typeof given["id"] === "string" || typeof given["id"] === "number") ? String(given["id"]) : randomUUID();
    const stored = isObject(given) && given["id"] === undefined ? { ...given, id } : given;
    items.set(id, stored);
    return withLocation(respond(c.create, ctx, 201, undefined, [stored, given]), id);
  };
  if (c.list) handlers[c.list.name] = (_req, ctx) => (asked(ctx) ? respond(c.list!, ctx) : respond(c.list!, ctx, 200, undefined, [[...items.values()]]));
  if (c.get) {
    const op = c.get;
    handlers[op.name] = (req, ctx) => (asked(ctx) ? respond(op, ctx) : items.has(keyOf(op, req)) ? respond(op, ctx, 200, undefined, [items.get(keyOf(op, req))]) : notFound(op, req, ctx));
  }
  for (const op of [c.put, c.patch]) {
    if (!op) continue;
    handlers[op.name] = (req, ctx) => {
      if (asked(ctx)) return respond(op, ctx);
      const key = keyOf(op, req);
      const old = items.get(key);
      if (old === undefined && op.responses.some((r) => r.status === 404)) return notFound(op, req, ctx);
      const next = op.method === "patch" && isObject(old) && isObject(req.body) ? { ...old, ...req.body } : req.body;
      items.set(key, next);
      return respond(op, ctx, undefined, undefined, [next]);
    };
  }
  if (c.remove) {
    const op = c.remove;
    handlers[op.name] = (req, ctx) => (asked(ctx) ? respond(op, ctx) : items.delete(keyOf(op, req)) ? respond(op, ctx) : notFound(op, req, ctx));
  }
}

function preferences(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (header ?? "").matchAll(/([\w-]+)\s*=\s*("([^"]*)"|[^,;\s]+)/g)) out[m[1]!.toLowerCase()] = (m[3] ?? m[2])!;
  return out;
}

function* map<T, U>(items: Iterable<T>, f: (t: T) => U): Generator<U> {
  for (const t of items) yield f(t);
}

function* concat<T>(a: Iterable<T>, b: Iterable<T>): Generator<T> {
  yield* a;
  yield* b;
}

const describe = (errors: { instancePath: string; message?: string | undefined }[] | null | undefined) => (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");

/** Builds the route table with validators compiled in memory. */
function routes(model: ApiModel, validators: ValidatorSet): RouteDef[] {
  const defs: Record<string, never> = {};
  for (const t of model.types) (defs as Record<string, unknown>)[t.name] = t.schema;
  return model.operations.map((op) => {
    const t = routeTable(op, defs);
    const v = (kind: ValidatorKind, id?: string) => (id ? validators.compiled(kind, id) : undefined);
    const bodies = (list: { mediaType: string; parse: string; validate?: string | undefined; validateKind?: ValidatorKind; form?: unknown }[], kind: ValidatorKind) =>
      Object.fromEntries(list.map((b) => [b.mediaType, { parse: b.parse, validate: v(b.validateKind ?? kind, b.validate), ...(b.form ? { form: b.form } : {}) } as BodyDef]));
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
      listHeaders: t.listHeaders,
      security: t.security,
      responses: Object.fromEntries(t.responses.map((r) => [r.status, { validateHeaders: v("responses", r.validateHeaders), bodies: bodies(r.bodies, "responses") }])),
      undeclaredResponses: t.undeclaredResponses,
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
      const viaAuthorization = prefix[s.type] ? prefix[s.type]!.test(authorization) : authorization !== "" && (s.headers.some((h) => h.name.toLowerCase() === "authorization") || (!s.headers.length && !s.query.length));
      return declared || viaAuthorization ? { mock: true, scheme: s.name } : undefined;
    };
  }
  return out;
}

export async function startMock(model: ApiModel, validators: ValidatorSet, opts: MockOptions = {}): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const pattern = findPattern(model);
  const jobs = new Map<string, MockJob>();
  const now = () => new Date().toISOString();

  const values = new MockValues(model);
  const table = routes(model, validators);
  const defOf = new Map(table.map((d) => [d.operation, d]));
  const exact = new Map<unknown, ValidateFunction>();
  const headerCheck = (h: Param) => {
    let v = exact.get(h.schema);
    if (!v) exact.set(h.schema, (v = validators.exact(h.schema)));
    return v;
  };

  /**
   * The answer of `op` (the declared status `wanted`, else `Prefer: code=`, else its first 2xx)
   * built from the first candidate values that pass the spec's own validators; `patch` adapts
   * a body to the mock's state first. A mock that cannot answer validly says why, as a 500.
   */
  const respond = (op: Operation, ctx: HandlerContext, wanted?: number, patch?: (body: unknown) => unknown, first: unknown[] = []) => {
    const prefer = preferences(String(ctx.headers["prefer"] ?? ""));
    const choice: ValueChoice = { ...(prefer["example"] ? { example: prefer["example"] } : {}), dynamic: prefer["dynamic"] === "true" };
    const code = wanted ?? (prefer["code"] ? Number(prefer["code"]) : undefined);
    const r =
      (code !== undefined ? op.responses.find((x) => x.status === code) : undefined) ??
      op.responses.find((x) => x.status >= 200 && x.status < 300) ??
      op.responses[0];
    if (!r) return { status: 200 }; // the spec declares no answer: a plain 200
    const cannot = (why: string) => {
      throw new HttpProblem(problem(500, `the mock of ${op.name} (${op.method.toUpperCase()} ${op.path}) cannot produce a valid ${r.status} answer: ${why}`, { type: "urn:ramlgen:mock:no-valid-answer" }));
    };
    const headers: Record<string, unknown> = {};
    for (const h of r.headers) {
      // Optional headers are sent when the spec gives them a value.
      if (!h.required && !values.declaresValue(h)) continue;
      const check = headerCheck(h);
      const picked = firstValid(values.header(h, choice), (v) => (check(v) ? undefined : describe(check.errors)));
      if ("error" in picked) cannot(`header ${h.name}: ${picked.error}`);
      else headers[h.name] = picked.value;
    }
    const out: Record<string, unknown> = { status: r.status, headers };
    const body = r.bodies[0];
    if (body) {
      const validate = defOf.get(op.name)!.responses[r.status]?.bodies[body.mediaType]?.validate;
      // `first`: the mock's own state (a stored item, say), tried before the spec's values.
      const candidates = concat(first, map(values.body(body, choice), (v) => (patch ? patch(v) : v)));
      const picked = firstValid(candidates, (v) => (v === undefined ? "no value" : !validate || validate(v) ? undefined : describe(validate.errors)));
      if ("error" in picked) cannot(`body: ${picked.error}`);
      else {
        out["contentType"] = body.mediaType;
        out["body"] = picked.value;
      }
    }
    return out;
  };

  const jobView = (job: MockJob, template: unknown) => {
    const base = template && typeof template === "object" && !Array.isArray(template) ? (template as Record<string, unknown>) : {};
    const view: Record<string, unknown> = { ...base, id: job.id, href: `${pattern!.collection}/${job.id}`, status: job.status, start: job.start, end: job.end };
    delete view["error"];
    delete view["result"];
    if (job.status === "SUCCESS" && "result" in job) view["result"] = job.result;
    if (job.status === "FAILED") view["error"] = { type: "urn:ramlgen:mock:job-failed", title: "The job failed" };
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

  const handlers: Record<string, MockHandler> = {};
  for (const op of model.operations) handlers[op.name] = (_req, ctx) => respond(op, ctx);

  const notFound = (op: Operation, _req: unknown, ctx: HandlerContext) => (op.responses.some((r) => r.status === 404) ? respond(op, ctx, 404) : respond(op, ctx));
  for (const c of findCollections(model, pattern)) serveCollection(c, handlers, respond, notFound);

  if (pattern) {
    const byId = (op: Operation, req: { params: Record<string, string> }) => jobs.get(req.params[op.uriParams[0]!.name]!);
    handlers[pattern.create.name] = (_req, ctx) => {
      const job: MockJob = { id: randomUUID(), status: "IN PROGRESS", start: now(), end: "" };
      jobs.set(job.id, job);
      if (opts.advanceAfterMs) job.timer = setTimeout(() => end(job, "SUCCESS"), opts.advanceAfterMs).unref();
      const href = `${pattern.collection}/${job.id}`;
      const out = respond(pattern.create, ctx, 202, (ex) => (ex && typeof ex === "object" ? { ...ex, id: job.id, href } : { id: job.id, href })) as {
        headers: Record<string, unknown>;
      };
      for (const k of Object.keys(out.headers)) if (k.toLowerCase() === "location") out.headers[k] = href;
      return out;
    };
    handlers[pattern.status.name] = (req, ctx) => {
      const job = byId(pattern.status, req);
      if (!job) return notFound(pattern.status, req, ctx);
      const code = job.status === "SUCCESS" ? 303 : job.status === "FAILED" && pattern.status.responses.some((r) => r.status === 500) ? 500 : 200;
      const out = respond(pattern.status, ctx, code, (ex) => jobView(job, ex)) as { headers: Record<string, unknown> };
      if (code === 303) {
        const target = pattern.result ? pattern.result.path.replace(`{${pattern.result.uriParams[0]!.name}}`, job.id) : `${pattern.collection}/${job.id}`;
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
        if (!end(job, "CANCELLED") && job.status !== "CANCELLED" && op.responses.some((r) => r.status === 409)) return respond(op, ctx, 409);
        return respond(op, ctx, 200, (ex) => jobView(job, ex));
      };
    }
    if (pattern.result) {
      const op = pattern.result;
      handlers[op.name] = (req, ctx) => {
        const job = byId(op, req);
        if (!job || job.status !== "SUCCESS") return notFound(op, req, ctx);
        return respond(op, ctx, 200, () => job.result ?? null);
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
        if (!onlyProgress && !end(job, to, body.result) && job.status !== to && op.responses.some((r) => r.status === 409)) return respond(op, ctx, 409);
        return respond(op, ctx, 200);
      };
    }
  }

  const schemes = Object.fromEntries(model.securitySchemes.map((sc) => [sc.name, { type: sc.type, challenge: sc.challenge }]));
  const http = { cors: opts.cors ?? true, log: opts.log };
  const verdicts: Verdicts = { answerInvalid: new WeakMap(), operation: new WeakMap() };
  // The router on plain node:http: it answers other paths 404 problem+json by itself.
  const router = nodeRouter(table, handlers as never, {
    // Every answer is checked once more as it leaves: nothing the spec does not allow gets out.
    validateResponses: true,
    security: presenceAuthenticators(model.securitySchemes),
    ...mockRouterHooks(model, http, verdicts),
  }, schemes);
  const server = createServer(mockListener(model, table, router, http, verdicts));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 4010, opts.host ?? "127.0.0.1", resolve);
  });
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
