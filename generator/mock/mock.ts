// ramlgen mock: serves any RAML spec before any handler exists, through the same router
// runtime and validation as generated code. It keeps state as the real service would:
// collections (collections.ts: what is created can be read back, listed, changed, deleted),
// the async job pattern (jobs.ts), in a JSON file across restarts with `--state`, and
// `POST /__mock/reset` starts over. Values come from the spec's examples first, then plausible
// data (plausible.ts). `Prefer: code=N`, `example=name`, `dynamic=true` ask for a declared
// answer as it is, whatever the state.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { STATUS_CODES } from "node:http";
import type { ValidateFunction } from "ajv";
import type { ApiModel, Operation, Param, SecurityScheme } from "../model/model.js";
import type { JsonSchema } from "../model/schema.js";
import { routeTable } from "../emit/emit.js";
import { firstValid, MockValues, type ValueChoice } from "./mock-values.js";
import { mockListener, mockRouterHooks, type Verdicts } from "./http.js";
import { Collections, type CollectionKit, type MockHandler } from "./collections.js";
import { findPattern, Jobs } from "./jobs.js";
import { findCollections } from "./resources.js";
import { MockState } from "./state.js";
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
  /** A JSON file that keeps the mock's state across restarts (read at start, written on every change). */
  state?: string | undefined;
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
  const state = new MockState(opts.state);
  const loaded = state.load();
  const values = new MockValues(model);
  const table = routes(model, validators);
  const defOf = new Map(table.map((d) => [d.operation, d]));
  const exact = new Map<unknown, ValidateFunction>();
  const check = (schema: JsonSchema) => {
    let v = exact.get(schema);
    if (!v) exact.set(schema, (v = validators.exact(schema)));
    return v;
  };
  const wires = new Map<unknown, ValidateFunction>();
  const wire = (schema: JsonSchema) => {
    let v = wires.get(schema);
    if (!v) wires.set(schema, (v = validators.wire(schema)));
    return v;
  };
  const headerCheck = (h: Param) => check(h.schema);

  /**
   * The answer of `op` (the declared status `wanted`, else `Prefer: code=`, else its first 2xx)
   * built from the first candidate values that pass the spec's own validators; `patch` adapts
   * a body to the mock's state first. A mock that cannot answer validly says why, as a 500.
   */
  const respond = (op: Operation, ctx: HandlerContext, wanted?: number, patch?: (body: unknown) => unknown, first: unknown[] = [], detail?: string) => {
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
      const v = headerCheck(h);
      const picked = firstValid(values.header(h, choice), (x) => (v(x) ? undefined : describe(v.errors)));
      if ("error" in picked) cannot(`header ${h.name}: ${picked.error}`);
      else headers[h.name] = picked.value;
    }
    const out: Record<string, unknown> = { status: r.status, headers };
    const body = r.bodies[0];
    if (body) {
      const validate = defOf.get(op.name)!.responses[r.status]?.bodies[body.mediaType]?.validate;
      // An error's body says what happened, as RFC 9457 has it: its status always; a made-up
      // one also its reason phrase as title and what happened as detail (an example keeps its words).
      const error = r.status >= 400;
      const what = detail ?? `${op.method.toUpperCase()} ${ctx.url.split("?")[0]} answered ${r.status}`;
      const made = error ? (v: unknown) => problemFields(v, r.status, what) : undefined;
      const adapt = (v: unknown) => {
        const w = patch ? patch(v) : v;
        return error ? problemStatus(w, r.status) : w;
      };
      // `first`: the mock's own state (a stored item, say), tried before the spec's values.
      const candidates = concat(first, map(values.body(body, choice, made), adapt));
      const picked = firstValid(candidates, (v) => (v === undefined ? "no value" : !validate || validate(v) ? undefined : describe(validate.errors)));
      if ("error" in picked) cannot(`body: ${picked.error}`);
      else {
        out["contentType"] = body.mediaType;
        out["body"] = picked.value;
      }
    }
    return out;
  };

  /** The declared `status` answer with `detail` in its problem body; the usual answer where none is declared. */
  const problemAnswer = (op: Operation, ctx: HandlerContext, status: number, detail: string) =>
    op.responses.some((r) => r.status === status) ? respond(op, ctx, status, undefined, [], detail) : respond(op, ctx);

  let saving = true;
  const changed = () => {
    if (saving) state.save();
  };

  const handlers: Record<string, MockHandler> = {};
  for (const op of model.operations) handlers[op.name] = (_req, ctx) => respond(op, ctx);

  const pattern = findPattern(model);
  const notFound = (op: Operation, ctx: HandlerContext, detail: string) => problemAnswer(op, ctx, 404, detail);
  const jobs = pattern ? new Jobs(pattern, { state, respond, notFound, changed, advanceAfterMs: opts.advanceAfterMs ?? 0 }) : undefined;
  jobs?.install(handlers);
  const kit: CollectionKit = {
    defs: Object.fromEntries(model.types.map((t) => [t.name, t.schema])),
    state,
    plausible: values.plausible,
    check,
    wire,
    respond,
    problem: problemAnswer,
    typeExamples: (name) => values.examplesOf(name),
    changed,
  };
  const collections = new Collections(findCollections(model, new Set(pattern ? [pattern.collection] : [])), kit);
  collections.install(handlers);
  /** A fresh state: the collections filled from the spec's examples (or plausible items), no jobs. */
  const fresh = () => {
    jobs?.stop();
    state.clear();
    saving = false;
    collections.seed();
    saving = true;
    state.save();
  };
  if (loaded) jobs?.resume();
  else fresh();

  const schemes = Object.fromEntries(model.securitySchemes.map((sc) => [sc.name, { type: sc.type, challenge: sc.challenge }]));
  const http = { cors: opts.cors ?? true, log: opts.log, reset: fresh };
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
        jobs?.stop();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A problem body as RFC 9457 has it, where the body has these fields: `status` the HTTP
 * status, `title` its reason phrase, `type` about:blank, `detail` what happened.
 */
function problemStatus(body: unknown, status: number): unknown {
  if (!body || typeof body !== "object" || Array.isArray(body) || !("status" in body)) return body;
  return { ...(body as Record<string, unknown>), status };
}

function problemFields(body: unknown, status: number, detail: string): unknown {
  if (!body || typeof body !== "object" || Array.isArray(body)) return body;
  const out = { ...(body as Record<string, unknown>) };
  if ("status" in out) out["status"] = status;
  if ("title" in out) out["title"] = STATUS_CODES[status] ?? "Error";
  if (typeof out["type"] === "string") out["type"] = "about:blank";
  if ("detail" in out) out["detail"] = detail;
  return out;
}
