// The job API's contract suite, over real HTTP on 127.0.0.1, run unchanged against every
// store: a real SQLite file, and a real PostgreSQL schema (see helpers/stores.ts), so the
// stores cannot drift apart. Response validation is on: every test also fails if a handler
// answered something the spec does not declare.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/jobs/clock.js";
import { call, type Reply } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("job API on %s", (kind) => {
  const startOn = (opts: Parameters<typeof startTestServer>[0] = {}) => startTestServer({ databaseUrl: freshDatabaseUrl(kind), ...opts });
  let s: TestServer;
  const post = (body?: unknown, headers?: Record<string, string>) => call("POST", `${s.url}/resources`, { body, headers });
  const poll = (id: string) => call("GET", `${s.url}/resources/${id}`);
  const put = (id: string, body?: unknown) => call("PUT", `${s.url}/tasks/${id}`, { body });
  const cancel = (id: string) => call("DELETE", `${s.url}/resources/${id}`);
  const create = async (body: unknown = { name: "job" }) => {
    const r = await post(body);
    expect(r.status).toBe(202);
    return r.json.id as string;
  };
  const isProblem = (r: Reply, status: number) => {
    expect(r.status).toBe(status);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ status, title: expect.any(String) });
  };
  const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

  beforeAll(async () => {
    s = await startOn({ env: { BODY_LIMIT_BYTES: "2048" } });
  });
  afterAll(() => s.close());
  afterEach(() => {
    expect(s.invalidResponses).toEqual([]);
  });

  describe("create and poll", () => {
    it("answers 202 with Location, Retry-After and {id, href}, only after the job is stored", async () => {
      const r = await post({ name: "nightly-report", priority: 5, tags: ["a"], input: { day: 1 } });
      expect(r.status).toBe(202);
      expect(r.json).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), href: `/resources/${r.json.id}` });
      expect(r.headers.get("location")).toBe(`/resources/${r.json.id}`);
      expect(r.headers.get("retry-after")).toBe("1");
      expect(await s.store.get(r.json.id)).toMatchObject({ status: "IN PROGRESS", request: { name: "nightly-report", priority: 5 } });
    });

    it("accepts a POST without a body", async () => {
      const r = await call("POST", `${s.url}/resources`);
      expect(r.status).toBe(202);
    });

    it("polls an IN PROGRESS job as 200 with Retry-After and an empty end, showing what the client asked for", async () => {
      const id = await create({ name: "nightly-report", priority: 5, tags: ["a", "b"], input: { day: 1, nested: { x: [1, 2] } }, maxAttempts: 7 });
      const r = await poll(id);
      expect(r.status).toBe(200);
      expect(r.headers.get("retry-after")).toBe("1");
      expect(r.json).toEqual({
        id,
        href: `/resources/${id}`,
        status: "IN PROGRESS",
        name: "nightly-report",
        priority: 5,
        tags: ["a", "b"],
        input: { day: 1, nested: { x: [1, 2] } },
        attempts: 0,
        maxAttempts: 7,
        start: expect.stringMatching(RFC3339),
        end: "",
      });
      // Defaults: priority 0, no tags, the server's JOB_MAX_ATTEMPTS; no name or input without a body.
      const bare = (await call("POST", `${s.url}/resources`)).json.id;
      expect((await poll(bare)).json).toEqual({ id: bare, href: `/resources/${bare}`, status: "IN PROGRESS", priority: 0, tags: [], attempts: 0, maxAttempts: 3, start: expect.stringMatching(RFC3339), end: "" });
    });

    it("rejects invalid job requests with 400 naming each field", async () => {
      const r = await post({ name: "", priority: 10, tags: Array(9).fill("t"), input: [], extra: true });
      isProblem(r, 400);
      expect(r.json.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        "body/extra",
        "body/input",
        "body/name",
        "body/priority",
        "body/tags",
      ]);
      isProblem(await post({}), 400);
      isProblem(await post(undefined, {}).then(() => call("POST", `${s.url}/resources`, { raw: "{not json", headers: { "content-type": "application/json" } })), 400);
    });

    it("answers 415 for a body that is not JSON and 413 for one over the limit", async () => {
      isProblem(await call("POST", `${s.url}/resources`, { raw: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } }), 415);
      isProblem(await post({ name: "big", input: { pad: "x".repeat(4096) } }), 413);
    });
  });

  describe("the full lifecycle", () => {
    it("IN PROGRESS -> progress -> SUCCESS: 200, then 303 to /result, which has the result", async () => {
      const id = await create();
      isProblem(await call("GET", `${s.url}/resources/${id}/result`), 404);
      expect((await put(id, { progress: 40 })).json).toEqual({ status: "UPDATED" });
      expect((await poll(id)).json).toMatchObject({ status: "IN PROGRESS", progress: 40 });
      expect((await put(id, { status: "SUCCESS", result: { url: "/r.pdf" } })).status).toBe(200);
      const done = await poll(id);
      expect(done.status).toBe(303);
      expect(done.headers.get("location")).toBe(`/resources/${id}/result`);
      expect(done.headers.get("location")).not.toBe(`/resources/${id}`);
      expect(done.headers.get("retry-after")).toBeNull();
      expect(done.json).toMatchObject({ id, status: "SUCCESS", end: expect.stringMatching(RFC3339), result: { url: "/r.pdf" } });
      const result = await call("GET", `${s.url}/resources/${id}/result`);
      expect(result.status).toBe(200);
      expect(result.json).toEqual({ url: "/r.pdf" });
    });

    it("no body, or {}, completes as SUCCESS with a null result", async () => {
      for (const body of [undefined, {}]) {
        const id = await create();
        expect((await put(id, body)).status).toBe(200);
        expect((await poll(id)).status).toBe(303);
        const result = await call("GET", `${s.url}/resources/${id}/result`);
        expect(result.status).toBe(200);
        expect(result.text).toBe("null");
      }
    });

    it("FAILED answers 500 with the job, whose error is a problem with its own type", async () => {
      const id = await create();
      expect((await put(id, { status: "FAILED", error: { title: "credit check failed", detail: "limit" } })).status).toBe(200);
      const r = await poll(id);
      expect(r.status).toBe(500);
      expect(r.headers.get("content-type")).toMatch(/^application\/json/);
      expect(r.json).toMatchObject({ id, status: "FAILED", error: { type: "urn:async-api:job-failed", title: "credit check failed", detail: "limit" } });
      const noDetail = await create();
      await put(noDetail, { status: "FAILED" });
      expect((await poll(noDetail)).json.error).toEqual({ type: "urn:async-api:job-failed", title: "The job failed" });
    });

    it("rejects an update that contradicts itself", async () => {
      const id = await create();
      const r = await put(id, { status: "SUCCESS", error: { title: "x" } });
      isProblem(r, 400);
      expect(r.json.errors[0].field).toBe("body/error");
    });

    it("cancels with DELETE; cancelling again answers the same body", async () => {
      const id = await create();
      const first = await cancel(id);
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ id, status: "CANCELLED", end: expect.stringMatching(RFC3339) });
      const again = await cancel(id);
      expect(again.status).toBe(200);
      expect(again.json).toEqual(first.json);
      const polled = await poll(id);
      expect(polled.status).toBe(200);
      expect(polled.json).toEqual(first.json);
      expect(polled.headers.get("retry-after")).toBeNull();
    });
  });

  describe("transitions are idempotent, terminal states final", () => {
    it("repeating SUCCESS answers 200 and changes nothing", async () => {
      const id = await create();
      await put(id, { result: 1 });
      const before = (await poll(id)).json;
      await new Promise((r) => setTimeout(r, 5));
      expect((await put(id, { status: "SUCCESS", result: 2 })).status).toBe(200);
      expect((await poll(id)).json).toEqual(before);
    });

    it("repeating FAILED answers 200 and keeps the first error", async () => {
      const id = await create();
      await put(id, { status: "FAILED", error: { title: "first" } });
      expect((await put(id, { status: "FAILED", error: { title: "second" } })).status).toBe(200);
      expect((await poll(id)).json.error.title).toBe("first");
    });

    it.each([
      ["cancel a SUCCESS job", { result: 1 }, (id: string) => cancel(id)],
      ["cancel a FAILED job", { status: "FAILED" }, (id: string) => cancel(id)],
      ["FAILED after SUCCESS", { status: "SUCCESS" }, (id: string) => put(id, { status: "FAILED" })],
      ["SUCCESS after FAILED", { status: "FAILED" }, (id: string) => put(id, { status: "SUCCESS" })],
      ["progress after SUCCESS", { status: "SUCCESS" }, (id: string) => put(id, { progress: 5 })],
    ])("%s is 409", async (_name, first, then) => {
      const id = await create();
      expect((await put(id, first)).status).toBe(200);
      const before = (await s.store.get(id))!;
      isProblem(await then(id), 409);
      expect(await s.store.get(id)).toEqual(before);
    });

    it("completing a CANCELLED job is 409", async () => {
      const id = await create();
      await cancel(id);
      isProblem(await put(id), 409);
    });
  });

  describe("unknown ids", () => {
    it.each([
      ["GET", "/resources/nope"],
      ["DELETE", "/resources/nope"],
      ["GET", "/resources/nope/result"],
      ["PUT", "/tasks/nope"],
    ])("%s %s is 404, never in progress", async (method, path) => {
      const r = await call(method, `${s.url}${path}`);
      isProblem(r, 404);
      expect(r.json.detail).toMatch(/nope/);
    });

    it("an unknown path is a 404 problem, an undeclared method 405", async () => {
      isProblem(await call("GET", `${s.url}/nothing-here`), 404);
      const r = await call("PATCH", `${s.url}/resources`);
      isProblem(r, 405);
      expect(r.headers.get("allow")).toBe("GET, HEAD, OPTIONS, POST");
    });
  });

  describe("listing", () => {
    it("pages oldest first with next links until the end", async () => {
      const own = await startOn();
      try {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await call("POST", `${own.url}/resources`, { body: { name: `j${i}` } })).json.id);
        const seen: string[] = [];
        let next: string | undefined = "/resources?limit=2";
        let pages = 0;
        while (next) {
          const r = await call("GET", `${own.url}${next}`);
          expect(r.status).toBe(200);
          expect(r.json.tasks.length).toBeLessThanOrEqual(2);
          for (const t of r.json.tasks) expect(t.href).toBe(`/resources/${t.id}`);
          seen.push(...r.json.tasks.map((t: { id: string }) => t.id));
          next = r.json.next;
          if (next) expect(next).toMatch(/^\/resources\?cursor=[^&]+&limit=2$/);
          pages++;
        }
        expect(seen).toEqual(ids);
        expect(pages).toBe(3);
        expect((await call("GET", `${own.url}/resources`)).json).toEqual({ tasks: ids.map((id) => ({ id, href: `/resources/${id}` })) });
        await call("DELETE", `${own.url}/resources/${ids[1]}`);
        const cancelled = await call("GET", `${own.url}/resources?status=CANCELLED`);
        expect(cancelled.json.tasks.map((t: { id: string }) => t.id)).toEqual([ids[1]]);
        expect(own.invalidResponses).toEqual([]);
      } finally {
        await own.close();
      }
    });

    it("filters by name, and keeps the filter in next links", async () => {
      const own = await startOn();
      try {
        const mk = async (name: string) => (await call("POST", `${own.url}/resources`, { body: { name } })).json.id as string;
        const a1 = await mk("alpha");
        await mk("beta");
        const a2 = await mk("alpha");
        const a3 = await mk("alpha");
        const first = await call("GET", `${own.url}/resources?name=alpha&limit=2`);
        expect(first.json.tasks.map((t: { id: string }) => t.id)).toEqual([a1, a2]);
        expect(first.json.next).toMatch(/^\/resources\?cursor=[^&]+&limit=2&name=alpha$/);
        const second = await call("GET", `${own.url}${first.json.next}`);
        expect(second.json).toEqual({ tasks: [{ id: a3, href: `/resources/${a3}` }] });
        await call("DELETE", `${own.url}/resources/${a2}`);
        expect((await call("GET", `${own.url}/resources?name=alpha&status=CANCELLED`)).json.tasks.map((t: { id: string }) => t.id)).toEqual([a2]);
        expect((await call("GET", `${own.url}/resources?name=gamma`)).json).toEqual({ tasks: [] });
        isProblem(await call("GET", `${own.url}/resources?name=`), 400);
      } finally {
        await own.close();
      }
    });

    it("stays stable while jobs are being created", async () => {
      const first = await call("GET", `${s.url}/resources?limit=3`);
      const cursor = new URL(first.json.next, s.url).searchParams.get("cursor");
      const pageBefore = await call("GET", `${s.url}/resources?limit=3&cursor=${cursor}`);
      await create();
      const pageAfter = await call("GET", `${s.url}/resources?limit=3&cursor=${cursor}`);
      expect(pageAfter.json.tasks).toEqual(pageBefore.json.tasks);
    });

    it("rejects out-of-range limits and foreign cursors with 400", async () => {
      for (const q of ["limit=0", "limit=101", "limit=abc", "limit=1.5", "status=DONE"]) isProblem(await call("GET", `${s.url}/resources?${q}`), 400);
      const r = await call("GET", `${s.url}/resources?cursor=garbage`);
      isProblem(r, 400);
      expect(r.json.errors[0].field).toBe("query/cursor");
    });
  });

  describe("Idempotency-Key", () => {
    it("replays the original job for the same key and body, creating nothing", async () => {
      const key = `key-${Date.now()}`;
      const a = await post({ name: "once", tags: ["x"] }, { "Idempotency-Key": key });
      const before = (await call("GET", `${s.url}/resources?limit=100`)).json.tasks.length;
      // Same JSON written with another key order is the same body.
      const b = await call("POST", `${s.url}/resources`, { raw: '{"tags":["x"],"name":"once"}', headers: { "content-type": "application/json", "Idempotency-Key": key } });
      expect(a.status).toBe(202);
      expect(b.status).toBe(202);
      expect(b.json).toEqual(a.json);
      expect(b.headers.get("location")).toBe(a.headers.get("location"));
      expect((await call("GET", `${s.url}/resources?limit=100`)).json.tasks.length).toBe(before);
    });

    it("answers 422 for the same key with a different body", async () => {
      const key = `key2-${Date.now()}`;
      await post({ name: "one" }, { "Idempotency-Key": key });
      const r = await post({ name: "two" }, { "Idempotency-Key": key });
      isProblem(r, 422);
      expect(r.json.errors[0].field).toBe("headers/idempotency-key");
    });

    it("rejects keys that are not 1-255 visible ASCII characters", async () => {
      const r = await post({ name: "x" }, { "Idempotency-Key": "k".repeat(256) });
      isProblem(r, 400);
      expect(r.json.errors[0].field).toBe("headers/idempotency-key");
      isProblem(await post({ name: "x" }, { "Idempotency-Key": "has space" }), 400);
    });
  });

  describe("concurrency", () => {
    it("a cancel racing a completion has exactly one winner, every time", async () => {
      for (let round = 0; round < 60; round++) {
        const id = await create();
        const [c, d] = await Promise.all([cancel(id), put(id, { result: round })]);
        const statuses = [c.status, d.status].sort();
        expect(statuses).toEqual([200, 409]);
        const final = (await s.store.get(id))!;
        expect(final.status).toBe(c.status === 200 ? "CANCELLED" : "SUCCESS");
      }
    });

    it("100 concurrent POSTs create 100 distinct jobs", async () => {
      const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => post({ name: `c${i}` })));
      expect(replies.every((r) => r.status === 202)).toBe(true);
      const ids = new Set(replies.map((r) => r.json.id));
      expect(ids.size).toBe(100);
      for (const id of ids) expect(await s.store.get(id as string)).toBeDefined();
    });

    it("concurrent polls of different jobs, in one store read, each answer their own job", async () => {
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => create({ name: `p${i}`, input: { i } })));
      await Promise.all(ids.slice(0, 10).map((id, i) => put(id, { result: { i } })));
      // The store groups the reads that arrive together (sqlite: one read transaction); the
      // unknown ids among them must not shift anyone's answer.
      const asked = ids.flatMap((id, i) => (i % 5 === 0 ? [id, `missing${i}`] : [id]));
      const replies = await Promise.all(asked.map((id) => poll(id)));
      asked.forEach((id, k) => {
        const r = replies[k]!;
        if (id.startsWith("missing")) return isProblem(r, 404);
        const i = ids.indexOf(id);
        if (i < 10) {
          expect(r.status).toBe(303);
          expect(r.headers.get("location")).toBe(`/resources/${id}/result`);
        } else {
          expect(r.status).toBe(200);
          expect(r.json).toMatchObject({ id, name: `p${i}`, input: { i } });
        }
      });
      const direct = await Promise.all(ids.map((id) => s.store.get(id)));
      expect(direct.map((j) => j!.id)).toEqual(ids);
    });

    it("concurrent replays of one Idempotency-Key create one job", async () => {
      const key = `race-${Date.now()}`;
      const replies = await Promise.all(Array.from({ length: 20 }, () => post({ name: "race" }, { "Idempotency-Key": key })));
      expect(new Set(replies.map((r) => r.status))).toEqual(new Set([202]));
      expect(new Set(replies.map((r) => r.json.id)).size).toBe(1);
    });
  });

  describe("deadline and retention (controllable clock)", () => {
    it("fails a job whose backend never reports, and removes ended jobs after retention", async () => {
      const clock = new ManualClock();
      const t = await startOn({ clock, env: { JOB_DEADLINE_SECONDS: "60", JOB_RETENTION_SECONDS: "3600" } });
      try {
        const mk = async () => (await call("POST", `${t.url}/resources`, { body: { name: "slow" } })).json.id as string;
        const polled = await mk();
        const swept = await mk();
        clock.advance(59_000);
        expect((await call("GET", `${t.url}/resources/${polled}`)).status).toBe(200);
        clock.advance(1_000);
        // A poll past the deadline never reports the job as running.
        const late = await call("GET", `${t.url}/resources/${polled}`);
        expect(late.status).toBe(500);
        expect(late.json).toMatchObject({ status: "FAILED", end: new Date(clock.now()).toISOString(), error: { title: "deadline exceeded" } });
        // The sweeper does the same for jobs nobody polls.
        expect(await t.service.sweep()).toEqual({ expired: 1, exhausted: 0, purged: 0 });
        expect((await t.store.get(swept))!.status).toBe("FAILED");
        // A late completion contradicts the terminal state.
        expect((await call("PUT", `${t.url}/tasks/${swept}`)).status).toBe(409);
        const kept = await mk();
        clock.advance(3_600_000);
        expect(await t.service.sweep()).toEqual({ expired: 1, exhausted: 0, purged: 2 });
        expect((await call("GET", `${t.url}/resources/${polled}`)).status).toBe(404);
        expect((await call("GET", `${t.url}/resources/${kept}`)).status).toBe(500); // expired now, kept for its own retention
        expect(t.invalidResponses).toEqual([]);
      } finally {
        await t.close();
      }
    });
  });

  describe("health", () => {
    it("answers /healthz", async () => {
      const r = await call("GET", `${s.url}/healthz`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: "ok" });
    });
  });
});
