// Writing answers: every answer's headers as one flat list, a handler's answer checked against
// the spec (status, headers, body) and serialised, and problems. What is written is handed to
// the host's `send`, which alone knows its server.
import { preferred } from "./negotiation.js";
import { fieldErrors, problem, PROBLEM_JSON, type FieldError, type ProblemDetails } from "./problems.js";
import type { BodyDef, CoreOptions, HandlerContext, HandlerResponse, HeadList, ResponseDef, RouteDef } from "./types.js";

export type { HeadList };

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

/** Writes an answer on the host: status, headers, and a body (none when undefined). */
export type Send<C> = (ctx: C, status: number, head: HeadList, body?: string | Uint8Array) => void;

export interface Responder<C extends HandlerContext> {
  /** The headers every answer starts with: a fresh list, to which the answer adds its own. */
  head(ctx: C): HeadList;
  problem(ctx: C, p: ProblemDetails, headers?: Record<string, string>): void;
  /** A handler's answer, checked against the spec when response validation is on. */
  answer(ctx: C, def: RouteDef, out: HandlerResponse): void;
}

/** The body of a problem answer and the headers it adds to `head`. */
export function problemBody(p: ProblemDetails, head: HeadList): string {
  setHead(head, "Content-Type", PROBLEM_JSON);
  return JSON.stringify(p);
}

export function responder<C extends HandlerContext>(routes: RouteDef[], options: CoreOptions<C>, send: Send<C>): Responder<C> {
  const staticHead: HeadList = Object.entries(options.headers ?? {}).flat();
  const addHeaders = options.addHeaders;
  const validateResponses = options.validateResponses ?? (typeof process === "undefined" ? true : process.env["NODE_ENV"] !== "production");
  const onInvalid =
    options.onResponseValidationError ?? ((f) => console.error(`ramlgen: response of ${f.operation} violates the spec`, JSON.stringify(f)));
  /** Per response of every operation: its declared media types (not recomputed per answer). */
  const declaredTypes = new Map<ResponseDef, string[]>();
  for (const r of routes) for (const spec of Object.values(r.responses)) declaredTypes.set(spec, Object.keys(spec.bodies));
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

  const head = (ctx: C): HeadList => {
    const list = staticHead.slice();
    if (addHeaders) addHeaders(ctx, list);
    return list;
  };
  const sendProblem = (ctx: C, p: ProblemDetails, headers?: Record<string, string>) => {
    const list = head(ctx);
    if (headers) for (const k in headers) setHead(list, k, headers[k]!);
    send(ctx, p.status, list, problemBody(p, list));
  };
  const addOwn = (list: HeadList, headers: Record<string, unknown>) => {
    for (const k in headers) if (headers[k] !== undefined) setHead(list, k, String(headers[k]));
  };

  /** An answer to an operation whose spec declares none: as the handler gives it. */
  const undeclared = (ctx: C, out: HandlerResponse) => {
    const list = head(ctx);
    addOwn(list, out.headers ?? {});
    if (out.body === undefined) return send(ctx, out.status, list);
    const binary = out.body instanceof Uint8Array;
    const text = typeof out.body === "string";
    const payload = binary || text ? (out.body as string | Uint8Array) : JSON.stringify(out.body);
    const type = out.contentType ?? (binary ? "application/octet-stream" : text ? "text/plain" : "application/json");
    setHead(list, "Content-Type", binary ? type : `${type}; charset=utf-8`);
    send(ctx, out.status, list, payload);
  };

  const answer = (ctx: C, def: RouteDef, out: HandlerResponse) => {
    const spec = def.responses[out?.status];
    if (!spec && def.undeclaredResponses && Number.isInteger(out?.status) && out.status >= 200 && out.status <= 599) return undeclared(ctx, out);
    if (!spec) {
      onInvalid({ operation: def.operation, status: out?.status, errors: [{ field: "status", pointer: "#", detail: `status ${out?.status} is not declared` }] }, ctx);
      return sendProblem(ctx, problem(500, "the server produced a response its API does not declare"));
    }
    const declared = declaredTypes.get(spec) ?? Object.keys(spec.bodies);
    const contentType = out.contentType ?? (declared.length > 1 ? (preferred(ctx.headers, declared) ?? declared[0]) : declared[0]);
    const bodyDef = contentType ? spec.bodies[contentType] : undefined;
    const headers = out.headers ?? {};
    if (validateResponses) {
      const errs: FieldError[] = [];
      if (spec.validateHeaders && !spec.validateHeaders(headers)) errs.push(...fieldErrors("headers", spec.validateHeaders.errors));
      if (declared.length && !bodyDef) errs.push({ field: "contentType", pointer: "#", detail: `${contentType} is not declared` });
      if (!declared.length && out.body !== undefined) errs.push({ field: "body", pointer: "#", detail: "no body is declared for this status" });
      if (bodyDef?.validate && !bodyDef.validate(out.body)) errs.push(...fieldErrors("body", bodyDef.validate.errors));
      if (errs.length) {
        onInvalid({ operation: def.operation, status: out.status, errors: errs }, ctx);
        return sendProblem(ctx, problem(500, "the server produced a response that violates its API specification"));
      }
    }
    // Headers are written once, with the status.
    const list = head(ctx);
    addOwn(list, headers);
    if (!declared.length || out.body === undefined) return send(ctx, out.status, list);
    let payload: string | Uint8Array;
    if (bodyDef!.parse === "json") payload = bodyDef!.serialize ? bodyDef!.serialize(out.body) : JSON.stringify(out.body);
    else if (out.body instanceof Uint8Array) payload = out.body;
    else payload = String(out.body);
    setHead(list, "Content-Type", contentTypeOf(bodyDef!, contentType!));
    send(ctx, out.status, list, payload);
  };

  return { head, problem: sendProblem, answer };
}
