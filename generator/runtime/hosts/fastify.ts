// The Fastify host: the router as a Fastify plugin, `app.register(plugin)`, serving the spec's
// paths under its base path (and under the plugin's `prefix`), with Fastify's hooks, logging
// and error handling around it. Typed by shape, so the generated code needs no `fastify`
// package to compile; `app.register` checks it against Fastify's own types.
import type { IncomingMessage, ServerResponse } from "node:http";
import { problem, type ProblemDetails } from "../problems.js";
import { CONSUMED, type RawBody } from "../request-body.js";
import { problemBody, type HeadList } from "../response.js";
import { buildCore, DEFAULT_BODY_LIMIT, type Host, type MultipartReader } from "../router.js";
import type { CoreOptions, Operation, RequestHeaders, RouteDef, SecuritySchemeDef } from "../types.js";
import { drain, NodeContext, nodeHost, readStream } from "./node.js";

/** What the plugin uses of a Fastify request. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
  url: string;
  headers: RequestHeaders;
  body?: unknown;
  ip?: string | undefined;
}

/** What the plugin uses of a Fastify reply. */
export interface FastifyReplyLike {
  raw: ServerResponse;
  sent: boolean;
  code(status: number): FastifyReplyLike;
  header(name: string, value: unknown): FastifyReplyLike;
  send(payload?: unknown): FastifyReplyLike;
}

/** What the plugin uses of a Fastify instance. */
export interface FastifyInstanceLike {
  prefix: string;
  removeAllContentTypeParsers(): unknown;
  addContentTypeParser(contentType: string, parser: (request: any, payload: any, done: (err: Error | null, body?: any) => void) => void): unknown;
  setErrorHandler(handler: (error: any, request: any, reply: any) => unknown): unknown;
  route(options: { method: string[]; url: string; bodyLimit?: number; handler: (request: any, reply: any) => Promise<unknown> }): unknown;
}

/** `app.register(plugin)` (a Fastify plugin callback). */
export type FastifyPlugin = (instance: FastifyInstanceLike, options: unknown, done: (error?: Error) => void) => void;

/** A request's context on Fastify: its `request` and `reply`, and node's `req` and `res` under them. */
export class FastifyContext extends NodeContext {
  constructor(
    readonly request: FastifyRequestLike,
    readonly reply: FastifyReplyLike,
    url: string,
  ) {
    super(request.raw, reply.raw, url);
  }

  override get remoteAddress(): string | undefined {
    return this.request.ip ?? this.req.socket.remoteAddress;
  }
}

export interface FastifyOptions extends CoreOptions<FastifyContext> {
  /**
   * Who parses request bodies: `"router"` (the default) reads every body itself, as on every
   * other host; `"fastify"` lets the app's content-type parsers (Fastify's JSON and text ones,
   * `@fastify/formbody`, its own) parse what they know and takes their value.
   */
  parsers?: "router" | "fastify" | undefined;
}

const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

const fastifyHost: Host<FastifyContext> = {
  parseQuery: nodeHost.parseQuery,
  hasBody: (ctx) => nodeHost.hasBody(ctx) || ctx.request.body !== undefined,
  readBody(ctx, limit): Promise<RawBody> {
    // A content-type parser of the app's read it: its value.
    if (ctx.request.body !== undefined) return Promise.resolve({ parsed: ctx.request.body });
    if (ctx.req.readableEnded) return Promise.resolve(CONSUMED);
    return readStream(ctx.req, limit);
  },
  send(ctx, status, head, body) {
    const reply = ctx.reply.code(status);
    for (let i = 0; i < head.length; i += 2) reply.header(String(head[i]), head[i + 1]);
    reply.send(body instanceof Uint8Array && !Buffer.isBuffer(body) ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : body);
    if (!ctx.req.complete) drain(ctx.req);
  },
  answered: (ctx) => ctx.reply.sent || ctx.res.headersSent,
};

/** The problem a Fastify body parser's error stands for, if it is one. */
function parserProblem(error: { code?: string; statusCode?: number; message?: string }): ProblemDetails | undefined {
  if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return problem(413, "the request body is larger than the limit");
  if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return problem(415, error.message);
  if (error.code === "FST_ERR_CTP_EMPTY_JSON_BODY") return problem(400, "the request body is empty", { errors: [{ field: "body", pointer: "#", detail: "a request body is required" }] });
  if (error.statusCode === 400 && (error instanceof SyntaxError || error.code === "FST_ERR_CTP_INVALID_JSON_BODY")) {
    return problem(400, `the request body is not valid JSON: ${error.message}`, { errors: [{ field: "body", pointer: "#", detail: "is not valid JSON" }] });
  }
  return undefined;
}

/** The Fastify host's plugin (what the generated `createFastifyPlugin` returns). */
export function fastifyPlugin(
  routes: RouteDef[],
  handlers: Record<string, Operation<unknown, unknown, FastifyContext>>,
  options: FastifyOptions = {},
  schemes: Record<string, SecuritySchemeDef> = {},
  specBasePath = "",
  /** A streaming multipart reader (hosts/multipart.ts), for specs with `multipart/form-data` bodies. */
  multipart?: MultipartReader<NodeContext>,
): FastifyPlugin {
  const { parsers = "router", ...core } = options;
  const dispatch = buildCore(routes, handlers, core, schemes, specBasePath, multipart ? { ...fastifyHost, readMultipart: multipart } : fastifyHost);
  const base = (options.basePath ?? specBasePath).replace(/\/+$/, "").replace(/^(?=[^/])/, "/");
  const plugin: FastifyPlugin = (instance, _opts, done) => {
    const prefix = instance.prefix;
    if (parsers === "router") instance.removeAllContentTypeParsers();
    // Media types no parser knows reach the router unread.
    instance.addContentTypeParser("*", (_request, _payload, parsed) => parsed(null, undefined));
    instance.setErrorHandler((error, _request, reply) => {
      const p = parserProblem(error);
      if (!p) throw error;
      const head: HeadList = [];
      const body = problemBody(p, head);
      reply.code(p.status).header(String(head[0]), head[1]).send(body);
    });
    const handler = async (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      const ctx = new FastifyContext(request, reply, request.url.slice(prefix.length) || "/");
      await dispatch(ctx, false);
      return reply;
    };
    const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
    instance.route({ method: METHODS, url: `${base}/*`, bodyLimit, handler });
    instance.route({ method: METHODS, url: base || "/", bodyLimit, handler });
    done();
  };
  return plugin;
}
