// The router core: matches a request against the route table, authenticates it, checks what
// it accepts, reads and validates its parameters and body, calls the handler and answers. It
// knows no server: each host (hosts/) gives it a context per request and the few operations
// that differ between servers (reading the body, writing the answer).
import { problem, HttpProblem, fieldErrors, type FieldError } from "./problems.js";
import { checkForm, type FormFields } from "./forms.js";
import { chooseBody, decodeBody, isMultipart, multipartFromBytes, NO_BODY, type RawBody, type ReadResult } from "./request-body.js";
import { acceptable } from "./negotiation.js";
import { responder, setHead, type Send } from "./response.js";
import { allowedMethods, byMethod, paramsOf, rebase, RouteTable } from "./route-table.js";
import { authenticate, checkAuthenticators, type Auth, type Authenticator } from "./security.js";
import type { CoreOptions, HandlerContext, HandlerResponse, Operation, RouteDef, SecuritySchemeDef } from "./types.js";
import { checkNumeric, validateParams } from "./validation.js";

/** What differs between servers, given once per host (not per request). */
export interface Host<C extends HandlerContext> {
  /** A query string (without `?`) as name -> value, or values when repeated. */
  parseQuery(query: string): Record<string, unknown>;
  /** Whether the request carries a body: its head announces one, or a body parser in front read one. */
  hasBody(ctx: C): boolean;
  /** The body's bytes (at most `limit`), or the value a body parser in front of the router left. */
  readBody(ctx: C, limit: number): Promise<RawBody>;
  /**
   * A `multipart/form-data` body read as it streams, its files kept out of memory (node:http's
   * reader, hosts/multipart.ts). Without one, the body is read whole (`bodyLimit + fileLimit`)
   * and parsed by the platform's `Response.formData()`.
   */
  readMultipart?: MultipartReader<C> | undefined;
  send: Send<C>;
  /** Whether the handler answered by itself (node:http's `res`), so that nothing more is written. */
  answered?: ((ctx: C) => boolean) | undefined;
}

/** Reads a multipart body: its fields (files as `File`s), or why not. */
export type MultipartReader<C> = (ctx: C, limits: { fields: number; file: number }) => Promise<RawBody>;

/**
 * Serves one request. With `fallthrough`, a path no route matches is left alone (false is
 * returned, the host hands it on); without, it is answered 404.
 */
export type Dispatch<C> = (ctx: C, fallthrough: boolean) => Promise<boolean>;

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_FILE_LIMIT = 100 * 1024 * 1024;
const DEFAULT_JSON_DEPTH = 64;


export function buildCore<C extends HandlerContext>(
  specRoutes: RouteDef[],
  handlers: Record<string, Operation<unknown, unknown, C>>,
  options: CoreOptions<C>,
  schemes: Record<string, SecuritySchemeDef>,
  specBasePath: string,
  host: Host<C>,
): Dispatch<C> {
  const routes = options.basePath === undefined ? specRoutes : rebase(specRoutes, specBasePath, options.basePath);
  const table = new RouteTable(routes);
  checkAuthenticators(routes.flatMap((r) => (r.security ? [r.security] : [])), options.security);
  const authenticators = (options.security ?? {}) as Record<string, Authenticator<unknown, C>>;
  const produced = new Map(routes.map((r) => [r, producedTypes(r)]));
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const fileLimit = options.fileLimit ?? DEFAULT_FILE_LIMIT;
  const maxDepth = options.maxJsonDepth ?? DEFAULT_JSON_DEPTH;
  const onError = options.onError ?? ((e: unknown, op: string) => console.error(`ramlgen: handler ${op} failed`, e));
  const out = responder(routes, options, host.send);

  const dispatch: Dispatch<C> = async (ctx, fallthrough) => {
    const url = ctx.url;
    const q = url.indexOf("?");
    const pathname = q === -1 ? url : url.slice(0, q);
    const matches = table.match(pathname);
    if (!matches.length) {
      if (fallthrough) return false;
      out.problem(ctx, problem(404, `no resource at ${pathname}`));
      return true;
    }
    let method = ctx.method;
    let found = byMethod(matches, method);
    if (!found && method === "HEAD") {
      found = byMethod(matches, "GET");
      method = "GET";
    }
    if (!found) {
      const allowed = allowedMethods(matches);
      if (method === "OPTIONS") {
        const head = out.head(ctx);
        setHead(head, "Allow", allowed);
        host.send(ctx, 204, head);
      } else {
        out.problem(ctx, problem(405, `${ctx.method} is not allowed here; allowed: ${allowed}`), { Allow: allowed });
      }
      return true;
    }
    const def = found.route.def;
    ctx.operation = def.operation;
    options.onRoute?.(def.operation, ctx);
    let params: Record<string, string>;
    try {
      params = paramsOf(found);
    } catch {
      out.problem(ctx, problem(400, "the request path is not valid percent-encoding"));
      return true;
    }
    try {
      await handle(def, params, q === -1 ? "" : url.slice(q + 1), ctx);
    } catch (e) {
      const known = e instanceof HttpProblem ? e : options.mapError?.(e);
      if (known) out.problem(ctx, known.problem, known.headers);
      else {
        onError(e, def.operation, ctx);
        out.problem(ctx, problem(500, "the server failed to handle the request"));
      }
    }
    return true;
  };

  const handle = async (def: RouteDef, params: Record<string, string>, queryString: string, ctx: C) => {
    const rawQuery: Record<string, unknown> = queryString ? host.parseQuery(queryString) : {};
    // Who is calling, before anything else is looked at: an unauthenticated request learns
    // nothing about what the operation would accept.
    let auth: Auth<unknown> | undefined;
    if (def.security) {
      const outcome = await authenticate(def.security, authenticators, schemes, ctx, rawQuery);
      if ("problem" in outcome) return out.problem(ctx, outcome.problem, outcome.headers);
      auth = outcome.auth;
    }
    // 406 before any work: the client accepts none of the media types this operation answers with.
    const types = produced.get(def)!;
    if (types.length && !acceptable(ctx.headers, types)) {
      return out.problem(ctx, problem(406, `this operation answers with ${types.join(", ")}`));
    }

    const errors: FieldError[] = [];
    let query: Record<string, unknown> = {};
    // A copy the validator may add defaults to: Object.assign, not a spread, whose copies V8
    // (Node 20) adds properties to by a slow path, ten times the cost.
    if (def.validateQuery) query = Object.assign({}, rawQuery);
    const headers: Record<string, unknown> = {};
    for (const h of def.headers) {
      const v = ctx.headers[h];
      if (v !== undefined) headers[h] = v;
    }
    if (def.listHeaders) {
      for (const h of def.listHeaders) {
        const v = headers[h];
        if (v !== undefined) headers[h] = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(",")).map((x) => x.trim()).filter((x) => x !== "");
      }
    }
    const notDecimal = def.numeric ? checkNumeric(def.numeric, params, query, headers, errors) : undefined;
    validateParams(errors, notDecimal, "path", def.validateParams, params);
    validateParams(errors, notDecimal, "query", def.validateQuery, query);
    validateParams(errors, notDecimal, "headers", def.validateHeaders, headers);

    let body: unknown = undefined;
    let mediaType: string | undefined;
    if (def.bodies) {
      const read = await readBody(def, ctx);
      if ("problem" in read) return out.problem(ctx, read.problem);
      body = read.body;
      mediaType = read.mediaType;
      if (read.present) {
        const bodyDef = def.bodies[read.mediaType!]!;
        // A form's files and numbers are checked first; the validator's word on them is dropped.
        const reported = bodyDef.parse === "form" ? checkForm(bodyDef.form, body as FormFields, errors) : undefined;
        const v = bodyDef.validate;
        if (v && !v(body)) errors.push(...fieldErrors("body", v.errors).filter((e) => !reported?.has(topField(e.field))));
      } else if (!def.bodyOptional) {
        errors.push({ field: "body", pointer: "#", detail: "a request body is required" });
      }
    }
    if (errors.length) {
      return out.problem(ctx, problem(400, "the request does not match the API specification", { errors }));
    }

    const handler = handlers[def.operation]!;
    const request = def.security ? { params, query, headers, body, mediaType, auth } : { params, query, headers, body, mediaType };
    const answer = (await handler(request, ctx)) as HandlerResponse;
    if (host.answered?.(ctx)) return; // the handler answered by itself
    out.answer(ctx, def, answer);
  };

  const readBody = async (def: RouteDef, ctx: C): Promise<ReadResult> => {
    if (!host.hasBody(ctx)) return NO_BODY;
    const chosen = chooseBody(def, ctx.headers, bodyLimit);
    if ("problem" in chosen) return chosen;
    const parse = def.bodies![chosen.mediaType]!.parse;
    let raw: RawBody;
    let limit = bodyLimit;
    if (parse === "form" && isMultipart(chosen.mediaType)) {
      limit = fileLimit;
      if (host.readMultipart) raw = await host.readMultipart(ctx, { fields: bodyLimit, file: fileLimit });
      else raw = await multipartFromBytes(await host.readBody(ctx, bodyLimit + fileLimit), String(ctx.headers["content-type"]), fileLimit);
    } else raw = await host.readBody(ctx, bodyLimit);
    return decodeBody(parse, raw, chosen.mediaType, limit, maxDepth);
  };

  return dispatch;
}

/** `body/files/0` -> `body/files`: the form field an error is about. */
function topField(field: string): string {
  const second = field.indexOf("/", 5);
  return second === -1 ? field : field.slice(0, second);
}

/**
 * The media types `Accept` is negotiated against: those of the answers the operation means to
 * give (below 400). Error answers come as declared whatever the client accepts (RFC 9110
 * 12.5.1 allows it), and an operation whose answers have no body (a 204) accepts any `Accept`.
 */
function producedTypes(def: RouteDef): string[] {
  const out = new Set<string>();
  for (const [status, r] of Object.entries(def.responses)) if (Number(status) < 400) for (const m of Object.keys(r.bodies)) out.add(m);
  return [...out];
}
