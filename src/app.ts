// The Express app: health check, the generated router with the job handlers, and
// problem+json for everything the router does not answer.
import express, { type ErrorRequestHandler, type Express } from "express";
import { createRouter, problem, sendProblem, type RouterOptions } from "../generated/index.js";
import { jobHandlers } from "./handlers.js";
import type { JobService } from "./jobs/service.js";
import type { Logger } from "pino";

export interface AppOptions {
  service: JobService;
  retryAfterSeconds: number;
  router?: RouterOptions;
  logger?: Logger;
  /** Whether the store answers; for readiness. */
  ready?: () => boolean;
}

export function createApp(opts: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/healthz", (_req, res) => {
    const ok = opts.ready ? opts.ready() : true;
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable" });
  });
  app.use(createRouter(jobHandlers(opts.service, { retryAfterSeconds: opts.retryAfterSeconds }), opts.router));
  app.use((req, res) => sendProblem(res, problem(404, `no resource at ${req.path}`)));
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    opts.logger?.error({ err }, "unhandled error");
    sendProblem(res, problem(500, "the server failed to handle the request"));
  };
  app.use(onError);
  return app;
}
