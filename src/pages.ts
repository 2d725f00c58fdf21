// The pages beside the API: the health check, the HTML reference and problem+json for paths
// the API does not have. Three fixed routes need no framework; the service loads none, which
// keeps its start-up short (importing Express alone took ~120 ms, a third of it).
import type { IncomingMessage, ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
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

let docs: Buffer | undefined;
function docsHtml(): Buffer {
  // From src/ or from dist/src/: the project root is above either.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.basename(path.dirname(here)) === "dist" ? path.resolve(here, "../..") : path.resolve(here, "..");
  docs ??= readFileSync(path.join(root, "generated/docs/index.html"));
  return docs;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}

export type PagesHandler = (req: IncomingMessage, res: ServerResponse, error?: unknown) => void;

/** Serves what the router handed on; `error` is what the router could not handle (a 500). */
export function createPages(opts: { service: JobService; logger?: Logger }): PagesHandler {
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
    // The API reference rendered from the spec by ramlgen (generated/docs/index.html).
    if (readOnly && page === "/docs") {
      send(req, res, 200, "text/html; charset=utf-8", docsHtml(), { "Content-Security-Policy": DOCS_CSP });
      return;
    }
    sendProblem(res, problem(404, `no resource at ${pathname}`), SECURITY_HEADERS);
  };
}
