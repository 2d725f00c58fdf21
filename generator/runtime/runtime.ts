// The small hand-written runtime behind every generated router. `ramlgen generate` copies
// this file verbatim into the output folder, so generated code depends on nothing but npm
// packages, wherever it is written. Behaviour lives here once; generated code only
// describes the spec as data (the route table) and types.
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import Negotiator from "negotiator";

/** What the router hands on when it does not serve a request (or, with an error, cannot). */
export type Next = (error?: unknown) => void;

/**
 * The generated router: a plain `node:http` request listener. `http.createServer(router)`
 * serves the API alone (404 problem+json for other paths); `app.use(router)` mounts it in
 * Express (or Connect), which then gets `next()` for the paths it does not serve.
 */
export type RouterHandler = (req: IncomingMessage, res: ServerResponse, next?: Next) => void;

/** A validator compiled ahead of time by ajv (standalone code). */
export interface Validator {
  (data: unknown): boolean;
  errors?: ValidationErrorObject[] | null | undefined;
}

export interface ValidationErrorObject {
  instancePath: string;
  keyword: string;
  message?: string | undefined;
  params: Record<string, unknown>;
}

export interface BodyDef {
  /** `json`: parsed with JSON.parse; `text`: a string; `raw`: a Buffer. */
  parse: "json" | "text" | "raw";
  validate?: Validator | undefined;
  /** A serialiser generated from the response's schema (JSON.stringify when absent). */
  serialize?: ((value: unknown) => string) | undefined;
}

export interface ResponseDef {
  validateHeaders?: Validator | undefined;
  /** Declared media types, in spec order. */
  bodies: Record<string, BodyDef>;
}

export interface RouteDef {
  operation: string;
  method: string;
  /** Path template, RAML style, including the baseUri prefix: `/api/v1/things/{thing-id}`. */
  path: string;
  validateParams?: Validator | undefined;
  validateQuery?: Validator | undefined;
  /** Declared request headers, lower case. */
  headers: string[];
  validateHeaders?: Validator | undefined;
  /** Request bodies by media type; absent when the operation takes no body. */
  bodies?: Record<string, BodyDef> | undefined;
  /** Whether an absent body is acceptable (the body type admits nil). */
  bodyOptional: boolean;
  /**
   * Parameters declared as numbers, by location: their raw text must be a plain decimal
   * number (ajv's coercion alone would also take `0x10`, `Infinity` or ` 1`).
   */
  numeric?: { path?: string[]; query?: string[]; headers?: string[] } | undefined;
  responses: Record<number, ResponseDef>;
  /**
   * The spec declares no responses for the operation: any status with any body is sent as
   * the handler gives it, unchecked (objects as JSON).
   */
  undeclaredResponses?: boolean | undefined;
  /** RAML `securedBy`: absent when the operation is not secured. */
  security?: SecurityDef | undefined;
}

export interface SecurityDef {
  /** Any one of these is enough. */
  alternatives: { scheme: string; scopes: string[] }[];
  /** A request no scheme accepts is served anyway, without `auth` (RAML `null`). */
  anonymous: boolean;
}

/** A security scheme of the spec, as the router needs it. */
export interface SecuritySchemeDef {
  type: string;
  /** The `WWW-Authenticate` challenge of a 401. */
  challenge: string;
}

/** What an authenticator is asked: the raw request (not yet validated) and what the operation requires. */
export interface AuthRequest {
  scheme: string;
  /** The scopes the operation requires of this scheme (OAuth 2.0 `securedBy` parameters). */
  scopes: string[];
  operation: string;
  /** Request headers as received, names in lower case. */
  headers: IncomingHttpHeaders;
  /** Query parameters as received. */
  query: Record<string, unknown>;
  req: IncomingMessage;
}

/** Valid credentials that may not do this (a wrong role, a missing scope): answered 403. */
export class Forbidden {
  constructor(readonly reason?: string) {}
}

/** Return it from an authenticator for credentials that are valid but not enough here (403). */
export function forbidden(reason?: string): Forbidden {
  return new Forbidden(reason);
}

/**
 * Checks one security scheme's credentials: the principal (any value the application
 * chooses) when they are valid, undefined when they are missing or invalid (401), or
 * `forbidden()` (403). A principal with a `scopes` array must hold every scope the operation
 * requires, or the answer is 403. An authenticator that throws is a 500, never a pass.
 */
export type Authenticator<P> = (request: AuthRequest) => P | Forbidden | undefined | Promise<P | Forbidden | undefined>;

/** Who is calling, as handlers of secured operations get it in `request.auth`. */
export interface Auth<P, S extends string = string> {
  scheme: S;
  /** The scopes the operation required of that scheme. */
  scopes: string[];
  principal: P;
}

export interface ProblemDetails {
  type?: string | undefined;
  title: string;
  status: number;
  detail?: string | undefined;
  instance?: string | undefined;
  [extension: string]: unknown;
}

export interface FieldError {
  /** Where the offending value is: `body/name`, `query/limit`, `headers/idempotency-key`, `path/id`. */
  field: string;
  /** JSON pointer into that location. */
  pointer: string;
  detail: string;
}

/** Throw from a handler to answer with a problem that the spec does not list for the operation. */
export class HttpProblem extends Error {
  constructor(readonly problem: ProblemDetails, readonly headers: Record<string, string> = {}) {
    super(problem.detail ?? problem.title);
    this.name = "HttpProblem";
  }
}

export interface HandlerContext {
  req: IncomingMessage;
  res: ServerResponse;
  operation: string;
}

export interface ResponseValidationFailure {
  operation: string;
  status: number;
  errors: FieldError[];
}

export interface RouterOptions {
  /** Largest accepted request body in bytes (default 1 MiB). Larger bodies get 413. */
  bodyLimit?: number | undefined;
  /** Deepest accepted JSON nesting in request bodies (default 64). Deeper bodies get 400. */
  maxJsonDepth?: number | undefined;
  /** Check every response against the spec (default: on unless NODE_ENV is "production"). */
  validateResponses?: boolean | undefined;
  /** Called when a handler's response violates the spec; it is answered with 500. Default: log to stderr. */
  onResponseValidationError?: ((failure: ResponseValidationFailure, req: IncomingMessage) => void) | undefined;
  /** Called when a handler throws; it is answered with 500. Default: log to stderr. */
  onError?: ((error: unknown, operation: string, req: IncomingMessage) => void) | undefined;
  /**
   * Turns an error a handler threw into a problem answer (e.g. an unavailable database into
   * 503); return undefined for a 500. HttpProblem errors are always answered as they are.
   */
  mapError?: (error: unknown) => HttpProblem | undefined;
  /** One authenticator per security scheme of the spec (required when the spec has any). */
  security?: Record<string, Authenticator<unknown>> | undefined;
  /** Headers on every answer the router writes (security headers, say). */
  headers?: Record<string, string> | undefined;
  /**
   * Adds headers of its own to every answer the router writes (a request id, say): called with
   * the request and the answer's headers so far, a flat list (`name, value, name, value`), to
   * which it adds its own with `head.push(name, value)` (or `setHead(head, name, value)` to
   * replace one of `headers`). Cheaper than `res.setHeader` before the router: Node then
   * merges every header of the answer into its own map one by one.
   */
  addHeaders?: ((req: IncomingMessage, head: HeadList) => void) | undefined;
  /**
   * Called when a request matches an operation, before anything else is done with it (for
   * metrics or tracing: `res.on("finish")` then knows the operation and the status).
   */
  onRoute?: ((operation: string, req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /**
   * The path the routes are served under, instead of the spec's baseUri path: `""` when the
   * router is mounted with `app.use("/api", router)` (Express strips the mount path), or
   * `"/v2"` to serve the spec's `/api/v1/books` as `/v2/books`.
   */
  basePath?: string | undefined;
}

export const PROBLEM_JSON = "application/problem+json";
const DEFAULT_BODY_LIMIT = 1024 * 1024;
const DEFAULT_JSON_DEPTH = 64;

const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export function problem(status: number, detail?: string, extra: Partial<ProblemDetails> = {}): ProblemDetails {
  const p: ProblemDetails = { type: "about:blank", title: STATUS_TITLES[status] ?? "Error", status };
  if (detail !== undefined) p.detail = detail;
  return Object.assign(p, extra);
}

/**
 * An answer's headers as a flat list, `name, value, name, value`, the form in which Node's
 * `writeHead` takes them. The router builds every answer's headers so, not as an object: an
 * object copied from the static headers and then given the answer's own cost 2-3 µs an answer
 * (V8 gives each added name a new hidden class, by a slow path), a list about 0.1 µs.
 */
export type HeadList = (string | number)[];

/** Sets a header in a list: replaces the value of the same name (as given), else appends it. */
export function setHead(head: HeadList, name: string, value: string | number): void {
  for (let i = 0; i < head.length; i += 2) {
    if (head[i] === name) {
      head[i + 1] = value;
      return;
    }
  }
  head.push(name, value);
}

export function sendProblem(res: ServerResponse, p: ProblemDetails, headers: Record<string, string | number> | HeadList = {}): void {
  const head: HeadList = Array.isArray(headers) ? headers.slice() : [];
  if (!Array.isArray(headers)) for (const k in headers) head.push(k, headers[k]!);
  writeProblem(res, p, head);
}

/** sendProblem with a list of headers of its own (it adds to it). */
function writeProblem(res: ServerResponse, p: ProblemDetails, head: HeadList): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(p);
  setHead(head, "Content-Type", PROBLEM_JSON);
  setHead(head, "Content-Length", Buffer.byteLength(body));
  res.writeHead(p.status, head);
  res.end(body);
}

/** ajv errors as field errors: `body/name`, `query/limit`. */
export function fieldErrors(location: string, errors: ValidationErrorObject[] | null | undefined): FieldError[] {
  const out: FieldError[] = [];
  let list = errors ?? [];
  // For `T | nil` (and other unions) ajv reports every branch; the summary and the nil
  // branch say nothing the other errors do not.
  const specific = list.filter((e) => e.keyword !== "anyOf" && !(e.keyword === "type" && e.params["type"] === "null"));
  if (specific.length) list = specific;
  for (const e of list) {
    let pointer = e.instancePath;
    if (e.keyword === "required") pointer += `/${escapePointer(String(e.params["missingProperty"]))}`;
    else if (e.keyword === "additionalProperties") pointer += `/${escapePointer(String(e.params["additionalProperty"]))}`;
    const field = location + pointer.split("/").map(unescapePointer).join("/");
    let detail = e.message ?? e.keyword;
    if (e.keyword === "additionalProperties") detail = "is not allowed";
    else if (e.keyword === "required") detail = "is required";
    else if (e.keyword === "enum") detail += `: ${JSON.stringify(e.params["allowedValues"])}`;
    out.push({ field, pointer: `#${pointer}`, detail });
  }
  // A union reports each failed branch; one line per field and message is enough.
  const seen = new Set<string>();
  return out.filter((f) => {
    const key = `${f.field}\u0000${f.detail}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function escapePointer(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}
function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

interface CompiledRoute {
  def: RouteDef;
  paramNames: string[];
}

interface TrieNode {
  literal: Map<string, TrieNode>;
  /** Segments that mix text and parameters (`{from}.{to}`, `{name}.json`), by source. */
  mixed?: { pattern: RegExp; node: TrieNode }[] | undefined;
  param?: TrieNode | undefined;
  /** Routes whose path ends here. */
  routes: CompiledRoute[];
}

const newNode = (): TrieNode => ({ literal: new Map(), routes: [] });

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A segment with text around or between its parameters, as a regular expression with one
 * group per parameter: each takes at least one character, the last as many as it can.
 */
function mixedSegment(seg: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const parts = seg.split(/\{([^{}]+)\}/);
  let source = "^";
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) source += escapeRegExp(parts[i]!);
    else {
      names.push(parts[i]!);
      source += "([^/]+?)";
    }
  }
  return { pattern: new RegExp(`${source}$`), names };
}

class RouteTable {
  private readonly root = newNode();

  constructor(routes: RouteDef[]) {
    for (const def of routes) {
      const paramNames: string[] = [];
      let node = this.root;
      for (const seg of def.path.split("/").slice(1)) {
        const whole = /^\{([^{}]+)\}$/.exec(seg);
        if (whole) {
          paramNames.push(whole[1]!);
          node = node.param ??= newNode();
        } else if (seg.includes("{")) {
          const { pattern, names } = mixedSegment(seg);
          paramNames.push(...names);
          node.mixed ??= [];
          let entry = node.mixed.find((m) => m.pattern.source === pattern.source);
          if (!entry) node.mixed.push((entry = { pattern, node: newNode() }));
          node = entry.node;
        } else {
          let next = node.literal.get(seg);
          if (!next) node.literal.set(seg, (next = newNode()));
          node = next;
        }
      }
      node.routes.push({ def, paramNames });
    }
  }

  /**
   * The routes whose path matches, literal ones first, then segments that mix text and
   * parameters, then whole-segment parameters, each with its raw (still encoded) parameter
   * values in order.
   */
  match(pathname: string): { route: CompiledRoute; values: string[] }[] {
    const segs = pathname.split("/");
    const out: { route: CompiledRoute; values: string[] }[] = [];
    // segs[0] is the empty string before the leading slash.
    if (segs[0] === "") this.walk(this.root, segs, 1, [], out);
    return out;
  }

  /** A method, not a closure made per request; `values` is copied only where the walk branches. */
  private walk(node: TrieNode, segs: string[], i: number, values: string[], out: { route: CompiledRoute; values: string[] }[]): void {
    if (i === segs.length) {
      for (const route of node.routes) out.push({ route, values });
      return;
    }
    const seg = segs[i]!;
    const lit = node.literal.get(seg);
    if (lit) this.walk(lit, segs, i + 1, values, out);
    if (node.mixed) {
      for (const m of node.mixed) {
        const found = m.pattern.exec(seg);
        if (found) this.walk(m.node, segs, i + 1, [...values, ...found.slice(1)], out);
      }
    }
    if (node.param && seg !== "") this.walk(node.param, segs, i + 1, [...values, seg], out);
  }
}

/** Checks one location's parameters, adding what is wrong to `errors` (except what `notDecimal` has said already). */
function validateParams(errors: FieldError[], notDecimal: Set<string> | undefined, location: string, v: Validator | undefined, data: unknown): void {
  if (v && !v(data)) errors.push(...fieldErrors(location, v.errors).filter((e) => !notDecimal?.has(e.field)));
}

/** The match for a method, if any (a loop, not a closure made per request). */
function byMethod<M extends { route: CompiledRoute }>(matches: M[], method: string | undefined): M | undefined {
  for (const m of matches) if (m.route.def.method === method) return m;
  return undefined;
}

/** Decoded path parameters by name. Throws URIError on bad percent-encoding. */
function paramsOf(route: CompiledRoute, values: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // Without a `%` there is nothing to decode (and decodeURIComponent is a call into the runtime).
    params[route.paramNames[i]!] = v.indexOf("%") === -1 ? v : decodeURIComponent(v);
  }
  return params;
}

export interface Operation<Req, Res> {
  (request: Req, ctx: HandlerContext): Res | Promise<Res>;
}

interface HandlerResponse {
  status: number;
  headers?: Record<string, unknown> | undefined;
  body?: unknown | undefined;
  contentType?: string | undefined;
}

/**
 * The router: a `node:http` request listener (also an Express middleware) that dispatches with
 * the precompiled route table, reads and validates input, calls the handler, and checks and
 * writes its response.
 */
/** The routes with the spec's base path replaced by `to` (a leading slash, no trailing one). */
function rebase(routes: RouteDef[], from: string, to: string): RouteDef[] {
  const prefix = to.replace(/\/+$/, "").replace(/^(?=[^/])/, "/");
  return routes.map((r) => ({ ...r, path: prefix + r.path.slice(from.length) }));
}

export function buildRouter(
  specRoutes: RouteDef[],
  handlers: Record<string, Operation<unknown, unknown>>,
  options: RouterOptions = {},
  schemes: Record<string, SecuritySchemeDef> = {},
  specBasePath = "",
): RouterHandler {
  const routes = options.basePath === undefined ? specRoutes : rebase(specRoutes, specBasePath, options.basePath);
  const table = new RouteTable(routes);
  for (const r of routes) {
    for (const alt of r.security?.alternatives ?? []) {
      if (!options.security?.[alt.scheme]) throw new Error(`createRouter: no authenticator for security scheme ${JSON.stringify(alt.scheme)} (options.security)`);
    }
  }
  const produced = new Map(routes.map((r) => [r, producedTypes(r)]));
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxDepth = options.maxJsonDepth ?? DEFAULT_JSON_DEPTH;
  const validateResponses = options.validateResponses ?? process.env["NODE_ENV"] !== "production";
  const onInvalid =
    options.onResponseValidationError ??
    ((f: ResponseValidationFailure) => console.error(`ramlgen: response of ${f.operation} violates the spec`, JSON.stringify(f)));
  const onError = options.onError ?? ((e: unknown, op: string) => console.error(`ramlgen: handler ${op} failed`, e));
  const staticHead: HeadList = Object.entries(options.headers ?? {}).flat();
  const addHeaders = options.addHeaders;
  /** The headers every answer starts with: a fresh list, to which the answer adds its own. */
  const headOf = (req: IncomingMessage): HeadList => {
    const head = staticHead.slice();
    if (addHeaders) addHeaders(req, head);
    return head;
  };
  const answerProblem = (res: ServerResponse, p: ProblemDetails, headers?: Record<string, string>) => {
    const head = headOf(res.req);
    if (headers) for (const k in headers) setHead(head, k, headers[k]!);
    writeProblem(res, p, head);
  };
  /** A body's Content-Type header, made once per declared body rather than per answer. */
  const contentTypeHeaders = new Map<BodyDef, string>();
  const contentTypeOf = (bodyDef: BodyDef, contentType: string): string => {
    let header = contentTypeHeaders.get(bodyDef);
    if (header === undefined) {
      header = bodyDef.parse === "raw" ? contentType : `${contentType}; charset=utf-8`;
      contentTypeHeaders.set(bodyDef, header);
    }
    return header;
  };
  /** Per response of every operation: its declared media types (not recomputed per answer). */
  const declaredTypes = new Map<ResponseDef, string[]>();
  for (const r of routes) for (const spec of Object.values(r.responses)) declaredTypes.set(spec, Object.keys(spec.bodies));

  const dispatch = async (req: IncomingMessage, res: ServerResponse, next: Next | undefined) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q === -1 ? url : url.slice(0, q);
    const matches = table.match(pathname);
    if (!matches.length) {
      if (next) return next();
      return answerProblem(res, problem(404, `no resource at ${pathname}`));
    }
    let method = req.method;
    let found = byMethod(matches, method);
    if (!found && method === "HEAD") {
      found = byMethod(matches, "GET");
      method = "GET";
    }
    if (!found) {
      const allowed = allowedMethods(matches.map((m) => m.route.def.method));
      if (method === "OPTIONS") {
        const head = headOf(req);
        setHead(head, "Allow", allowed);
        res.writeHead(204, head);
        return res.end();
      }
      return answerProblem(res, problem(405, `${req.method} is not allowed here; allowed: ${allowed}`), { Allow: allowed });
    }
    const def = found.route.def;
    options.onRoute?.(def.operation, req, res);
    let params: Record<string, string>;
    try {
      params = paramsOf(found.route, found.values);
    } catch {
      return answerProblem(res, problem(400, "the request path is not valid percent-encoding"));
    }
    try {
      await handle(def, params, q === -1 ? "" : url.slice(q + 1), req, res);
    } catch (e) {
      const known = e instanceof HttpProblem ? e : options.mapError?.(e);
      if (known) return answerProblem(res, known.problem, known.headers);
      onError(e, def.operation, req);
      return answerProblem(res, problem(500, "the server failed to handle the request"));
    }
  };

  const handle = async (def: RouteDef, params: Record<string, string>, queryString: string, req: IncomingMessage, res: ServerResponse) => {
    const rawQuery: Record<string, unknown> = queryString ? parseQuery(queryString) : {};
    // Who is calling, before anything else is looked at: an unauthenticated request learns
    // nothing about what the operation would accept.
    let auth: Auth<unknown> | undefined;
    if (def.security) {
      const outcome = await authenticate(def, def.security, req, rawQuery);
      if ("problem" in outcome) return answerProblem(res, outcome.problem, outcome.headers);
      auth = outcome.auth;
    }
    // 406 before any work: the client accepts none of the media types this operation answers with.
    const types = produced.get(def)!;
    if (types.length && !acceptable(req, types)) {
      return answerProblem(res, problem(406, `this operation answers with ${types.join(", ")}`));
    }

    const errors: FieldError[] = [];
    let query: Record<string, unknown> = {};
    // A copy the validator may add defaults to: Object.assign, not a spread, whose copies V8
    // (Node 20) adds properties to by a slow path, ten times the cost.
    if (def.validateQuery) query = Object.assign({}, rawQuery);
    const headers: Record<string, unknown> = {};
    for (const h of def.headers) {
      const v = req.headers[h];
      if (v !== undefined) headers[h] = v;
    }
    const notDecimal = def.numeric ? checkNumeric(def.numeric, params, query, headers, errors) : undefined;
    validateParams(errors, notDecimal, "path", def.validateParams, params);
    validateParams(errors, notDecimal, "query", def.validateQuery, query);
    validateParams(errors, notDecimal, "headers", def.validateHeaders, headers);

    let body: unknown = undefined;
    let mediaType: string | undefined;
    if (def.bodies) {
      const read = await readBody(def, req, bodyLimit, maxDepth);
      // After a 413 the rest of the upload is not read: close the connection rather than drain it.
      if ("problem" in read) return answerProblem(res, read.problem, read.problem.status === 413 ? { Connection: "close" } : undefined);
      body = read.body;
      mediaType = read.mediaType;
      if (read.present) {
        const v = def.bodies![read.mediaType!]!.validate;
        if (v && !v(body)) errors.push(...fieldErrors("body", v.errors));
      } else if (!def.bodyOptional) {
        errors.push({ field: "body", pointer: "#", detail: "a request body is required" });
      }
    }
    if (errors.length) {
      return answerProblem(res, problem(400, "the request does not match the API specification", { errors }));
    }

    const handler = handlers[def.operation]!;
    const request = def.security ? { params, query, headers, body, mediaType, auth } : { params, query, headers, body, mediaType };
    const out = (await handler(request, { req, res, operation: def.operation })) as HandlerResponse;
    if (res.headersSent || res.writableEnded) return; // the handler answered by itself
    writeResponse(def, out, req, res);
  };

  const authenticate = async (
    def: RouteDef,
    security: SecurityDef,
    req: IncomingMessage,
    query: Record<string, unknown>,
  ): Promise<{ auth: Auth<unknown> | undefined } | { problem: ProblemDetails; headers: Record<string, string> }> => {
    let denied: { reason?: string; insufficient?: { scheme: string; scopes: string[] } } | undefined;
    for (const alt of security.alternatives) {
      const result = await options.security![alt.scheme]!({ scheme: alt.scheme, scopes: alt.scopes, operation: def.operation, headers: req.headers, query, req });
      if (result === undefined || result === null) continue;
      if (result instanceof Forbidden) {
        denied ??= result.reason === undefined ? {} : { reason: result.reason };
        continue;
      }
      const granted = (result as { scopes?: unknown }).scopes;
      if (alt.scopes.length && Array.isArray(granted) && !alt.scopes.every((s) => granted.includes(s))) {
        denied ??= { reason: `this needs the scopes ${alt.scopes.join(" ")}`, insufficient: alt };
        continue;
      }
      return { auth: { scheme: alt.scheme, scopes: alt.scopes, principal: result } };
    }
    if (denied) {
      const headers: Record<string, string> = {};
      // RFC 6750: an OAuth 2.0 token without the scope says which scope it lacks.
      if (denied.insufficient && schemes[denied.insufficient.scheme]?.type === "OAuth 2.0") {
        headers["WWW-Authenticate"] = `${schemes[denied.insufficient.scheme]!.challenge}, error="insufficient_scope", scope="${denied.insufficient.scopes.join(" ")}"`;
      }
      return { problem: problem(403, denied.reason ?? "these credentials may not do this"), headers };
    }
    if (security.anonymous) return { auth: undefined };
    const challenges = [...new Set(security.alternatives.map((a) => challengeOf(schemes[a.scheme])))].filter(Boolean);
    return { problem: problem(401, "this needs credentials the server accepts"), headers: challenges.length ? { "WWW-Authenticate": challenges.join(", ") } : {} };
  };

  const writeResponse = (def: RouteDef, out: HandlerResponse, req: IncomingMessage, res: ServerResponse) => {
    const spec = def.responses[out?.status];
    if (!spec && def.undeclaredResponses && Number.isInteger(out?.status) && out.status >= 200 && out.status <= 599) return writeUndeclared(out, res);
    if (!spec) {
      onInvalid({ operation: def.operation, status: out?.status, errors: [{ field: "status", pointer: "#", detail: `status ${out?.status} is not declared` }] }, req);
      return answerProblem(res, problem(500, "the server produced a response its API does not declare"));
    }
    const declared = declaredTypes.get(spec) ?? Object.keys(spec.bodies);
    const contentType = out.contentType ?? (declared.length > 1 ? (preferred(req, declared) ?? declared[0]) : declared[0]);
    const bodyDef = contentType ? spec.bodies[contentType] : undefined;
    const headers = out.headers ?? {};
    if (validateResponses) {
      const errs: FieldError[] = [];
      if (spec.validateHeaders && !spec.validateHeaders(headers)) errs.push(...fieldErrors("headers", spec.validateHeaders.errors));
      if (declared.length && !bodyDef) errs.push({ field: "contentType", pointer: "#", detail: `${contentType} is not declared` });
      if (!declared.length && out.body !== undefined) errs.push({ field: "body", pointer: "#", detail: "no body is declared for this status" });
      if (bodyDef?.validate && !bodyDef.validate(out.body)) errs.push(...fieldErrors("body", bodyDef.validate.errors));
      if (errs.length) {
        onInvalid({ operation: def.operation, status: out.status, errors: errs }, req);
        return answerProblem(res, problem(500, "the server produced a response that violates its API specification"));
      }
    }
    // Headers are written once, with the status (headers set earlier by other middleware are kept).
    const head = headOf(req);
    for (const k in headers) if (headers[k] !== undefined) setHead(head, k, String(headers[k]));
    if (!declared.length || out.body === undefined) {
      res.writeHead(out.status, head);
      res.end();
      return;
    }
    let payload: string | Buffer;
    if (bodyDef!.parse === "json") payload = bodyDef!.serialize ? bodyDef!.serialize(out.body) : JSON.stringify(out.body);
    else if (Buffer.isBuffer(out.body)) payload = out.body;
    else payload = String(out.body);
    setHead(head, "Content-Type", contentTypeOf(bodyDef!, contentType!));
    setHead(head, "Content-Length", Buffer.byteLength(payload));
    res.writeHead(out.status, head);
    res.end(payload);
  };

  /** An answer to an operation whose spec declares none: as the handler gives it. */
  const writeUndeclared = (out: HandlerResponse, res: ServerResponse) => {
    const head = headOf(res.req);
    const headers = out.headers ?? {};
    for (const k in headers) if (headers[k] !== undefined) setHead(head, k, String(headers[k]));
    if (out.body === undefined) {
      res.writeHead(out.status, head);
      res.end();
      return;
    }
    const binary = Buffer.isBuffer(out.body);
    const text = typeof out.body === "string";
    const payload = binary ? (out.body as Buffer) : text ? (out.body as string) : JSON.stringify(out.body);
    const type = out.contentType ?? (binary ? "application/octet-stream" : text ? "text/plain" : "application/json");
    setHead(head, "Content-Type", binary ? type : `${type}; charset=utf-8`);
    setHead(head, "Content-Length", Buffer.byteLength(payload));
    res.writeHead(out.status, head);
    res.end(payload);
  };

  return (req, res, next) => {
    dispatch(req, res, next).catch((e) => {
      // Only reached if answering itself failed (the socket went away, say).
      if (next) next(e);
      else res.destroy();
    });
  };
}

/** Whether the request's Accept admits one of these media types (no Accept admits all). */
function acceptable(req: IncomingMessage, types: string[]): boolean {
  const accept = req.headers.accept;
  if (!accept || accept === "*/*") return true;
  return new Negotiator(req).mediaType(types) !== undefined;
}

/** The declared media type the request prefers, if it states a preference. */
function preferred(req: IncomingMessage, types: string[]): string | undefined {
  const accept = req.headers.accept;
  if (!accept || accept === "*/*") return undefined;
  return new Negotiator(req).mediaType(types);
}

/** A scheme's challenge; Digest gets a fresh nonce on every answer. */
function challengeOf(scheme: SecuritySchemeDef | undefined): string {
  if (!scheme) return "";
  return scheme.type === "Digest Authentication" ? `${scheme.challenge}, nonce="${randomBytes(16).toString("base64")}"` : scheme.challenge;
}

const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Numeric parameters whose raw text is not a decimal number; returns their field names. */
function checkNumeric(
  numeric: NonNullable<RouteDef["numeric"]>,
  path: Record<string, unknown>,
  query: Record<string, unknown>,
  headers: Record<string, unknown>,
  errors: FieldError[],
): Set<string> {
  const bad = new Set<string>();
  const check = (location: string, names: string[] | undefined, values: Record<string, unknown>) => {
    for (const name of names ?? []) {
      const v = values[name];
      if (v === undefined) continue;
      if (!(Array.isArray(v) ? v : [v]).every((x) => typeof x === "string" && DECIMAL.test(x))) {
        const field = `${location}/${name}`;
        bad.add(field);
        errors.push({ field, pointer: `#/${name}`, detail: "must be a decimal number" });
      }
    }
  };
  check("path", numeric.path, path);
  check("query", numeric.query, query);
  check("headers", numeric.headers, headers);
  return bad;
}

function allowedMethods(methods: string[]): string {
  const set = new Set(methods);
  if (set.has("GET")) set.add("HEAD");
  set.add("OPTIONS");
  return [...set].sort().join(", ");
}

function producedTypes(def: RouteDef): string[] {
  const out = new Set<string>();
  for (const r of Object.values(def.responses)) for (const m of Object.keys(r.bodies)) out.add(m);
  return [...out];
}

type ReadResult =
  | { present: boolean; body: unknown; mediaType?: string }
  | { problem: ProblemDetails };

function hasBody(req: IncomingMessage): boolean {
  const te = req.headers["transfer-encoding"];
  if (te !== undefined) return true;
  const cl = req.headers["content-length"];
  return cl !== undefined && cl !== "0";
}

/** One decoder for every body: without `stream` a decode keeps nothing between calls (one made per request was 1% of a create). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

async function readBody(def: RouteDef, req: IncomingMessage, limit: number, maxDepth: number): Promise<ReadResult> {
  // A body parser (Express's, say) mounted in front of the router has read it already.
  const anyReq = req as IncomingMessage & { _body?: boolean; body?: unknown };
  const declared = Object.keys(def.bodies!);
  if (!hasBody(req) && !anyReq._body) return { present: false, body: undefined };
  const rawType = req.headers["content-type"];
  if (!rawType) return { problem: problem(415, `a request body needs a Content-Type; accepted: ${declared.join(", ")}`) };
  const mediaType = rawType.split(";")[0]!.trim().toLowerCase();
  const match = declared.find((d) => d.toLowerCase() === mediaType);
  if (!match) return { problem: problem(415, `${mediaType} is not accepted here; accepted: ${declared.join(", ")}`) };
  const spec = def.bodies![match]!;
  if (anyReq._body) return { present: true, body: anyReq.body, mediaType: match };
  const declaredLength = Number(req.headers["content-length"]);
  if (declaredLength > limit) return { problem: problem(413, `the request body is larger than ${limit} bytes`) };
  let buf: Buffer;
  try {
    buf = await collect(req, limit);
  } catch (e) {
    if (e === TOO_LARGE) return { problem: problem(413, `the request body is larger than ${limit} bytes`) };
    throw e;
  }
  if (spec.parse === "raw") return { present: true, body: buf, mediaType: match };
  let text: string;
  try {
    text = UTF8.decode(buf);
  } catch {
    return { problem: problem(400, "the request body is not valid UTF-8", { errors: [{ field: "body", pointer: "#", detail: "is not valid UTF-8" }] }) };
  }
  if (spec.parse === "text") return { present: true, body: text, mediaType: match };
  if (text.trim() === "") return { present: false, body: undefined, mediaType: match };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { problem: problem(400, `the request body is not valid JSON: ${(e as Error).message}`, { errors: [{ field: "body", pointer: "#", detail: "is not valid JSON" }] }) };
  }
  if (depthOf(parsed, maxDepth) > maxDepth) {
    return { problem: problem(400, `the request body is nested deeper than ${maxDepth} levels`, { errors: [{ field: "body", pointer: "#", detail: `nested deeper than ${maxDepth}` }] }) };
  }
  return { present: true, body: parsed, mediaType: match };
}

/** Nesting depth of a parsed JSON value, stopping early past the limit. */
function depthOf(v: unknown, limit: number, d = 0): number {
  if (d > limit || v === null || typeof v !== "object") return d;
  let max = d + 1;
  for (const x of Array.isArray(v) ? v : Object.values(v)) {
    max = Math.max(max, depthOf(x, limit, d + 1));
    if (max > limit) break;
  }
  return max;
}

const TOO_LARGE = Symbol("too large");

function collect(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        // Stop reading; the connection is closed after the 413 is sent.
        req.unpipe();
        req.resume();
        reject(TOO_LARGE);
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/** Handlers for operations that are not implemented yet answer 501. */
export function notImplemented(operation: string): Operation<unknown, never> {
  return () => {
    throw new HttpProblem(problem(501, `${operation} is not implemented yet`));
  };
}
