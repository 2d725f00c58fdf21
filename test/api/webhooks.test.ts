// Completion push: a receiver on 127.0.0.1 (allowed by configuration here) gets the ended
// job, signed in the Standard Webhooks style; failed attempts are retried with backoff; a
// pending delivery survives a crash of the server; polling keeps working meanwhile.
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { isPrivateAddress } from "../../src/jobs/webhooks.js";
import { call } from "../helpers/http.js";
import { spawnServer } from "../helpers/process.js";
import { startTestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver answering with the given statuses in turn (then 200). */
async function receiver(statuses: number[] = [], port = 0) {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const p = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${p}/hook`, port: p, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function verify(r: Received): boolean {
  const id = r.headers["webhook-id"] as string;
  const ts = r.headers["webhook-timestamp"] as string;
  const key = Buffer.from(SECRET.slice("whsec_".length), "base64");
  const expected = `v1,${createHmac("sha256", key).update(`${id}.${ts}.${r.body}`).digest("base64")}`;
  return (r.headers["webhook-signature"] as string).split(" ").includes(expected);
}

const until = async (check: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  return check();
};

const env = { WEBHOOK_SECRET: SECRET, CALLBACK_ALLOWED_HOSTS: "127.0.0.1", CALLBACK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "100" };

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("completion push on %s", (kind) => {
  it("POSTs the ended job once, signed, and retries with backoff until accepted", async () => {
    const hook = await receiver([500, 503]);
    const s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env });
    try {
      const id = (await call("POST", `${s.url}/resources`, { body: { name: "pushed", callbackUrl: hook.url } })).json.id;
      expect((await call("GET", `${s.url}/resources/${id}`)).status).toBe(200);
      await call("PUT", `${s.url}/tasks/${id}`, { body: { result: { ok: true } } });
      expect(await until(() => hook.got.length === 3)).toBe(true);
      for (const r of hook.got) {
        expect(verify(r)).toBe(true);
        expect(r.headers["content-type"]).toBe("application/json");
        expect(JSON.parse(r.body)).toMatchObject({ id, status: "SUCCESS", result: { ok: true } });
      }
      // The same webhook-id on every attempt, so that receivers can deduplicate.
      expect(new Set(hook.got.map((r) => r.headers["webhook-id"])).size).toBe(1);
      await new Promise((r) => setTimeout(r, 500));
      expect(hook.got.length).toBe(3);
      // The job's history says it was delivered, at the third attempt.
      const events = (await call("GET", `${s.url}/resources/${id}/events`)).json.events;
      expect(events.map((e: { type: string }) => e.type)).toEqual(["created", "succeeded", "webhook-delivered"]);
      expect(events[2]).toMatchObject({ url: hook.url, deliveryAttempts: 3 });
      // Polling still works as the fallback.
      expect((await call("GET", `${s.url}/resources/${id}`)).status).toBe(303);
      expect(s.invalidResponses).toEqual([]);
    } finally {
      await s.close();
      await hook.close();
    }
  });

  it("a job cancelled because a job it depends on failed is pushed too, and so is its own dependant", async () => {
    const hook = await receiver();
    const s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env });
    try {
      const parent = (await call("POST", `${s.url}/resources`, { body: { name: "parent", maxAttempts: 1 } })).json.id;
      const child = (await call("POST", `${s.url}/resources`, { body: { name: "child", dependsOn: [parent], callbackUrl: hook.url } })).json.id;
      const grandchild = (await call("POST", `${s.url}/resources`, { body: { name: "grandchild", dependsOn: [child], callbackUrl: hook.url } })).json.id;
      await call("PUT", `${s.url}/tasks/${parent}`, { body: { status: "FAILED", error: { title: "no" } } });
      expect(await until(() => hook.got.length === 2)).toBe(true);
      const pushed = hook.got.map((r) => JSON.parse(r.body) as { id: string; status: string; error: { type: string; detail: string } });
      expect(pushed.map((p) => p.id).sort()).toEqual([child, grandchild].sort());
      for (const p of pushed) expect(p).toMatchObject({ status: "CANCELLED", error: { type: "urn:async-api:dependency-failed" } });
      expect(pushed.find((p) => p.id === grandchild)!.error.detail).toBe(`job ${child} ended CANCELLED`);
      for (const r of hook.got) expect(verify(r)).toBe(true);
    } finally {
      await s.close();
      await hook.close();
    }
  });

  it("a pending delivery survives kill -9 of the server", async () => {
    const db = freshDatabaseUrl(kind);
    // The receiver is down while the job ends.
    const probe = await receiver();
    const port = probe.port;
    await probe.close();
    const first = await spawnServer({ DATABASE_URL: db, ...env });
    const id = (await call("POST", `${first.url}/resources`, { body: { name: "durable", callbackUrl: `http://127.0.0.1:${port}/hook` } })).json.id;
    await call("DELETE", `${first.url}/resources/${id}`);
    await new Promise((r) => setTimeout(r, 300));
    first.child.kill("SIGKILL");
    await first.exited;
    const hook = await receiver([], port);
    const second = await spawnServer({ DATABASE_URL: db, ...env });
    try {
      expect(await until(() => hook.got.length >= 1, 15_000)).toBe(true);
      expect(JSON.parse(hook.got[0]!.body)).toMatchObject({ id, status: "CANCELLED" });
      expect(verify(hook.got[0]!)).toBe(true);
    } finally {
      second.child.kill("SIGKILL");
      await hook.close();
    }
  });
});

describe("callback URLs", () => {
  it("are refused unless http(s), allowed, and not private (unless configured)", async () => {
    const strict = await startTestServer({ env: { WEBHOOK_SECRET: SECRET, CALLBACK_ALLOWED_HOSTS: "hooks.example" } });
    const off = await startTestServer();
    try {
      const post = (url: string, callbackUrl: string) => call("POST", `${url}/resources`, { body: { name: "x", callbackUrl } });
      for (const bad of ["ftp://hooks.example/x", "http://127.0.0.1/x", "http://other.example/x", "https://user:pw@hooks.example/x"]) {
        const r = await post(strict.url, bad);
        expect(r.status, bad).toBe(400);
        expect(r.json.errors[0].field).toBe("body/callbackUrl");
      }
      expect((await post(strict.url, "https://hooks.example/x")).status).toBe(202);
      const disabled = await post(off.url, "https://hooks.example/x");
      expect(disabled.status).toBe(400);
      expect(disabled.json.errors[0].detail).toMatch(/not enabled/);
    } finally {
      await strict.close();
      await off.close();
    }
  });

  it("knows loopback and private ranges", () => {
    for (const a of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "::1", "fd00::1", "::ffff:10.0.0.1", "0.0.0.0"]) expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ["93.184.216.34", "2606:4700::1111", "172.32.0.1"]) expect(isPrivateAddress(a), a).toBe(false);
  });
});
