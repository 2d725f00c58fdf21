// The problem bodies the handlers answer with (RFC 9457), shared by the job, schedule and limit handlers.
import type { Problem } from "../generated/index.js";

/** 400 naming the offending field (`body/dependsOn/3`, `query/cursor`) as the router's own validation does. */
export function invalid(field: string, detail: string): Problem {
  return {
    type: "about:blank",
    title: "Bad Request",
    status: 400,
    detail: "the request does not match the API specification",
    errors: [{ field, pointer: `#/${field.split("/").slice(1).join("/")}`, detail }],
  };
}
