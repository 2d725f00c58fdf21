// The node:http host: the router as a request listener, `http.createServer(router)`, which is
// also an Express or Connect middleware, `app.use(router)` (paths it does not serve go on to
// `next`). A body that middleware in front already read (`express.json()`, `express.text()`,
// `express.raw()`, `express.urlencoded()`, any parser that leaves `req.body`) is taken as it is.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { parse as parseQuery } from "node:querystring";
import type { ProblemDetails } from "../problems.js";
import { problemBody, setHead, type HeadList } from "../response.js";
import { announcesBody, CONSUMED, TOO_LARGE, type RawBody } from "../request-body.js";
import { buildCore, type Host, type MultipartReader } from "../router.js";
import type { CoreOptions, HandlerContext, Operation, ResponseValidationFailure, RouteDef, SecuritySchemeDef } from "../types.js";

/** What the router hands on when it does not serve a request (or, with an error, cannot). */
export type Next = (error?: unknown) => void;

/**
 * The generated router: a plain `node:http` request listener. `http.createServer(router)`
 * serves the API alone (404 problem+json for other paths); `app.use(router)` mounts it in
 * Express (or Connect), which then gets `next()` for the paths it does not serve.
 */
export type RouterHandler = (req: IncomingMessage, res: ServerResponse, next?: Next) => void;

/** A request's context on node:http: its `req` and `res` beside what every host gives. */
export class NodeContext implements HandlerContext {
  operation = "";
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  private controller: AbortController | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    url = req.url ?? "/",
  ) {
    this.method = req.method ?? "GET";
    this.url = url;
    this.headers = req.headers;
  }

  get remoteAddress(): string | undefined {
    return this.req.socket.remoteAddress;
  }

  /** Made on first use only: most handlers never wait on anything the client could walk away from. */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      const res = this.res;
      if (res.destroyed && !res.writableEnded) controller.abort();
      else res.once("close", () => res.writableEnded || controller.abort());
    }
    return this.controller.signal;
  }
}

/**
 * The router's options on node:http. The callbacks that are told about a request get node's
 * `req` (and `res`), as plain node code expects.
 */
export interface RouterOptions extends Omit<CoreOptions<NodeContext>, "onResponseValidationError" | "onError" | "addHeaders" | "onRoute"> {
  /** Called when a handler's response violates the spec; it is answered with 500. Default: log to stderr. */
  onResponseValidationError?: ((failure: ResponseValidationFailure, req: IncomingMessage) => void) | undefined;
  /** Called when a handler throws; it is answered with 500. Default: log to stderr. */
  onError?: ((error: unknown, operation: string, req: IncomingMessage) => void) | undefined;
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
}

/**
 * How much of a body the router reads and throws away after answering before reading it all
 * (a 413, a 401, a 415): what a client is still sending must be read, or closing the
 * connection resets it and the client (`fetch`, for one) loses the answer. Past this, the
 * connection is closed the polite way: the answer, then end of stream, still reading what
 * arrives for a moment.
 */
const DRAIN_LIMIT = 1024 * 1024;
const LINGER_MS = 2000;

type ReadRequest = IncomingMessage & { body?: unknown; _body?: boolean };

export const nodeHost: Host<NodeContext> = {
  parseQuery,
  hasBody(ctx) {
    const req = ctx.req as ReadRequest;
    return announcesBody(req.headers) || req._body === true;
  },
  readBody(ctx, limit) {
    const req = ctx.req as ReadRequest;
    // Consumed by whoever was in front (body-parser 2.x no longer sets `_body`): its value, if it left one.
    if (req.readableEnded || req._body === true) return Promise.resolve(req.body === undefined ? CONSUMED : { parsed: req.body });
    return readStream(req, limit);
  },
  send(ctx, status, head, body) {
    const { req, res } = ctx;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (body === undefined) {
      res.writeHead(status, head);
      res.end();
    } else {
      setHead(head, "Content-Length", typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
      res.writeHead(status, head);
      res.end(body);
    }
    // Answered before the body was read (or all of it): read the rest, so the answer arrives.
    if (!req.complete) drain(req);
  },
  answered: (ctx) => ctx.res.headersSent || ctx.res.writableEnded,
};

/** Answers with a problem (RFC 9457) outside the router: a page of the app's own, say. */
export function sendProblem(res: ServerResponse, p: ProblemDetails, headers: Record<string, string | number> | HeadList = {}): void {
  const head: HeadList = Array.isArray(headers) ? headers.slice() : Object.entries(headers).flat();
  nodeHost.send(new NodeContext(res.req, res), p.status, head, problemBody(p, head));
}

/** A request body's bytes, at most `limit` of them. */
export function readStream(req: IncomingMessage, limit: number): Promise<RawBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
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

/** Reads and discards the rest of a request body; past DRAIN_LIMIT, closes politely (see there). */
export function drain(req: IncomingMessage): void {
  if (req.readableEnded || req.destroyed) return;
  let left = DRAIN_LIMIT;
  const socket: Socket = req.socket;
  const onData = (c: Buffer) => {
    left -= c.length;
    if (left >= 0) return;
    req.off("data", onData);
    req.on("data", () => {});
    // The answer is queued before the end of stream; what still arrives is read, not reset.
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  req.on("data", onData);
  req.resume();
}

/** The node:http host's router (what the generated `createRouter` returns). */
export function nodeRouter(
  routes: RouteDef[],
  handlers: Record<string, Operation<unknown, unknown, NodeContext>>,
  options: RouterOptions = {},
  schemes: Record<string, SecuritySchemeDef> = {},
  specBasePath = "",
  /** A streaming multipart reader (hosts/multipart.ts), for specs with `multipart/form-data` bodies. */
  multipart?: MultipartReader<NodeContext>,
): RouterHandler {
  const { onResponseValidationError, onError, addHeaders, onRoute, ...rest } = options;
  const core: CoreOptions<NodeContext> = rest;
  if (onResponseValidationError) core.onResponseValidationError = (f, ctx) => onResponseValidationError(f, ctx.req);
  if (onError) core.onError = (e, op, ctx) => onError(e, op, ctx.req);
  if (addHeaders) core.addHeaders = (ctx, head) => addHeaders(ctx.req, head);
  if (onRoute) core.onRoute = (op, ctx) => onRoute(op, ctx.req, ctx.res);
  const dispatch = buildCore(routes, handlers, core, schemes, specBasePath, multipart ? { ...nodeHost, readMultipart: multipart } : nodeHost);
  return (req, res, next) => {
    dispatch(new NodeContext(req, res), next !== undefined).then(
      (served) => served || next!(),
      (e) => {
        // Only reached if answering itself failed (the socket went away, say).
        if (next) next(e);
        else res.destroy();
      },
    );
  };
}
