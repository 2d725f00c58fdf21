// The small runtime behind the generated fetch-based client. `ramlgen generate` copies this
// file verbatim next to client.ts; it needs nothing but the platform's fetch.

export interface ClientOptions {
  /** Where the API is, e.g. `http://127.0.0.1:3000` (the spec's baseUri path is added). */
  baseUrl: string;
  /** The path the API is served under, instead of the spec's baseUri path (as the router's `basePath`). */
  basePath?: string | undefined;
  /** A fetch implementation; default: the global one. */
  fetch?: typeof fetch | undefined;
  /** Headers sent with every request (authentication, tracing). */
  headers?: Record<string, string> | undefined;
  /** The `Authorization` header of every request, e.g. `Bearer <key>` (a request's own header wins). */
  authorization?: string | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface ResponseSpec {
  /** Declared response headers and how to read them. */
  headers: [name: string, kind: "string" | "number" | "boolean"][];
  parse: "json" | "text" | "raw" | "none";
}

/** The server answered with a status the spec does not declare for the operation. */
export class UnexpectedResponseError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`unexpected status ${status}`);
    this.name = "UnexpectedResponseError";
  }
}

// `| undefined` on each: callers' types may spell an absent part either way
// (exactOptionalPropertyTypes).
/** How an answer the spec does not describe is read: JSON when it says so, else text. */
const UNDECLARED: ResponseSpec = { headers: [], parse: "raw" };

export interface RequestParts {
  params?: Record<string, unknown> | undefined;
  query?: Record<string, unknown> | undefined;
  headers?: Record<string, unknown> | undefined;
  body?: unknown | undefined;
  mediaType?: string | undefined;
}

const isJson = (mediaType: string) => /^application\/(?:[\w.+-]+\+)?json$/i.test(mediaType);

/** A form field's values as text or files: arrays repeat the field, files keep their name. */
function* formEntries(body: unknown): Generator<[string, string | Blob]> {
  for (const [name, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === null) continue;
      yield [name, v instanceof Blob ? v : typeof v === "object" ? JSON.stringify(v) : String(v)];
    }
  }
}

/**
 * A request body as fetch sends it, for its media type: JSON text, text, a form (the browser's
 * FormData or URLSearchParams, which set the Content-Type with its boundary), or bytes as they are.
 */
function encodeBody(body: unknown, mediaType: string, headers: Record<string, string>): { body: unknown; stream: boolean } {
  const type = mediaType.toLowerCase();
  if (isJson(type)) {
    headers["content-type"] = mediaType;
    return { body: JSON.stringify(body), stream: false };
  }
  if (type === "multipart/form-data") {
    const form = new FormData();
    for (const [name, v] of formEntries(body)) {
      if (typeof v === "string") form.append(name, v);
      else form.append(name, v, typeof File !== "undefined" && v instanceof File ? v.name : name);
    }
    return { body: form, stream: false };
  }
  headers["content-type"] = mediaType;
  if (type === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams();
    for (const [name, v] of formEntries(body)) form.append(name, typeof v === "string" ? v : "");
    return { body: form.toString(), stream: false };
  }
  if (typeof body === "string" || body instanceof Blob || body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { body, stream: false };
  if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) return { body, stream: true };
  return { body: String(body), stream: false };
}

export async function send(
  opts: ClientOptions,
  method: string,
  specBasePath: string,
  pathTemplate: string,
  request: RequestParts,
  /** The declared answers by status; "undeclared" when the spec declares none (any is taken as it is). */
  responses: Record<number, ResponseSpec> | "undeclared",
  call: CallOptions = {},
  /** The request media types the operation declares, in spec order. */
  bodyTypes: string[] = [],
): Promise<unknown> {
  const base = opts.basePath === undefined ? specBasePath : opts.basePath.replace(/\/+$/, "").replace(/^(?=[^/])/, "/");
  // Parameters may sit in the base path too (a baseUri parameter without a default).
  const path = (base + pathTemplate).replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(String(request.params?.[name] ?? "")));
  const url = new URL(opts.baseUrl.replace(/\/+$/, "") + path);
  for (const [k, v] of Object.entries(request.query ?? {})) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  const headers: Record<string, string> = { ...(opts.authorization !== undefined ? { authorization: opts.authorization } : {}), ...(opts.headers ?? {}) };
  // An array is a list header: its items comma-separated (RFC 9110).
  for (const [k, v] of Object.entries(request.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : String(v);
  const init: RequestInit & { duplex?: "half" } = { method, headers, redirect: "manual" };
  if (request.body !== undefined) {
    // The declared media type when there is one; the caller's choice among several.
    const encoded = encodeBody(request.body, request.mediaType ?? bodyTypes[0] ?? "application/json", headers);
    init.body = encoded.body as NonNullable<RequestInit["body"]>;
    if (encoded.stream) init.duplex = "half";
  }
  if (call.signal) init.signal = call.signal;
  const res = await (opts.fetch ?? fetch)(url, init);
  const spec = responses === "undeclared" ? UNDECLARED : responses[res.status];
  if (!spec) throw new UnexpectedResponseError(res.status, await res.text());
  const out: { status: number; headers?: Record<string, unknown>; body?: unknown; contentType?: string } = { status: res.status };
  if (responses === "undeclared") {
    const h: Record<string, unknown> = {};
    res.headers.forEach((v, k) => (h[k] = v));
    out.headers = h;
  } else if (spec.headers.length) {
    const h: Record<string, unknown> = {};
    for (const [name, kind] of spec.headers) {
      const v = res.headers.get(name);
      if (v === null) continue;
      h[name] = kind === "number" ? Number(v) : kind === "boolean" ? v === "true" : v;
    }
    out.headers = h;
  }
  const contentType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (spec.parse === "none") {
    await res.body?.cancel();
    return out;
  }
  // Bytes stay bytes; JSON and text are read as text.
  if (spec.parse === "raw" && !isJson(contentType) && !/^text\//i.test(contentType)) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength) (out.contentType = contentType), (out.body = bytes);
    return out;
  }
  const text = await res.text();
  if (text !== "") {
    out.contentType = contentType;
    out.body = spec.parse === "json" || isJson(contentType) ? JSON.parse(text) : text;
  }
  return out;
}
