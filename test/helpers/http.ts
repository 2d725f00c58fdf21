// Real HTTP on 127.0.0.1 for tests.
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";

export async function listen(handler: RequestListener): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export async function call(
  method: string,
  url: string,
  opts: { body?: unknown; raw?: string | Buffer | FormData | undefined; headers?: Record<string, string> | undefined } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | Buffer | FormData | undefined = opts.raw;
  // A FormData sets its own Content-Type, with the boundary.
  if (body instanceof FormData) for (const k of Object.keys(headers)) if (k.toLowerCase() === "content-type") delete headers[k];
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }), redirect: "manual" });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** `call` with these headers on every request (a request's own headers win). */
export function withHeaders(headers: Record<string, string>): typeof call {
  return (method, url, opts = {}) => call(method, url, { ...opts, headers: { ...headers, ...(opts.headers ?? {}) } });
}

/** Sends bytes as they are and returns the raw response head and body. */
export function rawRequest(port: number, data: string | Buffer, waitMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(), waitMs);
    sock.on("data", (c) => chunks.push(c));
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
    sock.on("error", reject);
    sock.write(data);
  });
}
