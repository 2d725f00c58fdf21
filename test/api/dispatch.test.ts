// Push dispatch (DISPATCH_URL): each new job is POSTed to the backend with a lease token,
// signed like the completion webhooks; deliveries the backend does not accept are retried
// without spending attempts; a job waiting for dispatch survives a restart; the backend
// finishes jobs with PUT /tasks/{id} like a pulled job, and a lease it lets expire brings the
// job back for another dispatch.
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { call } from "../helpers/http.js";
import { spawnServer } from "../helpers/process.js";
import { startTestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  task: { id: string; name?: string; attempt: number; leaseToken: string; leaseSeconds: number; leaseExpiresAt: string; input?: unknown };
}

/** A backend: answers each delivery with the next status (then 200) and calls `then` with the task. */
async function backend(statuses: number[] = [], then?: (d: Delivery) => void, port = 0) {
  const got: Delivery[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const d = { headers: req.headers, body, task: JSON.parse(body) };
      got.push(d);
      res.statusCode = statuses.shift() ?? 200;
      res.end();
      if (res.statusCode === 200) setImmediate(() => then?.(d));
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const p = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${p}/jobs`, port: p, got, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

function signed(d: Delivery): boolean {
  const key = Buffer.from(SECRET.slice("whsec_".length), "base64");
  const expected = `v1,${createHmac("sha256", key).update(`${d.headers["webhook-id"]}.${d.headers["webhook-timestamp"]}.${d.body}`).digest("base64")}`;
  return String(d.headers["webhook-signature"]).split(" ").includes(expected);
}

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 15_000) => {
  for (const end = Date.now() + ms; !(await check()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

afterAll(() => dropTestSchemas());

describe("dispatch configuration", () => {
  it("needs a signing secret and an http(s) URL", () => {
    expect(() => loadConfig({ DISPATCH_URL: "http://127.0.0.1:1/x" })).toThrow(/WEBHOOK_SECRET/);
    expect(() => loadConfig({ DISPATCH_URL: "ftp://x/y", WEBHOOK_SECRET: SECRET })).toThrow(/http or https/);
    expect(loadConfig({ DISPATCH_URL: "http://b/x", WEBHOOK_SECRET: SECRET, DISPATCH_NAMES: "a, b" }).dispatch).toEqual({ url: "http://b/x", names: ["a", "b"], concurrency: 16, leaseSeconds: 300 });
  });
});

describe.each(STORE_KINDS)("push dispatch on %s", (kind) => {
  it("POSTs each new job with a lease token, signed; the backend finishes it with PUT /tasks/{id}", async () => {
    let base = "";
    const b = await backend([], (d) => void call("PUT", `${base}/tasks/${d.task.id}`, { body: { leaseToken: d.task.leaseToken, status: "SUCCESS", result: { handled: d.task.input } } }));
    const s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { WEBHOOK_SECRET: SECRET, DISPATCH_URL: b.url, DISPATCH_LEASE_SECONDS: "60" } });
    base = s.url;
    try {
      const ids = await Promise.all([1, 2, 3].map(async (n) => (await call("POST", `${s.url}/resources`, { body: { name: "pushed", input: { n } } })).json.id as string));
      await until("all three to succeed", async () => (await Promise.all(ids.map((id) => call("GET", `${s.url}/resources/${id}`)))).every((r) => r.status === 303));
      expect(b.got).toHaveLength(3);
      for (const d of b.got) {
        expect(signed(d)).toBe(true);
        expect(d.headers["content-type"]).toBe("application/json");
        expect(d.task).toMatchObject({ name: "pushed", attempt: 1, leaseSeconds: 60, leaseToken: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
      }
      expect(new Set(b.got.map((d) => d.headers["webhook-id"])).size).toBe(3);
      for (const id of ids) {
        const job = (await call("GET", `${s.url}/resources/${id}`)).json;
        expect(job).toMatchObject({ status: "SUCCESS", attempts: 1, result: { handled: job.input } });
      }
      expect(s.invalidResponses).toEqual([]);
    } finally {
      await s.close();
      await b.close();
    }
  });

  it("retries deliveries the backend does not accept, without spending attempts", async () => {
    let base = "";
    const b = await backend([500, 503], (d) => void call("PUT", `${base}/tasks/${d.task.id}`, { body: { leaseToken: d.task.leaseToken, status: "SUCCESS" } }));
    const s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { WEBHOOK_SECRET: SECRET, DISPATCH_URL: b.url, WEBHOOK_BACKOFF_MS: "100" } });
    base = s.url;
    try {
      const id = (await call("POST", `${s.url}/resources`, { body: { name: "bumpy", maxAttempts: 1 } })).json.id;
      await until("success", async () => (await call("GET", `${s.url}/resources/${id}`)).status === 303);
      expect(b.got).toHaveLength(3);
      expect(b.got.map((d) => d.task.attempt)).toEqual([1, 1, 1]);
      expect(new Set(b.got.map((d) => d.task.leaseToken)).size).toBe(3);
      expect((await call("GET", `${s.url}/resources/${id}`)).json).toMatchObject({ status: "SUCCESS", attempts: 1 });
    } finally {
      await s.close();
      await b.close();
    }
  });

  it("a cancelled job is not dispatched; a lease the backend lets expire brings the job back for another dispatch", async () => {
    const b = await backend(); // accepts, and never reports
    const s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { WEBHOOK_SECRET: SECRET, DISPATCH_URL: b.url, DISPATCH_LEASE_SECONDS: "5", DISPATCH_NAMES: "dispatched" } });
    try {
      // Not a dispatched name: stays for pulling workers.
      const pulled = (await call("POST", `${s.url}/resources`, { body: { name: "pulled" } })).json.id;
      const id = (await call("POST", `${s.url}/resources`, { body: { name: "dispatched", maxAttempts: 2 } })).json.id;
      await until("the first dispatch", () => b.got.length === 1);
      await until("the lease to expire and the job to be dispatched again", () => b.got.length === 2, 10_000);
      expect(b.got.map((d) => [d.task.id, d.task.attempt])).toEqual([
        [id, 1],
        [id, 2],
      ]);
      // The first lease's token is dead; the second one works.
      expect((await call("PUT", `${s.url}/tasks/${id}`, { body: { leaseToken: b.got[0]!.task.leaseToken, status: "SUCCESS" } })).json.type).toBe("urn:async-api:lease-mismatch");
      await call("DELETE", `${s.url}/resources/${id}`);
      expect((await call("PUT", `${s.url}/tasks/${id}`, { body: { leaseToken: b.got[1]!.task.leaseToken, progress: 5 } })).json.type).toBe("urn:async-api:job-cancelled");
      expect((await call("GET", `${s.url}/resources/${pulled}`)).json).toMatchObject({ status: "IN PROGRESS", attempts: 0 });
      await new Promise((r) => setTimeout(r, 6000));
      expect(b.got).toHaveLength(2);
    } finally {
      await s.close();
      await b.close();
    }
  }, 30_000);

  it("a job created while the backend is down is dispatched after a restart of the service", async () => {
    const db = freshDatabaseUrl(kind);
    const down = await backend([503, 503, 503, 503, 503, 503, 503, 503]);
    const port = down.port;
    // A kill during a delivery leaves the job leased: it is dispatched again when that lease runs out.
    const env = { DATABASE_URL: db, WEBHOOK_SECRET: SECRET, DISPATCH_URL: down.url, WEBHOOK_BACKOFF_MS: "200", DISPATCH_LEASE_SECONDS: "5" };
    let server = await spawnServer(env);
    const id = (await call("POST", `${server.url}/resources`, { body: { name: "patient" } })).json.id;
    await until("a refused delivery", () => down.got.length >= 1);
    server.child.kill("SIGKILL");
    await server.exited;
    await down.close();
    const up = await backend([], undefined, port);
    try {
      server = await spawnServer(env);
      await until("the delivery after the restart", () => up.got.length === 1);
      // Attempt 1 if the refused delivery was given back before the kill, 2 if its lease had to run out.
      expect(up.got[0]!.task).toMatchObject({ id, attempt: expect.any(Number) });
      expect([1, 2]).toContain(up.got[0]!.task.attempt);
      expect(signed(up.got[0]!)).toBe(true);
    } finally {
      server.child.kill("SIGKILL");
      await up.close();
    }
  }, 30_000);
});
