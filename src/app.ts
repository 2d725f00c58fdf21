// The service's request listener: API requests go straight to the generated router on
// node:http (no framework in their path); everything the router does not serve (the health
// check, the HTML reference, unknown paths) goes on to src/pages.ts.
import { systemClock, type Clock } from "./jobs/clock.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import cors from "cors";
import { createRouter, HttpProblem, problem, type NodeContext, type RouterHandler, type RouterOptions, type SecurityHandlers } from "../generated/index.js";
import type { Caller } from "./auth/authenticators.js";
import type { RateLimiter } from "./auth/rate-limit.js";
import { jobHandlers, type HandlerOptions } from "./handlers.js";
import type { JobService } from "./jobs/service.js";
import { createPages, SECURITY_HEADERS, type PagesOptions } from "./pages.js";
import { StoreUnavailableError } from "./jobs/store.js";
import type { Logger } from "pino";
import type { QueueSampler } from "./ops/sampler.js";
import { addRequestId, setRequestIdHeader } from "./request-id.js";

export interface AppOptions {
  service: JobService;
  longPollMaxSeconds?: number | undefined;
  callbacks?: { allowedHosts: string[]; allowPrivate: boolean } | undefined;
  /** Origins allowed by CORS; empty: no CORS headers at all. */
  corsOrigins?: string[] | undefined;
  retryAfterSeconds: number;
  /** One authenticator per security scheme of the spec (see src/auth). */
  security: SecurityHandlers<Caller, NodeContext>;
  /** Per-caller limit on job creation. */
  createLimit?: RateLimiter | undefined;
  clock?: Clock | undefined;
  /** The queue's samples (GET /admin/queues, the dashboard). */
  queue: QueueSampler;
  tracing: HandlerOptions["tracing"];
  router?: Omit<RouterOptions, "security"> | undefined;
  logger?: Logger | undefined;
  /** Prometheus text for /metrics (see src/ops/metrics.ts). */
  metrics?: PagesOptions["metrics"] | undefined;
  /** Who may read /metrics. */
  admin?: PagesOptions["admin"] | undefined;
}

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
    queue: opts.queue,
    tracing: opts.tracing,
    clock: opts.clock ?? systemClock,
  });
  const router: RouterHandler = createRouter(handlers, { mapError: mapStoreErrors, ...opts.router, security: opts.security, headers: SECURITY_HEADERS, addHeaders: addRequestId });
  const pages = createPages(opts);
  const corsMiddleware = opts.corsOrigins?.length
    ? cors({ origin: opts.corsOrigins.includes("*") ? "*" : opts.corsOrigins, exposedHeaders: ["Location", "Retry-After", "X-Request-Id"] })
    : undefined;
  const serve = (req: IncomingMessage, res: ServerResponse) =>
    router(req, res, (error) => {
      setRequestIdHeader(req, res);
      pages(req, res, error);
    });
  if (!corsMiddleware) return serve;
  // The CORS middleware answers preflights itself.
  return (req, res) => {
    setRequestIdHeader(req, res);
    corsMiddleware(req as never, res as never, () => serve(req, res));
  };
}
