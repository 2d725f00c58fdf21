// Request bodies: the declared media type chosen (415 otherwise), the size limit (413), and
// the bytes, or the value a body parser in front of the router left, turned into what the
// handler gets: parsed JSON (no deeper than the limit), text (valid UTF-8), or bytes.
import { addField, urlencodedFields, type FormFields } from "./forms.js";
import { mediaTypeOf } from "./negotiation.js";
import { bodyProblem, problem, type ProblemDetails } from "./problems.js";
import type { RequestHeaders, RouteDef } from "./types.js";

/** The body could not be read within the limit. */
export const TOO_LARGE: unique symbol = Symbol("too large");
/** Something in front of the router read the body and left no value for it. */
export const CONSUMED: unique symbol = Symbol("consumed");
/** The body is not what its Content-Type says (a multipart body without its boundaries, say). */
export const MALFORMED: unique symbol = Symbol("malformed");

/**
 * What a host found of a request's body: its bytes, or the value a body parser in front of the
 * router left (`express.json()`'s object, `express.text()`'s string, `express.raw()`'s bytes,
 * Fastify's parsed body).
 */
export type RawBody = Uint8Array | { parsed: unknown } | typeof TOO_LARGE | typeof CONSUMED | typeof MALFORMED;

export type ReadResult = { present: boolean; body: unknown; mediaType?: string } | { problem: ProblemDetails };

export const NO_BODY: ReadResult = { present: false, body: undefined };

/** Whether the head announces a body (a length other than 0, or a transfer coding). */
export function announcesBody(headers: RequestHeaders): boolean {
  if (headers["transfer-encoding"] !== undefined) return true;
  const cl = headers["content-length"];
  return cl !== undefined && cl !== "0";
}

/** One decoder for every body: without `stream` a decode keeps nothing between calls (one made per request was 1% of a create). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Which declared body the request's Content-Type names, or the 415/413 that refuses it before
 * anything is read.
 */
export function chooseBody(def: RouteDef, headers: RequestHeaders, limit: number): { mediaType: string } | { problem: ProblemDetails } {
  const declared = Object.keys(def.bodies!);
  const rawType = headers["content-type"];
  if (typeof rawType !== "string" || !rawType) return { problem: problem(415, `a request body needs a Content-Type; accepted: ${declared.join(", ")}`) };
  const mediaType = mediaTypeOf(rawType);
  const match = declared.find((d) => d.toLowerCase() === mediaType);
  if (!match) return { problem: problem(415, `${mediaType} is not accepted here; accepted: ${declared.join(", ")}`) };
  // A multipart body's files have a limit of their own, checked as they stream.
  if (Number(headers["content-length"]) > limit && !isMultipart(match)) return tooLarge(limit);
  return { mediaType: match };
}

export const isMultipart = (mediaType: string) => mediaType.toLowerCase() === "multipart/form-data";

/**
 * A multipart body read whole and parsed by the platform's own `Response.formData()` (every
 * runtime has it): what hosts without a streaming reader do, within `bodyLimit + fileLimit`.
 */
export async function multipartFromBytes(raw: RawBody, contentType: string, fileLimit: number): Promise<RawBody> {
  if (!(raw instanceof Uint8Array)) return raw;
  let data: FormData;
  try {
    data = await new Response(raw as unknown as ConstructorParameters<typeof Response>[0], { headers: { "content-type": contentType } }).formData();
  } catch {
    return MALFORMED;
  }
  const fields: FormFields = {};
  let tooBig = false;
  data.forEach((value, name) => {
    if (typeof value === "string") return addField(fields, name, value);
    if (value.size > fileLimit) tooBig = true;
    // A part without a Content-Type is bytes (RFC 7578), whatever the platform's parser says.
    addField(fields, name, value.type ? value : new File([value], value.name, { type: "application/octet-stream" }));
  });
  return tooBig ? TOO_LARGE : { parsed: fields };
}

export const tooLarge = (limit: number) => ({ problem: problem(413, `the request body is larger than ${limit} bytes`) });

/** The handler's body from what the host read, as the declared media type says. */
export function decodeBody(parse: "json" | "text" | "raw" | "form", raw: RawBody, mediaType: string, limit: number, maxDepth: number): ReadResult {
  if (raw === TOO_LARGE) return tooLarge(limit);
  if (raw === MALFORMED) return { problem: bodyProblem(`the request body is not valid ${mediaType}`, `is not valid ${mediaType}`) };
  if (raw === CONSUMED) {
    return { problem: problem(500, "a middleware in front of the router read the request body and left no parsed value for it (req.body); mount the router before it, or use a body parser that sets req.body") };
  }
  let value: unknown = raw;
  if (!(raw instanceof Uint8Array)) {
    value = raw.parsed;
    // A body parser read it: take its value as it is where it fits the declared media type.
    if (parse === "json" && typeof value === "object" && value !== null && !(value instanceof Uint8Array)) return checkedJson(value, mediaType, maxDepth);
    if (parse === "text" && typeof value === "string") return { present: true, body: value, mediaType };
    // `express.urlencoded()`'s object, or a multipart form the host read as it streamed.
    if (parse === "form" && typeof value === "object" && value !== null && !(value instanceof Uint8Array)) return formResult(value as FormFields, mediaType);
    if (typeof value === "string") value = new TextEncoder().encode(value);
    else if (!(value instanceof Uint8Array)) {
      return { problem: problem(500, `a middleware in front of the router parsed the ${mediaType} request body into a value the router cannot take (${typeof value}); mount the router before it`) };
    }
  }
  const bytes = value as Uint8Array;
  if (parse === "raw") return { present: true, body: bytes, mediaType };
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { problem: bodyProblem("the request body is not valid UTF-8", "is not valid UTF-8") };
  }
  if (parse === "text") return { present: true, body: text, mediaType };
  if (parse === "form") return formResult(urlencodedFields(text), mediaType);
  if (text.trim() === "") return { present: false, body: undefined, mediaType };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { problem: bodyProblem(`the request body is not valid JSON: ${(e as Error).message}`, "is not valid JSON") };
  }
  return checkedJson(parsed, mediaType, maxDepth);
}

function formResult(fields: FormFields, mediaType: string): ReadResult {
  // A copy with a plain prototype: the validator may coerce and add defaults to it.
  return { present: true, body: Object.assign({}, fields), mediaType };
}

function checkedJson(parsed: unknown, mediaType: string, maxDepth: number): ReadResult {
  if (depthOf(parsed, maxDepth) > maxDepth) {
    return { problem: bodyProblem(`the request body is nested deeper than ${maxDepth} levels`, `nested deeper than ${maxDepth}`) };
  }
  return { present: true, body: parsed, mediaType };
}

/** Nesting depth of a parsed JSON value, stopping early past the limit. */
function depthOf(v: unknown, limit: number, d = 0): number {
  if (d > limit || v === null || typeof v !== "object") return d;
  let max = d + 1;
  for (const x of Array.isArray(v) ? v : Object.values(v)) {
    max = Math.max(max, depthOf(x, limit, d + 1));
    if (max > limit) break;
  }
  return max;
}
