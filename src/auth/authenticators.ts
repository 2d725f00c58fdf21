// The job API's authenticators, one per security scheme of spec/api.raml: an API key as
// `Authorization: Bearer <key>`, looked up in the key ring; the scheme decides which roles
// it admits (a valid key of another role is a 403). Failures are logged with the principal,
// when the key is known, and the client's address, never with the key.
import type { Logger } from "pino";
import { forbidden, type AuthRequest, type SecurityHandlers } from "../../generated/index.js";
import { requestIdOf } from "../request-id.js";
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

export function authenticators(keys: KeyRing | undefined, logger: Logger): SecurityHandlers<Caller> {
  const scheme =
    (roles: Role[], area: string) =>
    (req: AuthRequest): Caller | ReturnType<typeof forbidden> | undefined => {
      if (!keys) return OPEN_ACCESS;
      const where = { reqId: requestIdOf(req.req), operation: req.operation, remote: req.req.socket.remoteAddress };
      const key = bearerKey(req.headers.authorization);
      if (key === undefined) {
        logger.info({ ...where, reason: req.headers.authorization === undefined ? "no Authorization header" : "not a Bearer key" }, "authentication failed");
        return undefined;
      }
      const caller = keys.lookup(key);
      if (!caller) {
        logger.warn({ ...where, reason: "unknown key" }, "authentication failed");
        return undefined;
      }
      if (!roles.includes(caller.role)) {
        logger.warn({ ...where, principal: caller.name, role: caller.role, reason: `a ${caller.role} key on ${area}` }, "authentication failed");
        return forbidden(`a ${caller.role}'s key may not use ${area}`);
      }
      return caller;
    };
  return {
    clientKey: scheme(["client", "admin"], "/resources"),
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
