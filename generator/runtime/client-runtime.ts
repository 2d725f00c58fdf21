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

export async function send(
  opts: ClientOptions,
  method: string,
  specBasePath: string,
  pathTemplate: string,
  request: RequestParts,
  /** The declared answers by status; "undeclared" when the spec declares none (any is taken as it is). */
  responses: Record<number, ResponseSpec> | "undeclared",
  call: CallOptions = {},
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
  for (const [k, v] of Object.entries(request.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  let body: string | undefined;
  if (request.body !== undefined) {
    const mediaType = request.mediaType ?? "application/json";
    headers["content-type"] = mediaType;
    body = /json$/.test(mediaType) ? JSON.stringify(request.body) : String(request.body);
  }
  const init: RequestInit = { method, headers, redirect: "manual" };
  if (body !== undefined) init.body = body;
  if (call.signal) init.signal = call.signal;
  const res = await (opts.fetch ?? fetch)(url, init);
  const spec = responses === "undeclared" ? UNDECLARED : responses[res.status];
  const text = await res.text();
  if (!spec) throw new UnexpectedResponseError(res.status, text);
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
  if (spec.parse !== "none" && text !== "") {
    const contentType = (res.headers.get("content-type") ?? "").split(";")[0] ?? "";
    out.contentType = contentType;
    out.body = spec.parse === "json" || /json$/.test(contentType) ? JSON.parse(text) : text;
  }
  return out;
}
