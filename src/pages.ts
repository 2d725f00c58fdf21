// The pages beside the API: the health check, the HTML reference and problem+json for paths
// the API does not have. Three fixed routes need no framework; the service loads none, which
// keeps its start-up short (importing Express alone took ~120 ms, a third of it).
import type { IncomingMessage, ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { problem, sendProblem } from "../generated/index.js";
import type { JobService } from "./jobs/service.js";
import { requestIdOf } from "./request-id.js";
import type { Logger } from "pino";

/** An API that serves JSON needs no active content: forbid sniffing and everything else. */
export const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
};
const DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

// From src/ or from dist/src/: the project root is above either.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.basename(path.dirname(here)) === "dist" ? path.resolve(here, "../..") : path.resolve(here, "..");

let docs: Buffer | undefined;
function docsHtml(): Buffer {
  docs ??= readFileSync(path.join(root, "generated/docs/index.html"));
  return docs;
}

/** The dashboard's files (src/dashboard, and uPlot from its package), read once on first use. */
const DASHBOARD_FILES: Record<string, [file: string, type: string]> = {
  "/dashboard": ["src/dashboard/index.html", "text/html; charset=utf-8"],
  "/dashboard/dashboard.js": ["src/dashboard/dashboard.js", "text/javascript; charset=utf-8"],
  "/dashboard/dashboard.css": ["src/dashboard/dashboard.css", "text/css; charset=utf-8"],
  "/dashboard/uPlot.iife.min.js": ["uplot/dist/uPlot.iife.min.js", "text/javascript; charset=utf-8"],
  "/dashboard/uPlot.min.css": ["uplot/dist/uPlot.min.css", "text/css; charset=utf-8"],
};
const dashboardFiles = new Map<string, Buffer>();
const require = createRequire(import.meta.url);
// Scripts and styles from this origin only; the page talks to the API of this origin only.
const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'";

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}

export type PagesHandler = (req: IncomingMessage, res: ServerResponse, error?: unknown) => void;

export interface PagesOptions {
  service: JobService;
  logger?: Logger | undefined;
  /** Prometheus text for /metrics; absent: no /metrics. */
  metrics?: (() => Promise<{ type: string; body: string }>) | undefined;
  /** Who may read /metrics (from the Authorization header): 200, or the status to answer. */
  admin?: ((authorization: string | string[] | undefined) => 200 | 401 | 403) | undefined;
}

/** Serves what the router handed on; `error` is what the router could not handle (a 500). */
export function createPages(opts: PagesOptions): PagesHandler {
  return (req, res, error) => {
    if (error !== undefined) {
      opts.logger?.error({ reqId: requestIdOf(req), err: error }, "unhandled error");
      sendProblem(res, problem(500, "the server failed to handle the request"), SECURITY_HEADERS);
      return;
    }
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q < 0 ? url : url.slice(0, q);
    const page = pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
    const readOnly = req.method === "GET" || req.method === "HEAD";
    if (readOnly && page === "/healthz") {
      // Liveness and readiness: 200 when the store answers, 503 when it does not.
      opts.service.store.ping().then(
        () => send(req, res, 200, "application/json; charset=utf-8", '{"status":"ok"}'),
        () => send(req, res, 503, "application/json; charset=utf-8", '{"status":"unavailable"}'),
      );
      return;
    }
    if (readOnly && page === "/metrics" && opts.metrics) {
      const allowed = opts.admin?.(req.headers.authorization) ?? 200;
      if (allowed === 401) return sendProblem(res, problem(401, "/metrics needs an admin's key: Authorization: Bearer <key>"), { ...SECURITY_HEADERS, "WWW-Authenticate": 'Bearer realm="metrics"' });
      if (allowed === 403) return sendProblem(res, problem(403, "only an admin's key may read /metrics"), SECURITY_HEADERS);
      opts.metrics().then(
        (m) => send(req, res, 200, m.type, m.body, { "Cache-Control": "no-store" }),
        (err) => {
          opts.logger?.error({ reqId: requestIdOf(req), err }, "metrics failed");
          sendProblem(res, problem(503, "metrics are unavailable (the job store does not answer)"), SECURITY_HEADERS);
        },
      );
      return;
    }
    const asset = readOnly ? DASHBOARD_FILES[page] : undefined;
    if (asset) {
      let body = dashboardFiles.get(page);
      if (!body) dashboardFiles.set(page, (body = readFileSync(asset[0].startsWith("uplot/") ? require.resolve(asset[0]) : path.join(root, asset[0]))));
      send(req, res, 200, asset[1], body, { "Content-Security-Policy": DASHBOARD_CSP, "Cache-Control": "no-cache" });
      return;
    }
    // The API reference rendered from the spec by ramlgen (generated/docs/index.html).
    if (readOnly && page === "/docs") {
      send(req, res, 200, "text/html; charset=utf-8", docsHtml(), { "Content-Security-Policy": DOCS_CSP });
      return;
    }
    sendProblem(res, problem(404, `no resource at ${pathname}`), SECURITY_HEADERS);
  };
}
