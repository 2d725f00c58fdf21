// The generated router over real HTTP, on the fixture spec's golden output: dispatch,
// coercion and defaults, and every error answer as problem+json. Every test runs on both
// hosts: plain node:http (the router is the request listener) and Express (mounted with
// app.use, after a middleware of the app's own).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, createRouter, unimplementedHandlers, type Handlers, type ResponseValidationFailure } from "../fixtures/full/golden/index.js";
import { call, listen, rawRequest } from "../helpers/http.js";

const thing = { id: "a-1", name: "First", created: "2024-01-01T10:00:00Z", note: null };
const seen: unknown[] = [];
const invalidResponses: ResponseValidationFailure[] = [];
let mode: "ok" | "bad-body" | "bad-status" | "throw" = "ok";

const handlers: Handlers = {
  ...unimplementedHandlers(),
  listThings(req) {
    seen.push(req);
    return { status: 200, body: [thing] };
  },
  createThing(req) {
    seen.push(req);
    return { status: 201, headers: { Location: `/api/v2/things/${req.body.id}` }, body: req.body };
  },
  getThing(req) {
    seen.push(req);
    if (mode === "throw") throw new Error("boom");
    if (mode === "bad-body") return { status: 200, body: { ...thing, name: "" } };
    if (mode === "bad-status") return { status: 418 } as never;
    if (req.params["thing-id"] === "gone") return { status: 303, headers: { Location: "/elsewhere", "Retry-After": 3 } };
    return { status: 200, body: { ...thing, id: req.params["thing-id"] } };
  },
  putThingsByThingIdLabels(req) {
    seen.push(req);
    return req.mediaType === "text/plain"
      ? { status: 200, contentType: "text/plain", body: req.body.toUpperCase() }
      : { status: 200, contentType: "application/json", body: req.body };
  },
};

type Host = "node:http" | "express";
let url: string;
let port: number;
let close: () => Promise<void>;

const routerOptions = {
  bodyLimit: 1024,
  validateResponses: true,
  onResponseValidationError: (f: ResponseValidationFailure) => invalidResponses.push(f),
  onError: () => {},
  headers: { "X-Static": "on every answer" },
  addHeaders: (req: import("node:http").IncomingMessage, head: (string | number)[]) => {
    head.push("X-Answer-For", `${req.method} ${req.url}`);
  },
};

async function serve(host: Host): Promise<void> {
  if (host === "express") {
    const app = express();
    app.use((_req, res, next) => {
      res.setHeader("X-App-Middleware", "ran");
      next();
    });
    app.use(createRouter(handlers, routerOptions));
    app.use((_req, res) => res.status(404).send("fallthrough"));
    const s = await listen(app);
    ({ url, close } = s);
    port = Number(new URL(s.url).port);
  } else {
    const server = createServer(createRouter(handlers, routerOptions));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
    close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  }
  url = `${url}/api/v2`;
}

const problemOf = (r: { status: number; headers: Headers; json: { status: number; title: string } }, status: number) => {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(r.json.status).toBe(status);
  expect(typeof r.json.title).toBe("string");
};

describe.each(["node:http", "express"] as const)("generated router on %s", (host) => {
  beforeAll(() => serve(host));
  afterAll(() => close());

  it("honours the baseUri path prefix and leaves other paths to the app (or answers them 404 alone)", async () => {
    expect((await call("GET", `${url}/things`)).status).toBe(200);
    const outside = await call("GET", url.replace("/api/v2", "") + "/things");
    expect(outside.status).toBe(404);
    if (host === "express") expect(outside.text).toBe("fallthrough");
    else problemOf(outside, 404);
  });

  it("puts its static headers and those addHeaders adds on every answer it writes, problems included", async () => {
    const answers = [
      ["GET", "/things", 200],
      ["GET", "/things/gone", 303],
      ["POST", "/things", 400, { id: "BAD ID" }],
      ["PATCH", "/things", 405],
      ["OPTIONS", "/things", 204],
    ] as const;
    for (const [method, p, status, body] of answers) {
      const r = await call(method, `${url}${p}`, body === undefined ? {} : { body });
      expect(r.status).toBe(status);
      expect(r.headers.get("x-static")).toBe("on every answer");
      expect(r.headers.get("x-answer-for")).toBe(`${method} /api/v2${p}`);
    }
  });

  it.runIf(host === "express")("runs the app's middleware before it, as any Express middleware", async () => {
    expect((await call("GET", `${url}/things`)).headers.get("x-app-middleware")).toBe("ran");
    expect((await call("PATCH", `${url}/things`)).headers.get("x-app-middleware")).toBe("ran");
  });

  it("matches non-identifier path parameters ({thing-id}) and decodes them", async () => {
    const r = await call("GET", `${url}/things/b-2`);
    expect(r.status).toBe(200);
    expect(r.json.id).toBe("b-2");
    const encoded = await call("GET", `${url}/things/a%2Db`);
    expect(encoded.json.id).toBe("a-b");
  });

  it("coerces query and header parameters and applies RAML defaults", async () => {
    seen.length = 0;
    await call("GET", `${url}/things?flags=true&ids=a-1&ids=b-2&color=red`, { headers: { "X-Request-Id": "r1" } });
    expect(seen[0]).toMatchObject({ query: { flags: true, ids: ["a-1", "b-2"], color: "red", limit: 10 }, headers: { "x-request-id": "r1" } });
    seen.length = 0;
    await call("GET", `${url}/things?limit=7`);
    expect(seen[0]).toMatchObject({ query: { limit: 7 } });
    seen.length = 0;
    await call("GET", `${url}/things/a-1`);
    expect(seen[0]).toMatchObject({ headers: { "x-version": 1 } });
  });

  it("answers invalid input with 400 listing every failing field by location", async () => {
    const r = await call("POST", `${url}/things?`, { body: { id: "BAD ID", created: "yesterday", extra: 1 }, headers: { "X-Request-Id": "x".repeat(65) } });
    problemOf(r, 400);
    const fields = r.json.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(["body/created", "body/extra", "body/id", "body/name", "body/note", "headers/x-request-id"]);
    const q = await call("GET", `${url}/things?limit=0&color=pink`);
    problemOf(q, 400);
    expect(q.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["query/color", "query/limit"]);
    const p = await call("GET", `${url}/things/NOT_VALID`);
    problemOf(p, 400);
    expect(p.json.errors[0].field).toBe("path/thing-id");
  });

  it("answers malformed JSON with 400", async () => {
    const r = await call("POST", `${url}/things`, { raw: '{"id": ', headers: { "content-type": "application/json" } });
    problemOf(r, 400);
    expect(r.json.errors[0].field).toBe("body");
  });

  it("answers a missing required body with 400", async () => {
    const r = await call("POST", `${url}/things`);
    problemOf(r, 400);
    expect(r.json.errors[0]).toMatchObject({ field: "body", detail: "a request body is required" });
  });

  it("answers an undeclared method on a known path with 405 and Allow", async () => {
    const r = await call("PATCH", `${url}/things`);
    problemOf(r, 405);
    expect(r.headers.get("allow")).toBe("GET, HEAD, OPTIONS, POST");
  });

  it("answers an unsupported request media type with 415", async () => {
    const r = await call("POST", `${url}/things`, { raw: "<thing/>", headers: { "content-type": "application/xml" } });
    problemOf(r, 415);
    const none = await call("POST", `${url}/things`, { raw: "{}", headers: { "content-type": "" } });
    expect(none.status).toBe(415);
  });

  it("negotiates between declared request and response media types", async () => {
    const text = await call("PUT", `${url}/things/a-1/labels`, { raw: "hello", headers: { "content-type": "text/plain; charset=utf-8" } });
    expect(text.status).toBe(200);
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(text.text).toBe("HELLO");
    const json = await call("PUT", `${url}/things/a-1/labels`, { body: { "x-a": "1", "n-b": 2 } });
    expect(json.json).toEqual({ "x-a": "1", "n-b": 2 });
    const bad = await call("PUT", `${url}/things/a-1/labels`, { body: { other: 1 } });
    problemOf(bad, 400);
  });

  it("answers an Accept that excludes every declared response type with 406", async () => {
    const r = await call("GET", `${url}/things`, { headers: { accept: "text/html" } });
    problemOf(r, 406);
    expect((await call("GET", `${url}/things`, { headers: { accept: "application/*" } })).status).toBe(200);
  });

  it("answers a body over the limit with 413, by Content-Length and while streaming", async () => {
    const big = { ...thing, name: "n", note: "x".repeat(2000) };
    problemOf(await call("POST", `${url}/things`, { body: big }), 413);
    const head = `POST /api/v2/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    const chunk = "x".repeat(600);
    const raw = await rawRequest(port, `${head}${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw).toMatch(/content-type: application\/problem\+json/i);
  });

  it("writes declared response headers and sends 303 without a body", async () => {
    const r = await call("GET", `${url}/things/gone`);
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/elsewhere");
    expect(r.headers.get("retry-after")).toBe("3");
    expect(r.text).toBe("");
  });

  it("turns a response that violates the spec into a 500 problem and reports it", async () => {
    invalidResponses.length = 0;
    mode = "bad-body";
    try {
      problemOf(await call("GET", `${url}/things/a-1`), 500);
      mode = "bad-status";
      problemOf(await call("GET", `${url}/things/a-1`), 500);
    } finally {
      mode = "ok";
    }
    expect(invalidResponses.map((f) => [f.operation, f.errors[0]!.field])).toEqual([
      ["getThing", "body/name"],
      ["getThing", "status"],
    ]);
  });

  it("answers a handler that throws with a 500 problem that leaks nothing", async () => {
    mode = "throw";
    try {
      const r = await call("GET", `${url}/things/a-1`);
      problemOf(r, 500);
      expect(r.text).not.toMatch(/boom|at |\.ts/);
    } finally {
      mode = "ok";
    }
  });

  it("answers operations without a handler with 501", async () => {
    const r = await call("DELETE", `${url}/things/a-1`);
    problemOf(r, 501);
    expect(r.json.detail).toMatch(/removeThing/);
  });
});

describe("basePath replaces the spec's baseUri path", () => {
  it("mounted with app.use('/api', …) and basePath '' it serves /api/things, not /api/api/v2/things; the client follows", async () => {
    const app = express();
    app.use("/api", createRouter(handlers, { ...routerOptions, basePath: "" }));
    app.use((_req, res) => res.status(404).send("fallthrough"));
    const s = await listen(app);
    try {
      expect((await call("GET", `${s.url}/api/things`)).json).toEqual([thing]);
      expect((await call("GET", `${s.url}/api/api/v2/things`)).status).toBe(404);
      const client = new ApiClient({ baseUrl: `${s.url}/api`, basePath: "" });
      const got = await client.getThing({ params: { "thing-id": "a-7" } });
      expect(got).toMatchObject({ status: 200, body: { id: "a-7" } });
    } finally {
      await s.close();
    }
  });

  it.each([["/v9"], ["v9/"]])("on node:http with basePath %s it serves /v9/things only; the client follows", async (basePath) => {
    const s = await listen(createRouter(handlers, { ...routerOptions, basePath }));
    try {
      expect((await call("GET", `${s.url}/v9/things`)).json).toEqual([thing]);
      expect((await call("GET", `${s.url}/api/v2/things`)).status).toBe(404);
      const client = new ApiClient({ baseUrl: s.url, basePath });
      expect(await client.listThings()).toMatchObject({ status: 200, body: [thing] });
      // Without basePath the client uses the spec's /api/v2, which this router no longer serves.
      await expect(new ApiClient({ baseUrl: s.url }).listThings()).rejects.toThrow(/unexpected status 404/);
    } finally {
      await s.close();
    }
  });

  it.each(["node:http", "express"] as const)("on %s, an answer's own header replaces a static one of the same name (one line, not two)", async (host) => {
    // Static headers with the names of an answer's own: the answer's win, as an object's keys would.
    const options = { ...routerOptions, headers: { "X-Static": "on every answer", Location: "static", "Content-Type": "text/x-static" } };
    let s: Awaited<ReturnType<typeof listen>>;
    if (host === "express") {
      const app = express();
      app.use(createRouter(handlers, options));
      s = await listen(app);
    } else {
      s = await listen(createRouter(handlers, options));
    }
    try {
      const port = Number(new URL(s.url).port);
      const raw = await rawRequest(port, "GET /api/v2/things/gone HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const lines = raw.split("\r\n\r\n")[0]!.split("\r\n").map((l) => l.toLowerCase());
      expect(lines[0]).toMatch(/^http\/1\.1 303/);
      expect(lines.filter((l) => l.startsWith("location:"))).toEqual(["location: /elsewhere"]);
      expect(lines.filter((l) => l.startsWith("x-static:"))).toEqual(["x-static: on every answer"]);
      const json = await rawRequest(port, "GET /api/v2/things/a-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const jsonLines = json.split("\r\n\r\n")[0]!.split("\r\n").map((l) => l.toLowerCase());
      expect(jsonLines.filter((l) => l.startsWith("content-type:"))).toEqual(["content-type: application/json; charset=utf-8"]);
      // Problems too: their media type replaces the static one.
      const missing = await rawRequest(port, "PATCH /api/v2/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const problemLines = missing.split("\r\n\r\n")[0]!.split("\r\n").map((l) => l.toLowerCase());
      expect(problemLines.filter((l) => l.startsWith("content-type:"))).toEqual(["content-type: application/problem+json"]);
    } finally {
      await s.close();
    }
  });
});
