// The fixture's router on each host, for the host suite: node:http, Express 5, Connect,
// Fastify, the fetch host on Node's own Request/Response, and the fetch host under Bun (in its
// own process). Each comes up on a free port and is driven the same way.
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import connect from "connect";
import express from "express";
import Fastify from "fastify";
import formbody from "@fastify/formbody";
import { createFastifyPlugin, createFetchHandler, createRouter, type FastifyOptions, type FetchHandler, type RouterOptions } from "../fixtures/full/golden/index.js";
import { fixtureHandlers, fixtureOptions, fixtureState, type FixtureState, type Mode } from "./fixture-handlers.js";

export const HOSTS = ["node:http", "express", "connect", "fastify", "fetch", "fetch on bun"] as const;
export type HostName = (typeof HOSTS)[number];

export interface HostUnderTest {
  name: HostName;
  /** Where the API is (the spec's /api/v2 included). */
  api: string;
  port: number;
  /** What the handlers saw and the router reported, since the last reset. */
  state(): Promise<Pick<FixtureState, "seen" | "invalid">>;
  reset(): Promise<void>;
  setMode(mode: Mode): Promise<void>;
  close(): Promise<void>;
}

/** Express, Connect and node:http: a middleware of the app's own runs first, and unserved paths fall through to the app. */
export const FALLTHROUGH = "fallthrough";

/**
 * Middleware of the app's own in front of the router (a body parser, say), per host: Express and
 * Connect get `express.json()` and friends; Fastify its own content-type parsers.
 */
export interface HostSetup {
  middleware?: ((req: IncomingMessage, res: ServerResponse, next: (e?: unknown) => void) => void)[];
  fastifyParsers?: "router" | "fastify" | undefined;
  /** Changes to the router options. */
  options?: Partial<RouterOptions> | undefined;
}

export async function startHost(name: HostName, setup: HostSetup = {}): Promise<HostUnderTest> {
  if (name === "fetch on bun") return startBun();
  const state = fixtureState();
  const handlers = fixtureHandlers(state);
  const options = { ...fixtureOptions(state), ...setup.options };
  let listener: RequestListener;
  let closeApp = async () => {};
  if (name === "fastify") {
    const app = Fastify();
    // The app's own parsers, in front of the plugin's context (which inherits them).
    if (setup.fastifyParsers === "fastify") await app.register(formbody);
    app.register(createFastifyPlugin(handlers, { ...(options as FastifyOptions), parsers: setup.fastifyParsers }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const port = (app.server.address() as AddressInfo).port;
    return inProcess(name, port, state, () => app.close());
  }
  if (name === "fetch") {
    listener = nodeToFetch(createFetchHandler(handlers, options as never));
  } else if (name === "node:http") {
    listener = createRouter(handlers, options);
  } else {
    const app = name === "express" ? express() : connect();
    app.use((_req: IncomingMessage, res: ServerResponse, next: () => void) => {
      res.setHeader("X-App-Middleware", "ran");
      next();
    });
    for (const m of setup.middleware ?? []) app.use(m as never);
    app.use(createRouter(handlers, options));
    app.use((_req: IncomingMessage, res: ServerResponse) => {
      res.statusCode = 404;
      res.end(FALLTHROUGH);
    });
    listener = app as unknown as RequestListener;
  }
  const server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closeApp = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return inProcess(name, (server.address() as AddressInfo).port, state, closeApp);
}

function inProcess(name: HostName, port: number, state: FixtureState, close: () => Promise<unknown>): HostUnderTest {
  return {
    name,
    port,
    api: `http://127.0.0.1:${port}/api/v2`,
    state: async () => ({ seen: [...state.seen], invalid: [...state.invalid] }),
    reset: async () => {
      state.seen.length = 0;
      state.invalid.length = 0;
    },
    setMode: async (mode) => {
      state.mode = mode;
    },
    close: async () => {
      await close();
    },
  };
}

/**
 * A node:http server in front of a fetch handler, made of Node's own Request and Response (what
 * `@hono/node-server` and the like do): the test of the fetch host where no other runtime is.
 */
export function nodeToFetch(handler: FetchHandler): RequestListener {
  return (req, res) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) for (const x of Array.isArray(v) ? v : [v]) headers.append(k, x);
    const announced = req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] ?? "0") !== "0";
    const controller = new AbortController();
    res.once("close", () => res.writableEnded || controller.abort());
    const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url}`, {
      method: req.method!,
      headers,
      signal: controller.signal,
      ...(announced ? { body: bodyStream(req), duplex: "half" } : {}),
    } as RequestInit);
    handler(request, { remoteAddr: { hostname: req.socket.remoteAddress } }).then(
      async (response) => {
        res.writeHead(response.status, [...response.headers].flat());
        if (response.body) for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
        res.end();
        // What the handler did not read of the upload is read here, as a server would.
        if (!req.complete) req.resume();
      },
      (e) => {
        res.statusCode = 500;
        res.end(String(e));
      },
    );
  };
}

/** A request body as a Web stream; what the handler cancels is read and thrown away, as a server does, not reset. */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.on("data", (c: Buffer) => {
          if (!open) return;
          controller.enqueue(new Uint8Array(c));
          if ((controller.desiredSize ?? 1) <= 0) req.pause();
        });
        req.once("end", () => open && controller.close());
        req.once("error", (e) => open && controller.error(e));
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        open = false;
        req.resume();
      },
    },
    { highWaterMark: 1 },
  );
}

const BUN = path.resolve("node_modules/.bin/bun");

async function startBun(): Promise<HostUnderTest> {
  const child = spawn(BUN, [path.resolve("test/helpers/bun-host.ts")], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bun did not start: ${output}`)), 15_000);
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
      const m = /listening (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.once("exit", (code) => reject(new Error(`bun exited with ${code}: ${output}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    name: "fetch on bun",
    port,
    api: `${base}/api/v2`,
    state: async () => (await (await fetch(`${base}/__state`)).json()) as Pick<FixtureState, "seen" | "invalid">,
    reset: async () => void (await fetch(`${base}/__reset`)),
    setMode: async (mode) => void (await fetch(`${base}/__mode/${mode}`)),
    close: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once("exit", () => r());
        child.kill();
      }),
  };
}
