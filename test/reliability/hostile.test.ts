// Hostile input: every answer is the right problem+json status, never a 5xx, never a stack
// trace or an internal path, and the server stays up. Includes what Node's HTTP parser
// answers by itself (clientError), sent as raw bytes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { call as callAnonymously, rawRequest, withHeaders, type Reply } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let s: TestServer;
let port: number;
// Authentication is on: every request carries the admin's key unless it says otherwise.
const keys = writeKeys({ root: "admin", alice: "client" });
const ADMIN = `Bearer ${keys.key["root"]}`;
const call = withHeaders({ Authorization: ADMIN });

beforeAll(async () => {
  s = await startTestServer({ env: { REQUEST_TIMEOUT_SECONDS: "2", MAX_HEADER_BYTES: "8192", MAX_JSON_DEPTH: "64", API_KEYS_FILE: keys.file } });
  port = Number(new URL(s.url).port);
});
afterAll(() => s.close());
afterEach(async () => {
  // Still up, and nothing leaked into the prototype chain.
  expect((await call("GET", `${s.url}/healthz`)).status).toBe(200);
  expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  expect(s.invalidResponses).toEqual([]);
});

const LEAKS = /\bat [\w.<>]+ \(|node_modules|\/work\/|\.ts:\d+|Error:/;

function isProblem(r: Reply, status: number) {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(r.json.status).toBe(status);
  expect(r.text).not.toMatch(LEAKS);
  expect(r.headers.get("x-content-type-options")).toBe("nosniff");
}

/** Parses a raw HTTP/1.1 response. */
function parseRaw(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const [head, ...rest] = raw.split("\r\n\r\n");
  const lines = head!.split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0]!.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
}

function rawIsProblem(raw: string, status: number) {
  const r = parseRaw(raw);
  expect(r.status, raw.slice(0, 200)).toBe(status);
  expect(r.headers["content-type"]).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(r.body);
  expect(body.status).toBe(status);
  expect(r.body).not.toMatch(LEAKS);
  return r;
}

const json = { "content-type": "application/json" };

describe("bodies", () => {
  it.each([
    ["malformed JSON", '{"name": nope}'],
    ["truncated JSON", '{"name": "x", "tags": ['],
    ["JSON with a trailing comma", '{"name": "x",}'],
  ])("%s is 400", async (_what, raw) => {
    isProblem(await call("POST", `${s.url}/resources`, { raw, headers: json }), 400);
  });

  it("a lone UTF-16 surrogate (valid JSON) is stored and returned escaped", async () => {
    const r = await call("POST", `${s.url}/resources`, { raw: '{"name": "\\ud800"}', headers: json });
    expect(r.status).toBe(202);
    expect((await s.store.get(r.json.id))!.request).toEqual({ name: "\ud800" });
  });

  it("invalid UTF-8 is 400", async () => {
    const r = await call("POST", `${s.url}/resources`, { raw: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: json });
    isProblem(r, 400);
  });

  it("a body without a Content-Type is 415, a wrong one 415", async () => {
    isProblem(await call("POST", `${s.url}/resources`, { raw: '{"name":"x"}' }), 415);
    isProblem(await call("POST", `${s.url}/resources`, { raw: '{"name":"x"}', headers: { "content-type": "text/plain" } }), 415);
    isProblem(await call("POST", `${s.url}/resources`, { raw: '{"name":"x"}', headers: { "content-type": "application/jsonx" } }), 415);
  });

  it("JSON nested deeper than the limit is 400 (depth bomb)", async () => {
    const deep = "[".repeat(10_000) + "]".repeat(10_000);
    const r = await call("POST", `${s.url}/resources`, { raw: `{"name":"x","input":{"a":${deep}}}`, headers: json });
    isProblem(r, 400);
    expect(r.json.detail).toMatch(/nested deeper than 64/);
  });

  it("a body over the limit is 413", async () => {
    isProblem(await call("POST", `${s.url}/resources`, { raw: JSON.stringify({ name: "x", input: { pad: "x".repeat(2 * 1024 * 1024) } }), headers: json }), 413);
  });

  it("a slow chunked upload that never ends is cut off with 408", async () => {
    const raw = await rawRequest(
      port,
      `POST /resources HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"nam\r\n`,
      6000,
    );
    rawIsProblem(raw, 408);
  });

  it("__proto__, constructor and prototype keys pollute nothing", async () => {
    for (const key of ["__proto__", "constructor", "prototype"]) {
      const top = await call("POST", `${s.url}/resources`, { raw: `{"name":"x","${key}":{"polluted":true}}`, headers: json });
      isProblem(top, 400);
      expect(top.json.errors[0].field).toBe(`body/${key}`);
      const nested = await call("POST", `${s.url}/resources`, { raw: `{"name":"x","input":{"${key}":{"polluted":true}}}`, headers: json });
      expect(nested.status).toBe(202);
      const stored = await s.store.get(nested.json.id);
      expect(Object.getPrototypeOf((stored!.request as { input: object }).input)).toBe(Object.prototype);
      const task = await call("PUT", `${s.url}/tasks/${nested.json.id}`, { raw: `{"result":{"${key}":{"polluted":true}}}`, headers: json });
      expect(task.status).toBe(200);
    }
  });
});

describe("URLs, ids and headers", () => {
  it("a URL longer than the header limit is 431 problem+json from the parser", async () => {
    rawIsProblem(await rawRequest(port, `GET /resources/${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431);
  });

  it("a header value longer than the limit is 431", async () => {
    rawIsProblem(await rawRequest(port, `GET /resources HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(10_000)}\r\n\r\n`), 431);
  });

  it("a malformed request line is 400 problem+json from the parser", async () => {
    rawIsProblem(await rawRequest(port, "GARBAGE\r\n\r\n"), 400);
    rawIsProblem(await rawRequest(port, "GET /resources HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"), 400);
  });

  it("CR/LF in a header value is rejected by the parser, not passed on", async () => {
    rawIsProblem(await rawRequest(port, "POST /resources HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\rInjected: yes\r\nContent-Length: 0\r\n\r\n"), 400);
  });

  it("long ids are 400, ids with CR/LF or traversal are answered without injection", async () => {
    isProblem(await call("GET", `${s.url}/resources/${"a".repeat(1000)}`), 400);
    const crlf = await call("GET", `${s.url}/resources/abc%0d%0aSet-Cookie:%20x=1`);
    isProblem(crlf, 404);
    expect(crlf.headers.get("set-cookie")).toBeNull();
    for (const path of ["/resources/..%2f..%2fetc%2fpasswd", "/resources/%2e%2e", "/resources/..%2ftasks"]) {
      const r = await call("GET", `${s.url}${path}`);
      expect(r.status, path).toBeLessThan(500);
      expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    isProblem(await call("GET", `${s.url}/resources/%E0%A4%A`), 400);
  });

  it("dependsOn: too many, repeated, SQL in ids, ids not of this service: 400 naming the field, nothing stored", async () => {
    const real = (await call("POST", `${s.url}/resources`, { body: { name: "parent" } })).json.id as string;
    const before = await s.store.list({ limit: 1000 });
    const many = Array.from({ length: 1001 }, (_, i) => `${real.slice(0, 20)}${String(i).padStart(2, "0")}`.slice(0, 22));
    for (const [dependsOn, field] of [
      [many, "body/dependsOn"],
      [[real, real], "body/dependsOn"],
      [["x' OR '1'='1"], "body/dependsOn/0"],
      [[real, "AAAAAAAAAAAAAAAAAAAAAA"], "body/dependsOn/1"],
      [[real, `${real}'); DROP TABLE jobs; --`], "body/dependsOn/1"],
    ] as const) {
      const r = await call("POST", `${s.url}/resources`, { body: { name: "child", dependsOn } });
      isProblem(r, 400);
      expect(r.json.errors.map((e: { field: string }) => e.field).join(" "), JSON.stringify(dependsOn).slice(0, 80)).toContain(field);
    }
    expect((await s.store.list({ limit: 1000 })).jobs.length).toBe(before.jobs.length);
  });

  it("schedules and limits: garbage cron, time zones that are paths, huge values, long keys are 400; nothing stored", async () => {
    for (const [body, field] of [
      [{ cron: "* * * * * * * * * * *", job: { name: "x" } }, "body/cron"],
      [{ cron: "$(reboot) * * * *", job: { name: "x" } }, "body/cron"],
      [{ cron: "0 0 * * *", timezone: "../../../etc/passwd", job: { name: "x" } }, "body/timezone"],
      [{ everySeconds: 1e12, job: { name: "x" } }, "body/everySeconds"],
      [{ everySeconds: 1.5, job: { name: "x" } }, "body/everySeconds"],
      [{ everySeconds: 5, job: { name: "x", runAt: "2030-01-01T00:00:00Z" } }, "body/job/runAt"],
      [{ everySeconds: 5 }, "body/job"],
    ] as const) {
      const r = await call("POST", `${s.url}/schedules`, { body });
      isProblem(r, 400);
      expect(r.json.errors.map((e: { field: string }) => e.field).join(" "), JSON.stringify(body)).toContain(field);
    }
    expect((await call("GET", `${s.url}/schedules`)).json).toEqual({ schedules: [] });
    isProblem(await call("PUT", `${s.url}/admin/limits/name/${"a".repeat(129)}`, { body: { concurrency: 1 } }), 400);
    isProblem(await call("PUT", `${s.url}/admin/limits/name/x`, { body: { concurrency: 1e9 } }), 400);
    isProblem(await call("PUT", `${s.url}/admin/limits/name/x`, { body: { ratePerSecond: "fast" } }), 400);
    const crlf = await call("PUT", `${s.url}/admin/limits/name/a%0d%0aSet-Cookie:%20x=1`, { body: { concurrency: 1 } });
    expect(crlf.headers.get("set-cookie")).toBeNull();
    if (crlf.status === 200) {
      // Stored as the text it is (a name with a line break limits nothing else), and lifted.
      expect(crlf.json.value).toBe("a\r\nSet-Cookie: x=1");
      expect((await call("DELETE", `${s.url}/admin/limits/name/a%0d%0aSet-Cookie:%20x=1`)).status).toBe(204);
    } else isProblem(crlf, 400);
    expect((await call("GET", `${s.url}/admin/limits`)).json).toEqual({ limits: [] });
  });

  it("a created job's Location carries only its id", async () => {
    const r = await call("POST", `${s.url}/resources`, { body: { name: "x" }, headers: { "Idempotency-Key": "key%0d%0aX-Injected:1" } });
    expect(r.status).toBe(202);
    expect(r.headers.get("location")).toMatch(/^\/resources\/[A-Za-z0-9_-]{22}$/);
    expect(r.headers.get("x-injected")).toBeNull();
  });

  it.each([
    ["limit=1&limit=2", "query/limit"],
    ["limit=1e308", "query/limit"],
    ["limit=-0", "query/limit"],
    ["limit=NaN", "query/limit"],
    ["limit=Infinity", "query/limit"],
    ["limit=0x10", "query/limit"],
    ["limit=", "query/limit"],
    ["status=SUCCESS&status=FAILED", "query/status"],
  ])("?%s is 400 naming %s", async (q, field) => {
    const r = await call("GET", `${s.url}/resources?${q}`);
    isProblem(r, 400);
    expect(r.json.errors.map((e: { field: string }) => e.field)).toContain(field);
  });
});

describe("the worker operations", () => {
  const claim = (body: unknown, headers: Record<string, string> = {}) => call("POST", `${s.url}/tasks/claim`, { raw: typeof body === "string" ? body : JSON.stringify(body), headers: { ...json, ...headers } });

  it.each([
    ["no body", undefined, "body"],
    ["a worker name over 64 characters", { worker: "w".repeat(65) }, "body/worker"],
    ["a thousand names", { worker: "w", names: Array.from({ length: 1000 }, (_, i) => `n${i}`) }, "body/names"],
    ["a name that is not a string", { worker: "w", names: [{ $ne: null }] }, "body/names/0"],
    ["max as a string", { worker: "w", max: "100" }, "body/max"],
    ["max huge", { worker: "w", max: 1e300 }, "body/max"],
    ["leaseSeconds negative", { worker: "w", leaseSeconds: -30 }, "body/leaseSeconds"],
    ["leaseSeconds fractional", { worker: "w", leaseSeconds: 5.5 }, "body/leaseSeconds"],
    ["__proto__ at the top", '{"worker":"w","__proto__":{"polluted":true}}', "body/__proto__"],
  ])("a claim with %s is 400 naming %s", async (_what, body, field) => {
    const r = body === undefined ? await call("POST", `${s.url}/tasks/claim`) : await claim(body);
    isProblem(r, 400);
    expect(r.json.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it("Prefer: wait with absurd or garbage values is capped or ignored, never an error", async () => {
    for (const prefer of ["wait=999999999999", "wait=-5", "wait=abc", "wait=", "respond-async, wait=0", "x".repeat(256)]) {
      const r = await claim({ worker: "w", names: ["never-created"] }, { Prefer: prefer });
      expect(r.status, prefer).toBe(200);
      expect(r.json).toEqual({ tasks: [] });
    }
    isProblem(await claim({ worker: "w" }, { Prefer: "x".repeat(257) }), 400);
  });

  it("lease tokens that are too long, empty, of the wrong type or carry CR/LF are refused without harm", async () => {
    const id = (await call("POST", `${s.url}/resources`, { body: { name: "hostile-lease" } })).json.id;
    const put = (raw: string) => call("PUT", `${s.url}/tasks/${id}`, { raw, headers: json });
    for (const raw of [`{"leaseToken":"${"t".repeat(65)}"}`, '{"leaseToken":""}', '{"leaseToken":42}', '{"leaseToken":["a"]}', '{"release":"yes","leaseToken":"a"}']) {
      const r = await put(raw);
      isProblem(r, 400);
    }
    const crlf = await put('{"leaseToken":"abc\\r\\nX-Injected: 1","progress":5}');
    isProblem(crlf, 409);
    expect(crlf.json.type).toBe("urn:async-api:lease-mismatch");
    expect(crlf.headers.get("x-injected")).toBeNull();
    expect((await call("GET", `${s.url}/resources/${id}`)).json).toMatchObject({ status: "IN PROGRESS", attempts: 0 });
  });
});

describe("hostile credentials", () => {
  it.each([
    ["no header", undefined],
    ["an empty one", ""],
    ["the scheme alone", "Bearer"],
    ["the scheme and spaces", "Bearer    "],
    ["another scheme", `Basic ${Buffer.from("root:secret").toString("base64")}`],
    ["the key without a scheme", keys.key["root"]],
    ["a key with a space in it", `Bearer ${keys.key["root"]} extra`],
    ["a key one character off", `Bearer ${keys.key["root"]!.slice(0, -1)}${keys.key["root"]!.endsWith("A") ? "B" : "A"}`],
    ["a very long key", `Bearer ${"A".repeat(6000)}`],
    ["a key of escaped control characters", "Bearer %00%0d%0a"],
  ])("%s is 401 with a challenge, never a 5xx", async (_what, value) => {
    const headers: Record<string, string> = value === undefined ? {} : { Authorization: value };
    const r = await callAnonymously("POST", `${s.url}/resources`, { body: { name: "x" }, headers });
    isProblem(r, 401);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="Asynchronous API"');
  });

  it("a key of the wrong role is 403, and CR/LF in the header is refused by the parser before it matters", async () => {
    isProblem(await callAnonymously("POST", `${s.url}/tasks/claim`, { body: { worker: "w" }, headers: { Authorization: `Bearer ${keys.key["alice"]}` } }), 403);
    rawIsProblem(await rawRequest(port, `GET /resources HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keys.key["root"]}\r\nX: y\rInjected: 1\r\n\r\n`), 400);
    rawIsProblem(await rawRequest(port, `GET /resources HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"k".repeat(9000)}\r\n\r\n`), 431);
    // Bytes above ASCII (here UTF-8) pass the parser and are simply not a key.
    const nonAscii = rawIsProblem(await rawRequest(port, Buffer.from("GET /resources HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ключ\r\nConnection: close\r\n\r\n", "utf8")), 401);
    expect(nonAscii.headers["www-authenticate"]).toBe('Bearer realm="Asynchronous API"');
  });
});

describe("headers on every response", () => {
  it("no X-Powered-By; nosniff and a restrictive CSP everywhere; no CORS unless configured", async () => {
    for (const [method, path] of [["GET", "/resources"], ["GET", "/nope"], ["PATCH", "/resources"], ["GET", "/healthz"]]) {
      const r = await call(method!, `${s.url}${path}`, { headers: { Origin: "https://evil.example" } });
      expect(r.headers.get("x-powered-by")).toBeNull();
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(r.headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("CORS answers only the configured origins", async () => {
    const c = await startTestServer({ env: { CORS_ORIGINS: "https://app.example" } });
    try {
      const ok = await call("GET", `${c.url}/resources`, { headers: { Origin: "https://app.example" } });
      expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
      expect(ok.headers.get("access-control-expose-headers")).toMatch(/Location/);
      const other = await call("GET", `${c.url}/resources`, { headers: { Origin: "https://evil.example" } });
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await c.close();
    }
  });
});
