// The mock's HTTP side, around the generated router: CORS for front ends on their own dev
// server's origin (preflights answered with what the spec declares for the path, the declared
// response headers exposed), and one readable line per request with its verdict.
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { ApiModel, Operation } from "../model/model.js";
import { allowedMethods, RouteTable } from "../runtime/route-table.js";
import type { HeadList, RouteDef } from "../runtime/types.js";

export interface MockHttpOptions {
  /** Answer CORS (default on): the request's origin is allowed. */
  cors: boolean;
  /** Where each request's line goes (default: standard output). */
  log: ((line: string) => void) | undefined;
  /** `POST /__mock/reset`: the mock starts over from the spec. */
  reset?: (() => void) | undefined;
}

/** Outside any spec's paths: the mock's own. */
export const RESET_PATH = "/__mock/reset";

/** What the router reported of a request while answering it. */
export interface Verdicts {
  /** The mock's own answer broke the spec (it is answered 500). */
  answerInvalid: WeakMap<IncomingMessage, string>;
  operation: WeakMap<IncomingMessage, string>;
}

/** Per operation, what CORS says of it: the request headers it may send, the response headers it may read. */
function corsOf(op: Operation, model: ApiModel): { request: string[]; expose: string[] } {
  const request = new Set(op.headers.map((h) => h.name.toLowerCase()));
  if (op.bodies.length) request.add("content-type");
  // The mock's own: Prefer chooses among the declared answers.
  request.add("prefer");
  for (const alt of op.security?.alternatives ?? []) {
    const scheme = model.securitySchemes.find((s) => s.name === alt.scheme);
    for (const h of scheme?.headers ?? []) request.add(h.name.toLowerCase());
    if (scheme && !scheme.headers.length && !scheme.query.length) request.add("authorization");
  }
  const expose = new Set(op.responses.flatMap((r) => r.headers.map((h) => h.name)));
  return { request: [...request].sort(), expose: [...expose].sort() };
}

/** The router's options that add CORS headers to its answers and record its verdicts. */
export function mockRouterHooks(model: ApiModel, opts: MockHttpOptions, verdicts: Verdicts) {
  const byName = new Map(model.operations.map((op) => [op.name, corsOf(op, model)]));
  return {
    onRoute: (operation: string, req: IncomingMessage) => void verdicts.operation.set(req, operation),
    onResponseValidationError: (f: { operation: string; errors: { field: string; detail: string }[] }, req: IncomingMessage) =>
      verdicts.answerInvalid.set(req, `${f.errors[0]?.field ?? "answer"} ${f.errors[0]?.detail ?? ""}`.trim()),
    addHeaders: (req: IncomingMessage, head: HeadList) => {
      const origin = req.headers.origin;
      if (!opts.cors || !origin) return;
      head.push("Access-Control-Allow-Origin", origin, "Access-Control-Allow-Credentials", "true", "Vary", "Origin");
      const op = verdicts.operation.get(req);
      const expose = op ? byName.get(op)?.expose : undefined;
      if (expose?.length) head.push("Access-Control-Expose-Headers", expose.join(", "));
    },
  };
}

/** The listener: preflights answered here, everything else by the router, each request logged. */
export function mockListener(model: ApiModel, table: RouteDef[], router: RequestListener, opts: MockHttpOptions, verdicts: Verdicts): RequestListener {
  const routes = new RouteTable(table);
  const corsByOp = new Map(model.operations.map((op) => [op.name, corsOf(op, model)]));
  const log = opts.log ?? ((line: string) => console.log(line));
  return (req, res) => {
    const started = performance.now();
    const body = captureProblem(res);
    res.once("finish", () => log(line(req, res, body(), verdicts, performance.now() - started)));
    const origin = req.headers.origin;
    if (opts.cors && origin && req.method === "OPTIONS" && req.headers["access-control-request-method"]) return preflight(req, res, origin);
    if (opts.reset && req.method === "POST" && (req.url ?? "/").split("?")[0] === RESET_PATH) return reset(req, res, origin);
    router(req, res);
  };

  function reset(req: IncomingMessage, res: ServerResponse, origin: string | undefined): void {
    req.resume();
    opts.reset!();
    res.writeHead(204, opts.cors && origin ? { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", Vary: "Origin" } : {});
    res.end();
  }

  function preflight(req: IncomingMessage, res: ServerResponse, origin: string): void {
    const pathname = (req.url ?? "/").split("?")[0]!;
    if (opts.reset && pathname === RESET_PATH) {
      res.writeHead(204, { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Access-Control-Allow-Methods": "POST", "Access-Control-Max-Age": "600", Vary: "Origin" });
      res.end();
      return;
    }
    const matches = routes.match(pathname);
    if (!matches.length) {
      res.writeHead(404, { "Access-Control-Allow-Origin": origin, Vary: "Origin" });
      res.end();
      return;
    }
    const headers = new Set<string>();
    for (const m of matches) for (const h of corsByOp.get(m.route.def.operation)?.request ?? []) headers.add(h);
    res.writeHead(204, {
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Allow-Credentials": "true",
      "Access-Control-Allow-Methods": allowedMethods(matches),
      "Access-Control-Allow-Headers": [...headers].sort().join(", "),
      "Access-Control-Max-Age": "600",
      Vary: "Origin",
    });
    res.end();
  }
}

/** Keeps the body of a problem answer, to say what was wrong; other bodies are not kept. */
function captureProblem(res: ServerResponse): () => string {
  let kept = "";
  const end = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    const chunk = args[0];
    // (The router writes its headers as a list with the status: they are not in getHeader's map.)
    if (res.statusCode >= 400 && (typeof chunk === "string" || chunk instanceof Uint8Array) && chunk.length < 65_536) kept = String(chunk);
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.end;
  return () => kept;
}

/** `POST /orders 201 12 ms, valid` or `POST /orders 400 3 ms, request invalid: body/name is required (+1 more)`. */
function line(req: IncomingMessage, res: ServerResponse, problemText: string, verdicts: Verdicts, ms: number): string {
  const status = res.statusCode;
  let verdict = "valid";
  const bad = verdicts.answerInvalid.get(req);
  if (bad) verdict = `the mock's answer broke the spec: ${bad}`;
  else if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) verdict = `CORS preflight for ${req.headers["access-control-request-method"]}`;
  else if (req.url?.split("?")[0] === RESET_PATH && status === 204) verdict = "state reset to the spec's";
  else if (status >= 400) {
    let p: { detail?: string; title?: string; errors?: { field: string; detail: string }[] } = {};
    try {
      p = JSON.parse(problemText) as typeof p;
    } catch {
      // not a problem body
    }
    const first = p.errors?.[0];
    const more = (p.errors?.length ?? 0) > 1 ? ` (+${p.errors!.length - 1} more)` : "";
    verdict = first ? `request invalid: ${first.field} ${first.detail}${more}` : (p.detail ?? p.title ?? "refused");
  }
  return `ramlgen mock: ${req.method} ${req.url} ${status} ${ms.toFixed(0)} ms, ${verdict}`;
}
