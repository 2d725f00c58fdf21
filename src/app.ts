// The service's request listener: API requests go straight to the generated router on
// node:http (no framework in their path); everything the router does not serve (the health
// check, the HTML reference, unknown paths) goes on to a small Express app.
import type { IncomingMessage, ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import cors from "cors";
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import { createRouter, HttpProblem, problem, sendProblem, type RouterHandler, type RouterOptions, type SecurityHandlers } from "../generated/index.js";
import type { Caller } from "./auth/authenticators.js";
import type { RateLimiter } from "./auth/rate-limit.js";
import { jobHandlers } from "./handlers.js";
import type { JobService } from "./jobs/service.js";
import { StoreUnavailableError } from "./jobs/store.js";
import type { Logger } from "pino";

export interface AppOptions {
  service: JobService;
  longPollMaxSeconds?: number;
  callbacks?: { allowedHosts: string[]; allowPrivate: boolean };
  /** Origins allowed by CORS; empty: no CORS headers at all. */
  corsOrigins?: string[];
  retryAfterSeconds: number;
  /** One authenticator per security scheme of the spec (see src/auth). */
  security: SecurityHandlers<Caller>;
  /** Per-caller limit on job creation. */
  createLimit?: RateLimiter;
  router?: Omit<RouterOptions, "security">;
  logger?: Logger;
}

let docs: string | undefined;
function docsHtml(): string {
  // From src/ or from dist/src/: the project root is above either.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.basename(path.dirname(here)) === "dist" ? path.resolve(here, "../..") : path.resolve(here, "..");
  docs ??= readFileSync(path.join(root, "generated/docs/index.html"), "utf8");
  return docs;
}

/** An API that serves JSON needs no active content: forbid sniffing and everything else. */
export const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
};

const securityHeaders: RequestHandler = (_req, res, next) => {
  for (const k in SECURITY_HEADERS) res.setHeader(k, SECURITY_HEADERS[k]);
  next();
};

/** The database being away is the service's temporary state, not a bug: 503, retry soon. */
export function mapStoreErrors(e: unknown): HttpProblem | undefined {
  if (e instanceof StoreUnavailableError) return new HttpProblem(problem(503, "the job store is unavailable; retry shortly"), { "Retry-After": "1" });
  return undefined;
}

/** The node:http request listener of the service. */
export function createRequestListener(opts: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const handlers = jobHandlers(opts.service, {
    retryAfterSeconds: opts.retryAfterSeconds,
    longPollMaxSeconds: opts.longPollMaxSeconds ?? 30,
    callbacks: opts.callbacks,
    createLimit: opts.createLimit,
  });
  const router: RouterHandler = createRouter(handlers, { mapError: mapStoreErrors, ...opts.router, security: opts.security, headers: SECURITY_HEADERS });
  const pages = createPagesApp(opts);
  const corsMiddleware = opts.corsOrigins?.length
    ? cors({ origin: opts.corsOrigins.includes("*") ? "*" : opts.corsOrigins, exposedHeaders: ["Location", "Retry-After"] })
    : undefined;
  const serve = (req: IncomingMessage, res: ServerResponse) => router(req, res, () => pages(req, res));
  if (!corsMiddleware) return serve;
  return (req, res) => corsMiddleware(req as never, res as never, () => serve(req, res));
}

/** The pages beside the API: health check, HTML reference, and problem+json for unknown paths. */
export function createPagesApp(opts: Pick<AppOptions, "service" | "logger">): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(securityHeaders);
  // Liveness and readiness: 200 when the store answers, 503 when it does not.
  app.get("/healthz", async (_req, res) => {
    try {
      await opts.service.store.ping();
      res.status(200).json({ status: "ok" });
    } catch {
      res.status(503).json({ status: "unavailable" });
    }
  });
  // The API reference rendered from the spec by ramlgen (generated/docs/index.html).
  app.get("/docs", (_req, res) => {
    res.setHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    res.type("html").send(docsHtml());
  });
  app.use((req, res) => sendProblem(res, problem(404, `no resource at ${req.path}`)));
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    opts.logger?.error({ err }, "unhandled error");
    sendProblem(res, problem(500, "the server failed to handle the request"));
  };
  app.use(onError);
  return app;
}
