// Authentication: each operation's `securedBy` alternatives tried in order with the
// application's authenticators; 401 with the schemes' challenges, or 403.
import { problem, type ProblemDetails } from "./problems.js";
import type { HandlerContext, RequestHeaders, SecurityDef, SecuritySchemeDef } from "./types.js";

/** What an authenticator is asked: the raw request (not yet validated) and what the operation requires. */
export interface AuthRequest<C extends HandlerContext = HandlerContext> {
  scheme: string;
  /** The scopes the operation requires of this scheme (OAuth 2.0 `securedBy` parameters). */
  scopes: string[];
  operation: string;
  /** Request headers as received, names in lower case. */
  headers: RequestHeaders;
  /** Query parameters as received. */
  query: Record<string, unknown>;
  /** The request's context on its host (`context.req` on node:http, `context.request` on fetch). */
  context: C;
}

/** Valid credentials that may not do this (a wrong role, a missing scope): answered 403. */
export class Forbidden {
  constructor(readonly reason?: string) {}
}

/** Return it from an authenticator for credentials that are valid but not enough here (403). */
export function forbidden(reason?: string): Forbidden {
  return new Forbidden(reason);
}

/**
 * Checks one security scheme's credentials: the principal (any value the application
 * chooses) when they are valid, undefined when they are missing or invalid (401), or
 * `forbidden()` (403). A principal with a `scopes` array must hold every scope the operation
 * requires, or the answer is 403. An authenticator that throws is a 500, never a pass.
 */
export type Authenticator<P, C extends HandlerContext = HandlerContext> = (request: AuthRequest<C>) => P | Forbidden | undefined | Promise<P | Forbidden | undefined>;

/** Who is calling, as handlers of secured operations get it in `request.auth`. */
export interface Auth<P, S extends string = string> {
  scheme: S;
  /** The scopes the operation required of that scheme. */
  scopes: string[];
  principal: P;
}

export type AuthOutcome = { auth: Auth<unknown> | undefined } | { problem: ProblemDetails; headers: Record<string, string> };

/** Checks that every scheme the routes use has an authenticator (at start-up, not per request). */
export function checkAuthenticators(security: SecurityDef[], authenticators: Record<string, unknown> | undefined): void {
  for (const s of security) {
    for (const alt of s.alternatives) {
      if (!authenticators?.[alt.scheme]) throw new Error(`createRouter: no authenticator for security scheme ${JSON.stringify(alt.scheme)} (options.security)`);
    }
  }
}

export async function authenticate<C extends HandlerContext>(
  security: SecurityDef,
  authenticators: Record<string, Authenticator<unknown, C>>,
  schemes: Record<string, SecuritySchemeDef>,
  ctx: C,
  query: Record<string, unknown>,
): Promise<AuthOutcome> {
  let denied: { reason?: string; insufficient?: { scheme: string; scopes: string[] } } | undefined;
  for (const alt of security.alternatives) {
    const result = await authenticators[alt.scheme]!({ scheme: alt.scheme, scopes: alt.scopes, operation: ctx.operation, headers: ctx.headers, query, context: ctx });
    if (result === undefined || result === null) continue;
    if (result instanceof Forbidden) {
      denied ??= result.reason === undefined ? {} : { reason: result.reason };
      continue;
    }
    const granted = (result as { scopes?: unknown }).scopes;
    if (alt.scopes.length && Array.isArray(granted) && !alt.scopes.every((s) => granted.includes(s))) {
      denied ??= { reason: `this needs the scopes ${alt.scopes.join(" ")}`, insufficient: alt };
      continue;
    }
    return { auth: { scheme: alt.scheme, scopes: alt.scopes, principal: result } };
  }
  if (denied) {
    const headers: Record<string, string> = {};
    // RFC 6750: an OAuth 2.0 token without the scope says which scope it lacks.
    if (denied.insufficient && schemes[denied.insufficient.scheme]?.type === "OAuth 2.0") {
      headers["WWW-Authenticate"] = `${schemes[denied.insufficient.scheme]!.challenge}, error="insufficient_scope", scope="${denied.insufficient.scopes.join(" ")}"`;
    }
    return { problem: problem(403, denied.reason ?? "these credentials may not do this"), headers };
  }
  if (security.anonymous) return { auth: undefined };
  const challenges = [...new Set(security.alternatives.map((a) => challengeOf(schemes[a.scheme])))].filter(Boolean);
  return { problem: problem(401, "this needs credentials the server accepts"), headers: challenges.length ? { "WWW-Authenticate": challenges.join(", ") } : {} };
}

/** A scheme's challenge; Digest gets a fresh nonce on every answer (Web Crypto: every host has it). */
function challengeOf(scheme: SecuritySchemeDef | undefined): string {
  if (!scheme) return "";
  if (scheme.type !== "Digest Authentication") return scheme.challenge;
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  return `${scheme.challenge}, nonce="${nonce}"`;
}
