// Problem answers (RFC 9457): their shape, the titles of the statuses the router answers by
// itself, and ajv's errors said as the fields they are about (`body/name`, `query/limit`).
import type { FieldError, Operation, ProblemDetails, ValidationErrorObject } from "./types.js";

export type { FieldError, ProblemDetails };

export const PROBLEM_JSON = "application/problem+json";

/** Throw from a handler to answer with a problem that the spec does not list for the operation. */
export class HttpProblem extends Error {
  constructor(readonly problem: ProblemDetails, readonly headers: Record<string, string> = {}) {
    super(problem.detail ?? problem.title);
    this.name = "HttpProblem";
  }
}

const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** A status's reason phrase, as RFC 9110 names it ("Error" for one it does not list here). */
export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? "Error";
}

export function problem(status: number, detail?: string, extra: Partial<ProblemDetails> = {}): ProblemDetails {
  const p: ProblemDetails = { type: "about:blank", title: statusTitle(status), status };
  if (detail !== undefined) p.detail = detail;
  return Object.assign(p, extra);
}

/** A 400 about the body as a whole (not JSON, not UTF-8, too deep), with its one field error. */
export function bodyProblem(detail: string, fieldDetail: string): ProblemDetails {
  return problem(400, detail, { errors: [{ field: "body", pointer: "#", detail: fieldDetail }] });
}

/** ajv errors as field errors: `body/name`, `query/limit`. */
export function fieldErrors(location: string, errors: ValidationErrorObject[] | null | undefined): FieldError[] {
  const out: FieldError[] = [];
  let list = errors ?? [];
  // For `T | nil` (and other unions) ajv reports every branch; the summary and the nil
  // branch say nothing the other errors do not.
  // A discriminated union's `if` says only that its member's `then` failed: those errors say how.
  list = closestMembers(list);
  const specific = list.filter((e) => e.keyword !== "anyOf" && e.keyword !== "if" && !(e.keyword === "type" && e.params["type"] === "null"));
  if (specific.length) list = specific;
  for (const e of list) {
    let pointer = e.instancePath;
    if (e.keyword === "required") pointer += `/${escapePointer(String(e.params["missingProperty"]))}`;
    else if (e.keyword === "additionalProperties") pointer += `/${escapePointer(String(e.params["additionalProperty"]))}`;
    const field = location + pointer.split("/").map(unescapePointer).join("/");
    let detail = e.message ?? e.keyword;
    if (e.keyword === "additionalProperties") detail = "is not allowed";
    else if (e.keyword === "required") detail = "is required";
    else if (e.keyword === "minProperties" || e.keyword === "maxProperties") detail = `must have ${e.keyword === "minProperties" ? "at least" : "at most"} ${counted(Number(e.params["limit"]), location)}`;
    else if (e.keyword === "enum") detail = `must be one of ${(e.params["allowedValues"] as unknown[]).map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ")}`;
    out.push({ field, pointer: `#${pointer}`, detail });
  }
  // A union reports each failed branch; one line per field and message is enough.
  const seen = new Set<string>();
  return out.filter((f) => {
    const key = `${f.field}\u0000${f.detail}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * A union none of whose members matched: ajv reports every member's failures, most of them
 * about members the value was never meant to be. Only the failures of the member(s) it came
 * closest to (the fewest failures) are kept.
 */
function closestMembers(list: ValidationErrorObject[]): ValidationErrorObject[] {
  for (const union of list.filter((e) => e.keyword === "anyOf" && e.schemaPath !== undefined).sort((a, b) => a.schemaPath!.length - b.schemaPath!.length)) {
    const prefix = `${union.schemaPath}/`;
    const byMember = new Map<string, ValidationErrorObject[]>();
    for (const e of list) {
      if (!e.schemaPath?.startsWith(prefix)) continue;
      const member = e.schemaPath.slice(prefix.length).split("/", 1)[0]!;
      byMember.set(member, [...(byMember.get(member) ?? []), e]);
    }
    if (byMember.size < 2) continue;
    const fewest = Math.min(...[...byMember.values()].map((m) => m.length));
    const dropped = new Set([...byMember.values()].filter((m) => m.length > fewest).flat());
    list = list.filter((e) => !dropped.has(e));
  }
  return list;
}

/** "1 parameter", "3 properties": what a query's or an object's count is of. */
function counted(n: number, location: string): string {
  const [one, many] = location === "query" || location === "headers" ? ["parameter", "parameters"] : ["property", "properties"];
  return `${n} ${n === 1 ? one : many}`;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}
function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** Handlers for operations that are not implemented yet answer 501. */
export function notImplemented(operation: string): Operation<unknown, never> {
  return () => {
    throw new HttpProblem(problem(501, `${operation} is not implemented yet`));
  };
}
