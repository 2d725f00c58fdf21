// Request ids: every answer carries `X-Request-Id`, and every log line about the request has
// it. A client's own id is kept when it is sane (a short token of URL-safe characters, so it
// can go into a log line and a header as it is); otherwise the service makes one up.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HeadList } from "../generated/index.js";

const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
const ID = Symbol("requestId");
type Tagged = IncomingMessage & { [ID]?: string };

// Unique across instances (a random prefix per process) and cheap (a counter behind it).
const prefix = randomBytes(6).toString("base64url");
let counter = 0;

/** The request's id: the client's `X-Request-Id` when sane, else a new one. Remembered on `req`. */
export function assignRequestId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  const id = typeof given === "string" && SANE.test(given) ? given : `${prefix}-${(++counter).toString(36)}`;
  (req as Tagged)[ID] = id;
  return id;
}

/** The id assigned to this request (undefined for one that never reached the listener). */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return (req as Tagged)[ID];
}

/**
 * The answer's `X-Request-Id`, for answers the generated router does not write (it adds the
 * header to its own with `addRequestId`, in the one `writeHead` of the answer).
 */
export function setRequestIdHeader(req: IncomingMessage, res: ServerResponse): void {
  const id = (req as Tagged)[ID];
  if (id !== undefined && !res.headersSent) res.setHeader("X-Request-Id", id);
}

/** The router's `addHeaders`: the request's id among the headers of its answer. */
export function addRequestId(req: IncomingMessage, head: HeadList): void {
  const id = (req as Tagged)[ID];
  if (id !== undefined) head.push("X-Request-Id", id);
}
