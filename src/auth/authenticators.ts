// The job API's authenticators, one per security scheme of spec/api.raml: an API key as
// `Authorization: Bearer <key>`, looked up in the key ring; the scheme decides which roles
// it admits (a valid key of another role is a 403). Failures are logged with the principal,
// when the key is known, and the client's address, never with the key.
import { timingSafeEqual } from "node:crypto";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import { forbidden, type AuthRequest, type NodeContext, type SecurityHandlers } from "../../generated/index.js";
import { requestIdOf } from "../request-id.js";
import { basePath } from "../../generated/router.js";
import type { KeyRing, Principal, Role } from "./keys.js";

/** A caller as the handlers see it. `open`: the service runs without keys (anyone is admin, no job has an owner). */
export interface Caller extends Principal {
  open?: boolean | undefined;
}

export const OPEN_ACCESS: Caller = { name: "anonymous", role: "admin", open: true };

/** The key of `Authorization: Bearer <key>`, if that is what the header holds. */
export function bearerKey(header: string | string[] | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const m = /^Bearer +([\x21-\x7e]{1,400})$/i.exec(header.trim());
  return m?.[1];
}

const REMEMBERED = Symbol("authorization");
type Remembering = Socket & { [REMEMBERED]?: { header: Buffer; version: number; caller: Readonly<Principal> } };

/**
 * The caller whose `Authorization` header this connection presented last, if it presents the
 * same one again under the same keys: a client sends one header with every request of a
 * keep-alive connection, and hashing its key again each time was about 3% of a poll's CPU.
 * The header is compared in constant time: a proxy may carry several clients' requests on one
 * connection.
 */
function remembered(socket: Remembering, header: string, version: number): Readonly<Principal> | undefined {
  const r = socket[REMEMBERED];
  if (!r || r.version !== version || r.header.length !== header.length) return undefined;
  return timingSafeEqual(r.header, Buffer.from(header, "latin1")) ? r.caller : undefined;
}

/** What a failed authentication's log line says about the request (built only when one is logged). */
function where(req: AuthRequest<NodeContext>) {
  return { reqId: requestIdOf(req.context.req), operation: req.operation, remote: req.context.remoteAddress };
}

export function authenticators(keys: KeyRing | undefined, logger: Logger): SecurityHandlers<Caller, NodeContext> {
  const scheme =
    (roles: Role[], area: string) =>
    (req: AuthRequest<NodeContext>): Caller | ReturnType<typeof forbidden> | undefined => {
      if (!keys) return OPEN_ACCESS;
      const header = req.headers.authorization;
      const socket = req.context.req.socket as Remembering;
      let caller = header === undefined ? undefined : remembered(socket, header, keys.version);
      if (!caller) {
        const key = bearerKey(header);
        if (key === undefined) {
          logger.info({ ...where(req), reason: header === undefined ? "no Authorization header" : "not a Bearer key" }, "authentication failed");
          return undefined;
        }
        caller = keys.lookup(key);
        if (!caller) {
          logger.warn({ ...where(req), reason: "unknown key" }, "authentication failed");
          return undefined;
        }
        socket[REMEMBERED] = { header: Buffer.from(header as string, "latin1"), version: keys.version, caller };
      }
      if (!roles.includes(caller.role)) {
        // The resource asked for (a client's scheme covers /resources and /schedules).
        const at = `/${(req.context.req.url ?? "").slice(basePath.length).split(/[/?]/)[1] ?? ""}`;
        const used = area.includes(at) ? at : area;
        logger.warn({ ...where(req), principal: caller.name, role: caller.role, reason: `a ${caller.role} key on ${used}` }, "authentication failed");
        return forbidden(`a ${caller.role}'s key may not use ${used}`);
      }
      return caller;
    };
  return {
    clientKey: scheme(["client", "admin"], "/resources /schedules"),
    workerKey: scheme(["worker", "admin"], "/tasks"),
    adminKey: scheme(["admin"], "/admin"),
  };
}

/**
 * For pages outside the API (/metrics): whether the request carries an admin's key. Without
 * keys the service runs open and everyone is admin.
 */
export function adminCheck(keys: KeyRing | undefined): (authorization: string | string[] | undefined) => 200 | 401 | 403 {
  return (authorization) => {
    if (!keys) return 200;
    const key = bearerKey(authorization);
    const caller = key === undefined ? undefined : keys.lookup(key);
    if (!caller) return 401;
    return caller.role === "admin" ? 200 : 403;
  };
}

/** Whether a caller may see a job: its owner, an admin, or anyone when the service runs open. */
export function maySee(caller: Caller, owner: string | undefined): boolean {
  return caller.open === true || caller.role === "admin" || owner === caller.name;
}
