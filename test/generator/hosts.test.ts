// The generated router on every host, through the same cases over real HTTP: node:http,
// Express 5 and Connect (mounted after a middleware of the app's own), Fastify (as a plugin),
// the fetch host on Node's own Request/Response, and the fetch host under Bun. Dispatch,
// coercion and defaults, every error answer as problem+json, bodies of every kind, and early
// refusals (413) that every client can read.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, rawRequest } from "../helpers/http.js";
import { FALLTHROUGH, HOSTS, startHost, type HostUnderTest } from "../helpers/hosts.js";
import { thing } from "../helpers/fixture-handlers.js";
import { ApiClient, UnexpectedResponseError } from "../fixtures/full/golden/index.js";

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

  it("reads urlencoded forms into typed fields, and says which field is wrong", async () => {
    const ok = await call("POST", `${url}/profiles`, { raw: "name=Grace+Hopper&age=85&tags=navy&tags=cobol&newsletter=true&color=blue", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ fields: { name: "Grace Hopper", age: 85, tags: ["navy", "cobol"], newsletter: true, color: "blue" }, files: [] });
    const one = await call("POST", `${url}/profiles`, { raw: "name=Ada&tags=solo", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(one.json.fields).toEqual({ name: "Ada", tags: ["solo"] }); // one value of an array field is an array
    const bad = await call("POST", `${url}/profiles`, { raw: "age=0x10&color=pink&tags=a&tags=b&tags=c&tags=d&extra=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
    problemOf(bad, 400);
    expect(bad.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["body/age", "body/color", "body/name", "body/tags"]);
    expect(bad.json.errors.find((e: { field: string }) => e.field === "body/age").detail).toBe("must be a decimal number");
  });

  it("reads multipart forms with files: the handler gets each file's name, type and bytes", async () => {
    const avatar = randomBytes(3000);
    const doc = randomBytes(200_000);
    const form = new FormData();
    form.append("name", "Grace");
    form.append("age", "85");
    form.append("avatar", new File([avatar], "me.png", { type: "image/png" }));
    form.append("attachments", new File([doc], "a.bin", { type: "application/octet-stream" }));
    form.append("attachments", new File([doc.subarray(0, 10)], "b.bin", { type: "application/octet-stream" }));
    const r = await fetch(`${url}/profiles`, { method: "POST", body: form });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      fields: { name: "Grace", age: 85 },
      files: [
        { field: "avatar", name: "me.png", type: "image/png", size: 3000, sha256: sha256(avatar) },
        { field: "attachments", name: "a.bin", type: "application/octet-stream", size: 200_000, sha256: sha256(doc) },
        { field: "attachments", name: "b.bin", type: "application/octet-stream", size: 10, sha256: sha256(doc.subarray(0, 10)) },
      ],
    });
  });

  it("answers a multipart form with a missing field, a wrong type, a wrong or too large file with 400 naming it, a file over the limit with 413", async () => {
    const post = async (build: (f: FormData) => void) => {
      const form = new FormData();
      build(form);
      const r = await fetch(`${url}/profiles`, { method: "POST", body: form });
      const text = await r.text();
      return { status: r.status, headers: r.headers, text, json: JSON.parse(text) };
    };
    const missing = await post((f) => f.append("age", "x"));
    problemOf(missing, 400);
    expect(missing.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["body/age", "body/avatar", "body/name"]);
    const gif = await post((f) => (f.append("name", "G"), f.append("avatar", new File([randomBytes(10)], "me.gif", { type: "image/gif" }))));
    problemOf(gif, 400);
    expect(gif.json.errors).toEqual([{ field: "body/avatar", pointer: "#/avatar", detail: "is image/gif; accepted: image/png, image/jpeg" }]);
    const big = await post((f) => (f.append("name", "G"), f.append("avatar", new File([randomBytes(60_000)], "me.png", { type: "image/png" }))));
    problemOf(big, 400);
    expect(big.json.errors).toEqual([{ field: "body/avatar", pointer: "#/avatar", detail: "is 60000 bytes, more than the 50000 allowed" }]);
    const text = await post((f) => (f.append("name", "G"), f.append("avatar", "not a file")));
    expect(text.json.errors.map((e: { field: string }) => e.field)).toEqual(["body/avatar"]);
    const over = await post((f) => (f.append("name", "G"), f.append("avatar", new File([randomBytes(10)], "a.png", { type: "image/png" })), f.append("attachments", new File([randomBytes(3 * 1024 * 1024)], "huge.bin"))));
    problemOf(over, 413);
    const broken = await call("POST", `${url}/profiles`, { raw: "--x\r\nnot a part", headers: { "content-type": "multipart/form-data; boundary=x" } });
    problemOf(broken, 400);
  });

  it("the generated client sends every body kind: the handler gets the same bytes and fields", async () => {
    const client = new ApiClient({ baseUrl: url.replace("/api/v2", "") });
    const bytes = randomBytes(900);
    const sent = await client.putAttachment({ params: { "thing-id": "a-1" }, body: bytes });
    expect(sent).toMatchObject({ status: 200, body: { size: 900, sha256: sha256(bytes) } });
    const asBlob = await client.putAttachment({ params: { "thing-id": "a-1" }, body: new Blob([bytes]) });
    expect(asBlob.body).toEqual({ size: 900, sha256: sha256(bytes) });
    const created = await client.createThing({ params: {}, body: thing });
    expect(created).toMatchObject({ status: 201, body: thing });
    const text = await client.putThingsByThingIdLabels({ params: { "thing-id": "a-1" }, body: "héllo", mediaType: "text/plain" });
    expect(text).toMatchObject({ status: 200, body: "HÉLLO" });
    const urlencoded = await client.postProfile({ params: {}, mediaType: "application/x-www-form-urlencoded", body: { name: "Grace & co", age: 85, tags: ["a=b", "c"], newsletter: false } });
    expect(urlencoded.body).toEqual({ fields: { name: "Grace & co", age: 85, tags: ["a=b", "c"], newsletter: false }, files: [] });
    const avatar = randomBytes(2048);
    const multipart = await client.postProfile({ params: {}, mediaType: "multipart/form-data", body: { name: "Grace", avatar: new File([avatar], "me.jpg", { type: "image/jpeg" }), attachments: [new Blob([bytes])] } });
    expect(multipart.body).toEqual({
      fields: { name: "Grace" },
      files: [
        { field: "avatar", name: "me.jpg", type: "image/jpeg", size: 2048, sha256: sha256(avatar) },
        { field: "attachments", name: "attachments", type: "application/octet-stream", size: 900, sha256: sha256(bytes) },
      ],
    });
  });

  it("the generated client reads a 413 as an answer, not a network error", async () => {
    const client = new ApiClient({ baseUrl: url.replace("/api/v2", "") });
    const error = await client.createThing({ params: {}, body: { ...thing, note: "x".repeat(8 * 1024 * 1024) } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).status).toBe(413);
    expect(JSON.parse((error as UnexpectedResponseError).body)).toMatchObject({ status: 413 });
  });

  it.runIf(name === "fetch on bun")("runs under Bun, not Node", async () => {
    const s = (await host.state()) as { runtime?: string };
    expect(s.runtime).toMatch(/^bun \d/);
  });
});

/**
 * The body parsers an app mounts in front: the router takes what they read (an object, a
 * string, bytes, a form) and answers as it does behind none.
 */
const PARSERS = {
  "express.json()": express.json(),
  "express.text()": express.text(),
  "express.raw()": express.raw(),
  "express.urlencoded()": express.urlencoded(),
  "all four": [express.json(), express.text(), express.raw(), express.urlencoded()],
  none: [],
} as const;

const cases: { parsers: string; host: "express" | "connect" | "fastify" }[] = [
  ...(["express", "connect"] as const).flatMap((host) => Object.keys(PARSERS).map((parsers) => ({ parsers, host }))),
  { host: "fastify", parsers: "Fastify's own and @fastify/formbody" },
];

describe.each(cases)("behind $parsers on $host", ({ parsers, host: hostName }) => {
  let host: HostUnderTest;
  let url: string;
  beforeAll(async () => {
    const middleware = [PARSERS[parsers as keyof typeof PARSERS] ?? []].flat() as never;
    host = await startHost(hostName, hostName === "fastify" ? { fastifyParsers: "fastify" } : { middleware });
    url = host.api;
  });
  afterAll(() => host?.close());

  it("answers valid and invalid bodies of every kind as it does behind none", async () => {
    const created = await call("POST", `${url}/things`, { body: thing });
    expect(created.status).toBe(201);
    expect(created.json).toEqual(thing);
    const invalid = await call("POST", `${url}/things`, { body: { id: "BAD ID", created: "yesterday", extra: 1 } });
    problemOf(invalid, 400);
    expect(invalid.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["body/created", "body/extra", "body/id", "body/name", "body/note"]);
    const missing = await call("POST", `${url}/things`);
    problemOf(missing, 400);
    const text = await call("PUT", `${url}/things/a-1/labels`, { raw: "hello", headers: { "content-type": "text/plain" } });
    expect(text.text).toBe("HELLO");
    const bytes = randomBytes(700);
    const binary = await call("PUT", `${url}/things/a-1/attachment`, { raw: bytes, headers: { "content-type": "application/octet-stream" } });
    expect(binary.json).toEqual({ size: 700, sha256: sha256(bytes) });
    const form = await call("POST", `${url}/profiles`, { raw: "name=Grace&age=85&tags=a&tags=b", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.json).toEqual({ fields: { name: "Grace", age: 85, tags: ["a", "b"] }, files: [] });
    const badForm = await call("POST", `${url}/profiles`, { raw: "age=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    problemOf(badForm, 400);
    expect(badForm.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["body/age", "body/name"]);
    const multipart = new FormData();
    multipart.append("name", "Grace");
    multipart.append("avatar", new File([bytes], "me.png", { type: "image/png" }));
    const upload = await fetch(`${url}/profiles`, { method: "POST", body: multipart });
    expect(await upload.json()).toMatchObject({ fields: { name: "Grace" }, files: [{ field: "avatar", size: 700, sha256: sha256(bytes) }] });
  });
});

describe("a middleware that reads the body and leaves nothing", () => {
  it("is answered 500 problem+json saying so, never a wait on a stream that is gone", async () => {
    const swallow = (req: import("node:http").IncomingMessage, _res: unknown, next: () => void) => {
      req.on("data", () => {});
      req.on("end", () => next());
    };
    const host = await startHost("express", { middleware: [swallow] });
    try {
      const r = await call("POST", `${host.api}/things`, { body: thing });
      problemOf(r, 500);
      expect(r.json.detail).toMatch(/middleware in front of the router read the request body/);
    } finally {
      await host.close();
    }
  });
});

describe("a discriminated union's errors", () => {
  let host: HostUnderTest;
  beforeAll(async () => {
    host = await startHost("node:http");
  });
  afterAll(() => host.close());
  const post = (body: unknown) => call("POST", `${host.api}/pets`, { body });

  it("name the discriminator and its values when the tag is unknown, and nothing else", async () => {
    const r = await post({ kind: "fish", name: "Nemo" });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual([{ field: "body/kind", pointer: "#/kind", detail: "must be one of cat, dog" }]);
    const none = await post({ name: "Nemo" });
    expect(none.json.errors).toEqual([{ field: "body/kind", pointer: "#/kind", detail: "is required" }]);
  });

  it("are those of the member the tag names, only", async () => {
    const cat = await post({ kind: "cat", name: "Tom" });
    expect(cat.json.errors).toEqual([{ field: "body/lives", pointer: "#/lives", detail: "is required" }]);
    const dog = await post({ kind: "dog", name: "Rex", goodBoy: "yes" });
    expect(dog.json.errors).toEqual([{ field: "body/goodBoy", pointer: "#/goodBoy", detail: "must be boolean" }]);
    expect((await post({ kind: "dog", name: "Rex", goodBoy: true })).status).toBe(200);
  });
});
