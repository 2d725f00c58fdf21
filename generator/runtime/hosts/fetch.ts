// The Web-standard host: the router as `(request: Request) => Promise<Response>`, the handler
// shape of Bun (`Bun.serve({ fetch })`), Deno (`Deno.serve(handler)`), Cloudflare Workers
// (`export default { fetch }`), Hono (`app.mount("/", handler)`) and Node's own `Request`.
import { TOO_LARGE, CONSUMED, type RawBody } from "../request-body.js";
import { buildCore, type Host } from "../router.js";
import type { CoreOptions, HandlerContext, Operation, RequestHeaders, RouteDef, SecuritySchemeDef } from "../types.js";

/** A request's context on the fetch host: the Web `request` beside what every host gives. */
export class FetchContext implements HandlerContext {
  operation = "";
  readonly method: string;
  readonly url: string;
  readonly headers: RequestHeaders;
  readonly signal: AbortSignal;
  /** The answer, once the router has written it. */
  response: Response | undefined;

  constructor(
    readonly request: Request,
    readonly remoteAddress: string | undefined,
  ) {
    this.method = request.method;
    const url = new URL(request.url);
    this.url = url.pathname + url.search;
    const headers: RequestHeaders = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    this.headers = headers;
    this.signal = request.signal;
  }
}

/** The fetch host's options: those of every host, and where the client's address is found. */
export interface FetchOptions extends CoreOptions<FetchContext> {
  /** The client's address, where the runtime tells it another way than Deno's and Bun's. */
  remoteAddress?: ((request: Request, info: unknown) => string | undefined) | undefined;
}

/** `(request) => Promise<Response>`; the second argument is what the runtime passes (Deno's info, Bun's server). */
export type FetchHandler = (request: Request, info?: unknown) => Promise<Response>;

type ResponseBody = NonNullable<ConstructorParameters<typeof Response>[0]>;

const NO_BODY_STATUS = new Set([101, 204, 205, 304]);

const fetchHost: Host<FetchContext> = {
  parseQuery(query) {
    const out: Record<string, unknown> = {};
    for (const [name, value] of new URLSearchParams(query)) {
      const had = out[name];
      out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    return out;
  },
  hasBody: (ctx) => ctx.request.body !== null,
  readBody(ctx, limit) {
    if (ctx.request.bodyUsed) return Promise.resolve(CONSUMED);
    return readWebStream(ctx.request.body!, limit);
  },
  send(ctx, status, head, body) {
    const headers = new Headers();
    for (let i = 0; i < head.length; i += 2) headers.append(String(head[i]), String(head[i + 1]));
    const empty = body === undefined || ctx.method === "HEAD" || NO_BODY_STATUS.has(status);
    // A Uint8Array view is passed as the bytes it covers (BodyInit takes any ArrayBufferView).
    ctx.response = new Response(empty ? null : (body as ResponseBody), { status, headers });
  },
};

/** A Web stream's bytes, at most `limit` of them (the rest is not read: the runtime deals with it). */
async function readWebStream(stream: ReadableStream<Uint8Array>, limit: number): Promise<RawBody> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Deno passes `{ remoteAddr: { hostname } }`, Bun its server (`requestIP(request)`). */
function runtimeAddress(request: Request, info: unknown): string | undefined {
  const i = info as { remoteAddr?: { hostname?: string }; requestIP?: (r: Request) => { address?: string } | null } | undefined;
  if (i?.remoteAddr?.hostname) return i.remoteAddr.hostname;
  if (typeof i?.requestIP === "function") return i.requestIP(request)?.address;
  return undefined;
}

/** The fetch host's router (what the generated `createFetchHandler` returns). */
export function fetchRouter(
  routes: RouteDef[],
  handlers: Record<string, Operation<unknown, unknown, FetchContext>>,
  options: FetchOptions = {},
  schemes: Record<string, SecuritySchemeDef> = {},
  specBasePath = "",
): FetchHandler {
  const { remoteAddress, ...core } = options;
  const dispatch = buildCore(routes, handlers, core, schemes, specBasePath, fetchHost);
  return async (request, info) => {
    const ctx = new FetchContext(request, remoteAddress ? remoteAddress(request, info) : runtimeAddress(request, info));
    await dispatch(ctx, false);
    return ctx.response!;
  };
}

