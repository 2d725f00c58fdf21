// The generated router on every host, through the same cases over real HTTP: node:http,
// Express 5 and Connect (mounted after a middleware of the app's own), Fastify (as a plugin),
// the fetch host on Node's own Request/Response, and the fetch host under Bun. Dispatch,
// coercion and defaults, every error answer as problem+json, bodies of every kind, and early
// refusals (413) that every client can read.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, rawRequest } from "../helpers/http.js";
import { FALLTHROUGH, HOSTS, startHost, type HostUnderTest } from "../helpers/hosts.js";
import { thing } from "../helpers/fixture-handlers.js";

/** curl posting a JSON body from its standard input: the status and body it printed. */
function curlPost(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("curl", ["-s", "-o", "-", "-w", "\\n%{http_code}", "-H", "content-type: application/json", "--data-binary", "@-", url]);
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stdin.on("error", () => {}); // curl may stop reading once it has the answer
    child.once("error", reject);
    child.once("close", () => {
      const cut = out.lastIndexOf("\n");
      resolve({ status: Number(out.slice(cut + 1)), body: out.slice(0, cut) });
    });
    child.stdin.end(body);
  });
}

const problemOf = (r: { status: number; headers: Headers; json: { status: number; title: string } }, status: number) => {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(r.json.status).toBe(status);
  expect(typeof r.json.title).toBe("string");
};

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.each(HOSTS)("generated router on %s", (name) => {
  let host: HostUnderTest;
  let url: string;
  beforeAll(async () => {
    host = await startHost(name);
    url = host.api;
  }, 30_000);
  afterAll(() => host?.close());

  it("honours the baseUri path prefix and leaves other paths to the app (or answers them 404 alone)", async () => {
    expect((await call("GET", `${url}/things`)).status).toBe(200);
    const outside = await call("GET", url.replace("/api/v2", "") + "/things");
    expect(outside.status).toBe(404);
    if (name === "express" || name === "connect") expect(outside.text).toBe(FALLTHROUGH);
    else if (name === "fastify") expect(outside.headers.get("content-type")).not.toMatch(/problem/); // Fastify's own 404
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
      expect(r.status, `${method} ${p}`).toBe(status);
      expect(r.headers.get("x-static")).toBe("on every answer");
      expect(r.headers.get("x-answer-for")).toBe(`${method} /api/v2${p}`);
    }
  });

  it.runIf(name === "express" || name === "connect")("runs the app's middleware before it, as any middleware", async () => {
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
    await host.reset();
    await call("GET", `${url}/things?flags=true&ids=a-1&ids=b-2&color=red`, { headers: { "X-Request-Id": "r1" } });
    await call("GET", `${url}/things?limit=7`);
    await call("GET", `${url}/things/a-1`);
    const { seen } = await host.state();
    expect(seen[0]).toMatchObject({ query: { flags: true, ids: ["a-1", "b-2"], color: "red", limit: 10 }, headers: { "x-request-id": "r1" } });
    expect(seen[1]).toMatchObject({ query: { limit: 7 } });
    expect(seen[2]).toMatchObject({ headers: { "x-version": 1 } });
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

  it("answers HEAD like GET, without a body", async () => {
    const r = await call("HEAD", `${url}/things/a-1`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(r.text).toBe("");
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

  it("hands binary bodies over byte for byte", async () => {
    await host.reset();
    const bytes = randomBytes(777);
    bytes[0] = 0xff; // not UTF-8
    const r = await call("PUT", `${url}/things/a-1/attachment`, { raw: bytes, headers: { "content-type": "application/octet-stream" } });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ size: 777, sha256: sha256(bytes) });
    const { seen } = await host.state();
    expect(seen[0]).toMatchObject({ mediaType: "application/octet-stream", body: { bytes: 777, sha256: sha256(bytes) } });
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
    const raw = await rawRequest(host.port, `${head}${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw).toMatch(/content-type: application\/problem\+json/i);
  });

  it("answers a large upload 413 so that fetch, curl and a raw socket all read the problem", async () => {
    for (const size of [64 * 1024, 5 * 1024 * 1024, 20 * 1024 * 1024]) {
      const upload = JSON.stringify({ ...thing, note: "x".repeat(size) });
      for (let i = 0; i < 3; i++) {
        const r = await call("POST", `${url}/things`, { raw: upload, headers: { "content-type": "application/json" } });
        problemOf(r, 413);
      }
    }
    const curl = await curlPost(`${url}/things`, JSON.stringify({ ...thing, note: "x".repeat(5 * 1024 * 1024) }));
    expect(curl.status).toBe(413);
    expect(JSON.parse(curl.body)).toMatchObject({ status: 413, title: "Content Too Large" });
    const payload = "x".repeat(3 * 1024 * 1024);
    const raw = await rawRequest(host.port, `POST /api/v2/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n${payload}`, 3000);
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw).toMatch(/"status":413/);
  }, 60_000);

  it("writes declared response headers and sends 303 without a body", async () => {
    const r = await call("GET", `${url}/things/gone`);
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/elsewhere");
    expect(r.headers.get("retry-after")).toBe("3");
    expect(r.text).toBe("");
  });

  it("turns a response that violates the spec into a 500 problem and reports it", async () => {
    await host.reset();
    await host.setMode("bad-body");
    try {
      problemOf(await call("GET", `${url}/things/a-1`), 500);
      await host.setMode("bad-status");
      problemOf(await call("GET", `${url}/things/a-1`), 500);
    } finally {
      await host.setMode("ok");
    }
    const { invalid } = await host.state();
    expect(invalid.map((f) => [f.operation, f.errors[0]!.field])).toEqual([
      ["getThing", "body/name"],
      ["getThing", "status"],
    ]);
  });

  it("answers a handler that throws with a 500 problem that leaks nothing", async () => {
    await host.setMode("throw");
    try {
      const r = await call("GET", `${url}/things/a-1`);
      problemOf(r, 500);
      expect(r.text).not.toMatch(/boom|at |\.ts/);
    } finally {
      await host.setMode("ok");
    }
  });

  it("answers operations without a handler with 501", async () => {
    const r = await call("DELETE", `${url}/things/a-1`);
    problemOf(r, 501);
    expect(r.json.detail).toMatch(/removeThing/);
  });

  it.runIf(name === "fetch on bun")("runs under Bun, not Node", async () => {
    const s = (await host.state()) as { runtime?: string };
    expect(s.runtime).toMatch(/^bun \d/);
  });
});
