// The worker half of the job API over real HTTP, on every store: claims, leases, heartbeats,
// fencing, cancel reaching the worker, retries with backoff, attempts. Time is a controllable
// clock where leases and backoff matter, so nothing here waits for a lease to run out.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/jobs/clock.js";
import { call, type Reply } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const TOKEN = /^[A-Za-z0-9_-]{22}$/;

describe.each(STORE_KINDS)("workers on %s", (kind) => {
  let clock: ManualClock;
  let s: TestServer;
  const servers: TestServer[] = [];
  const start = async (env: Record<string, string> = {}, random?: () => number) => {
    clock = new ManualClock();
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), clock, env, random });
    servers.push(s);
    return s;
  };
  const create = async (body: unknown = { name: "job" }) => {
    const r = await call("POST", `${s.url}/resources`, { body });
    expect(r.status).toBe(202);
    return r.json.id as string;
  };
  const claim = (body: Record<string, unknown> = {}, headers?: Record<string, string>) =>
    call("POST", `${s.url}/tasks/claim`, { body: { worker: "w1", ...body }, headers });
  const claimOne = async (body: Record<string, unknown> = {}) => {
    const r = await claim(body);
    expect(r.status).toBe(200);
    expect(r.json.tasks).toHaveLength(1);
    return r.json.tasks[0];
  };
  const put = (id: string, body?: unknown) => call("PUT", `${s.url}/tasks/${id}`, { body });
  const poll = (id: string) => call("GET", `${s.url}/resources/${id}`);
  const conflict = (r: Reply, type: string) => {
    expect(r.status, r.text).toBe(409);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.json.type).toBe(type);
  };
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeAll(() => start());
  afterAll(async () => {
    for (const x of servers) await x.close();
  });
  const kept = new Set<TestServer>();
  afterEach(async () => {
    for (const x of servers) expect(x.invalidResponses).toEqual([]);
    // Servers no later test can reach are closed now: on PostgreSQL each holds a pool and a
    // listening connection, and the suite's other files need theirs (max_connections).
    for (const x of servers.splice(0)) {
      if (x === s || kept.has(x)) servers.push(x);
      else await x.close();
    }
  });

  describe("claim", () => {
    it("hands out a job with what the client sent, under a lease with an unguessable token", async () => {
      await start();
      const id = await create({ name: "report", priority: 4, tags: ["t1"], input: { day: "2030-01-01", n: [1, 2] }, maxAttempts: 5 });
      const t = await claimOne({ leaseSeconds: 45 });
      expect(t).toEqual({
        id,
        name: "report",
        priority: 4,
        tags: ["t1"],
        input: { day: "2030-01-01", n: [1, 2] },
        attempt: 1,
        maxAttempts: 5,
        leaseToken: expect.stringMatching(TOKEN),
        leaseSeconds: 45,
        leaseExpiresAt: iso(clock.now() + 45_000),
      });
      expect(t.leaseToken).not.toBe(id);
      // Held: nobody else gets it; the client sees it running, attempt 1.
      expect((await claim({ worker: "w2" })).json).toEqual({ tasks: [] });
      expect((await poll(id)).json).toMatchObject({ status: "IN PROGRESS", attempts: 1, maxAttempts: 5 });
    });

    it("defaults: one job, a 30 s lease; a job without a body has no name and no input", async () => {
      await start();
      await call("POST", `${s.url}/resources`);
      await create({ name: "second" });
      const r = await claim();
      expect(r.json.tasks).toHaveLength(1);
      expect(r.json.tasks[0]).toEqual({
        id: expect.any(String),
        priority: 0,
        tags: [],
        attempt: 1,
        maxAttempts: 3,
        leaseToken: expect.stringMatching(TOKEN),
        leaseSeconds: 30,
        leaseExpiresAt: iso(clock.now() + 30_000),
      });
    });

    it("takes the highest priority first (9 before 0), then the oldest", async () => {
      await start();
      const p0 = await create({ name: "a", priority: 0 });
      const p9a = await create({ name: "a", priority: 9 });
      const p5 = await create({ name: "a", priority: 5 });
      const dflt = await create({ name: "a" });
      const p9b = await create({ name: "a", priority: 9 });
      const first = await claim({ max: 2 });
      expect(first.json.tasks.map((t: { id: string }) => t.id)).toEqual([p9a, p9b]);
      const rest = await claim({ max: 10 });
      expect(rest.json.tasks.map((t: { id: string }) => t.id)).toEqual([p5, p0, dflt]);
    });

    it("takes only jobs with the names asked for", async () => {
      await start();
      const a = await create({ name: "a" });
      const b = await create({ name: "b" });
      const c = await create({ name: "c" });
      await call("POST", `${s.url}/resources`); // no name: only for claims without `names`
      const r = await claim({ names: ["c", "b"], max: 10 });
      expect(r.json.tasks.map((t: { id: string }) => t.id)).toEqual([b, c]);
      expect((await claim({ names: ["b", "c", "zzz"] })).json.tasks).toEqual([]);
      const rest = await claim({ max: 10 });
      expect(rest.json.tasks.map((t: { id: string }) => t.id)[0]).toBe(a);
      expect(rest.json.tasks).toHaveLength(2);
    });

    it("never hands out cancelled or ended jobs", async () => {
      await start();
      const cancelled = await create();
      const done = await create();
      const failed = await create();
      await call("DELETE", `${s.url}/resources/${cancelled}`);
      await put(done, { status: "SUCCESS" });
      await put(failed, { status: "FAILED" });
      expect((await claim({ max: 10 })).json.tasks).toEqual([]);
    });

    it("rejects malformed claims with 400 naming the field", async () => {
      await start();
      const cases: [unknown, string][] = [
        [{}, "body/worker"],
        [{ worker: "" }, "body/worker"],
        [{ worker: "x".repeat(65) }, "body/worker"],
        [{ worker: "w", max: 0 }, "body/max"],
        [{ worker: "w", max: 101 }, "body/max"],
        [{ worker: "w", leaseSeconds: 4 }, "body/leaseSeconds"],
        [{ worker: "w", leaseSeconds: 3601 }, "body/leaseSeconds"],
        [{ worker: "w", names: [] }, "body/names"],
        [{ worker: "w", names: [""] }, "body/names/0"],
        [{ worker: "w", other: 1 }, "body/other"],
      ];
      for (const [body, field] of cases) {
        const r = await call("POST", `${s.url}/tasks/claim`, { body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.json.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      expect((await call("POST", `${s.url}/tasks/claim`)).status).toBe(400);
    });
  });

  describe("leases", () => {
    it("a heartbeat extends the lease by its length and sets progress", async () => {
      await start();
      const id = await create();
      const t = await claimOne({ leaseSeconds: 30 });
      clock.advance(20_000);
      const hb = await put(id, { leaseToken: t.leaseToken, progress: 30 });
      expect(hb.status).toBe(200);
      expect(hb.json).toEqual({ status: "UPDATED", leaseExpiresAt: iso(clock.now() + 30_000) });
      expect((await poll(id)).json).toMatchObject({ status: "IN PROGRESS", progress: 30, attempts: 1 });
      clock.advance(20_000); // 40 s after the claim, 20 s after the heartbeat: still held
      expect((await claim({ worker: "w2" })).json.tasks).toEqual([]);
      expect((await put(id, { leaseToken: t.leaseToken })).json).toEqual({ status: "UPDATED", leaseExpiresAt: iso(clock.now() + 30_000) });
    });

    it("a lease that expires without a heartbeat puts the job back; the old token is refused from then on", async () => {
      await start();
      const id = await create();
      const first = await claimOne({ leaseSeconds: 10 });
      clock.advance(10_000);
      // Expired: the old holder's heartbeat is refused even before anyone else claims.
      conflict(await put(id, { leaseToken: first.leaseToken, progress: 50 }), "urn:async-api:lease-mismatch");
      const second = await claimOne({ worker: "w2", leaseSeconds: 10 });
      expect(second).toMatchObject({ id, attempt: 2 });
      expect(second.leaseToken).not.toBe(first.leaseToken);
      // The stale worker can neither heartbeat nor finish; its outcome never lands.
      conflict(await put(id, { leaseToken: first.leaseToken }), "urn:async-api:lease-mismatch");
      conflict(await put(id, { leaseToken: first.leaseToken, status: "SUCCESS", result: "stale" }), "urn:async-api:lease-mismatch");
      conflict(await put(id, { leaseToken: first.leaseToken, status: "FAILED", retryable: true, error: { title: "x" } }), "urn:async-api:lease-mismatch");
      expect((await poll(id)).json).toMatchObject({ status: "IN PROGRESS", attempts: 2 });
      expect((await put(id, { leaseToken: second.leaseToken, status: "SUCCESS", result: "fresh" })).status).toBe(200);
      // The holder's repeat answers as before; the stale one is still refused.
      expect((await put(id, { leaseToken: second.leaseToken, status: "SUCCESS", result: "again" })).status).toBe(200);
      conflict(await put(id, { leaseToken: first.leaseToken, status: "SUCCESS" }), "urn:async-api:lease-mismatch");
      const done = await poll(id);
      expect(done.status).toBe(303);
      expect(done.json).toMatchObject({ status: "SUCCESS", attempts: 2, result: "fresh" });
    });

    it("outcomes sent at once (written in one group commit) are each judged under their own lease", async () => {
      await start();
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await create());
      const r = await claim({ max: 6 });
      const token = new Map<string, string>((r.json.tasks as { id: string; leaseToken: string }[]).map((t) => [t.id, t.leaseToken]));
      const [ok, failed, wrong, other, twice, cancelled] = ids as [string, string, string, string, string, string];
      expect((await call("DELETE", `${s.url}/resources/${cancelled}`)).status).toBe(200);
      const answers = await Promise.all([
        put(ok, { leaseToken: token.get(ok), status: "SUCCESS", result: { n: 1 } }),
        put(failed, { leaseToken: token.get(failed), status: "FAILED", error: { title: "broken input" } }),
        put(wrong, { leaseToken: token.get(other), status: "SUCCESS", result: "not mine" }),
        put(other, { leaseToken: token.get(other), status: "SUCCESS", result: "mine" }),
        put(twice, { leaseToken: token.get(twice), status: "SUCCESS", result: "a" }),
        put(twice, { leaseToken: token.get(twice), status: "SUCCESS", result: "b" }),
        put(cancelled, { leaseToken: token.get(cancelled), status: "SUCCESS", result: "late" }),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 409, 200, 200, 200, 409]);
      expect(answers[2]!.json.type).toBe("urn:async-api:lease-mismatch");
      expect(answers[6]!.json.type).toBe("urn:async-api:job-cancelled");
      expect((await poll(ok)).json).toMatchObject({ status: "SUCCESS", result: { n: 1 } });
      expect((await poll(failed)).json).toMatchObject({ status: "FAILED", error: { title: "broken input" } });
      expect((await poll(wrong)).json).toMatchObject({ status: "IN PROGRESS", attempts: 1 });
      expect((await poll(other)).json).toMatchObject({ status: "SUCCESS", result: "mine" });
      expect(["a", "b"]).toContain((await poll(twice)).json.result);
      expect((await poll(cancelled)).json).toMatchObject({ status: "CANCELLED" });
      // The job the wrong token was sent for is still its holder's to finish.
      expect((await put(wrong, { leaseToken: token.get(wrong), status: "SUCCESS", result: 3 })).status).toBe(200);
    });

    it("an update without the token is refused while a worker holds the job, and works as before when none does", async () => {
      await start();
      const held = await create();
      const t = await claimOne();
      conflict(await put(held, { progress: 10 }), "urn:async-api:lease-mismatch");
      conflict(await put(held), "urn:async-api:lease-mismatch");
      conflict(await put(held, { leaseToken: "A".repeat(22), status: "SUCCESS" }), "urn:async-api:lease-mismatch");
      expect((await poll(held)).json).toMatchObject({ status: "IN PROGRESS" });
      expect((await put(held, { leaseToken: t.leaseToken, status: "FAILED", error: { title: "no" } })).status).toBe(200);

      const free = await create();
      expect((await put(free, { progress: 10 })).json).toEqual({ status: "UPDATED" });
      conflict(await put(free, { leaseToken: "A".repeat(22), progress: 20 }), "urn:async-api:lease-mismatch");
      expect((await put(free, { result: 1 })).status).toBe(200);
      expect((await poll(free)).status).toBe(303);

      // After a lease has expired, a token-less backend may finish the job again.
      const lapsed = await create();
      await claimOne({ leaseSeconds: 5 });
      clock.advance(5_000);
      expect((await put(lapsed, { status: "SUCCESS" })).status).toBe(200);
    });

    it("rejects retryable or release without a token, and contradictions, with 400", async () => {
      await start();
      const id = await create();
      const fields = async (body: unknown) => {
        const r = await put(id, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        return r.json.errors.map((e: { field: string }) => e.field);
      };
      expect(await fields({ status: "FAILED", retryable: true })).toEqual(["body/retryable"]);
      expect(await fields({ release: true })).toEqual(["body/release"]);
      const t = await claimOne();
      expect(await fields({ leaseToken: t.leaseToken, status: "SUCCESS", retryable: true })).toEqual(["body/retryable"]);
      expect(await fields({ leaseToken: t.leaseToken, release: true, progress: 3 })).toEqual(["body/progress"]);
      expect(await fields({ leaseToken: "" })).toEqual(["body/leaseToken"]);
      // `release: false` asks for nothing: a heartbeat.
      expect((await put(id, { leaseToken: t.leaseToken, release: false })).json).toEqual({ status: "UPDATED", leaseExpiresAt: iso(clock.now() + 30_000) });
    });
  });

  describe("cancel reaches the worker", () => {
    it("a cancelled job's heartbeat and finish get 409 job-cancelled, and claims never hand it out", async () => {
      await start();
      const id = await create();
      const t = await claimOne();
      const c = await call("DELETE", `${s.url}/resources/${id}`);
      expect(c.status).toBe(200);
      expect(c.json).toMatchObject({ status: "CANCELLED", attempts: 1 });
      conflict(await put(id, { leaseToken: t.leaseToken, progress: 60 }), "urn:async-api:job-cancelled");
      conflict(await put(id, { leaseToken: t.leaseToken, status: "SUCCESS", result: 1 }), "urn:async-api:job-cancelled");
      conflict(await put(id, { leaseToken: t.leaseToken, release: true }), "urn:async-api:job-cancelled");
      conflict(await put(id), "urn:async-api:job-cancelled");
      clock.advance(60_000);
      expect((await claim()).json.tasks).toEqual([]);
      expect((await poll(id)).json).toMatchObject({ status: "CANCELLED" });
    });
  });

  describe("retries", () => {
    it("a retryable failure queues the job again after exponential backoff with jitter", async () => {
      // random() = 0.5: each delay is three quarters of base * 2^(attempt-1).
      await start({ JOB_RETRY_BACKOFF_MS: "1000" }, () => 0.5);
      const id = await create({ name: "flaky", maxAttempts: 4 });
      for (const [attempt, delay] of [[1, 750], [2, 1500], [3, 3000]]) {
        const t = await claimOne();
        expect(t).toMatchObject({ id, attempt });
        const r = await put(id, { leaseToken: t.leaseToken, status: "FAILED", retryable: true, error: { title: `try ${attempt}` } });
        expect(r.json).toEqual({ status: "UPDATED", retryAt: iso(clock.now() + delay!) });
        expect((await poll(id)).json).toMatchObject({ status: "IN PROGRESS", attempts: attempt });
        clock.advance(delay! - 1);
        expect((await claim()).json.tasks).toEqual([]);
        clock.advance(1);
      }
      const last = await claimOne();
      expect(last.attempt).toBe(4);
      expect((await put(id, { leaseToken: last.leaseToken, status: "SUCCESS", result: "finally" })).status).toBe(200);
      expect((await poll(id)).json).toMatchObject({ status: "SUCCESS", attempts: 4 });
    });

    it("the backoff doubles up to its cap", async () => {
      await start({ JOB_RETRY_BACKOFF_MS: "1000", JOB_RETRY_BACKOFF_MAX_MS: "2500" }, () => 1);
      const id = await create({ name: "capped", maxAttempts: 5 });
      const delays: number[] = [];
      for (let i = 0; i < 4; i++) {
        const t = await claimOne();
        const r = await put(id, { leaseToken: t.leaseToken, status: "FAILED", retryable: true, error: { title: "x" } });
        delays.push(Date.parse(r.json.retryAt) - clock.now());
        clock.advance(10_000);
      }
      expect(delays).toEqual([1000, 2000, 2500, 2500]);
    });

    it("after maxAttempts retryable failures the job is FAILED with attempts-exhausted and the last error", async () => {
      await start({ JOB_RETRY_BACKOFF_MS: "10" });
      const id = await create({ name: "doomed", maxAttempts: 2 });
      const t1 = await claimOne();
      await put(id, { leaseToken: t1.leaseToken, status: "FAILED", retryable: true, error: { title: "first" } });
      clock.advance(1_000);
      const t2 = await claimOne();
      const r = await put(id, { leaseToken: t2.leaseToken, status: "FAILED", retryable: true, error: { type: "urn:x:upstream", title: "second", detail: "503 from upstream" } });
      expect(r.json).toEqual({ status: "UPDATED" });
      // Repeating the report answers as before.
      expect((await put(id, { leaseToken: t2.leaseToken, status: "FAILED", retryable: true, error: { title: "again" } })).status).toBe(200);
      const polled = await poll(id);
      expect(polled.status).toBe(500);
      expect(polled.json).toMatchObject({
        status: "FAILED",
        attempts: 2,
        maxAttempts: 2,
        error: {
          type: "urn:async-api:attempts-exhausted",
          title: "attempts exhausted",
          detail: "all 2 attempts failed",
          cause: { type: "urn:x:upstream", title: "second", detail: "503 from upstream" },
        },
      });
      clock.advance(60_000);
      expect((await claim()).json.tasks).toEqual([]);
    });

    it("a non-retryable failure ends the job at once, whatever attempts are left", async () => {
      await start();
      const id = await create({ name: "fatal", maxAttempts: 5 });
      const t = await claimOne();
      expect((await put(id, { leaseToken: t.leaseToken, status: "FAILED", error: { title: "bad input" } })).status).toBe(200);
      expect((await poll(id)).json).toMatchObject({ status: "FAILED", attempts: 1, error: { type: "urn:async-api:job-failed", title: "bad input" } });
    });

    it("when the last attempt's lease expires the job is FAILED, on read, on claim and in the sweeper", async () => {
      await start();
      const read = await create({ name: "crashy", maxAttempts: 1 });
      const swept = await create({ name: "crashy", maxAttempts: 1 });
      const again = await create({ name: "crashy", maxAttempts: 2 });
      const ts = (await claim({ max: 3, leaseSeconds: 5, worker: "gone-worker" })).json.tasks;
      expect(ts).toHaveLength(3);
      clock.advance(5_000);
      // The one with an attempt left is handed out again; the others never are.
      const r = await claim({ max: 3 });
      expect(r.json.tasks.map((t: { id: string; attempt: number }) => [t.id, t.attempt])).toEqual([[again, 2]]);
      const polled = await poll(read);
      expect(polled.status).toBe(500);
      expect(polled.json).toMatchObject({
        status: "FAILED",
        attempts: 1,
        end: iso(clock.now()),
        error: { type: "urn:async-api:attempts-exhausted", cause: { type: "urn:async-api:lease-expired", title: "lease expired", detail: 'worker "gone-worker" did not report within 5 s' } },
      });
      expect(await s.service.sweep()).toEqual({ expired: 0, exhausted: 1, purged: 0 });
      expect((await s.store.get(swept))!.status).toBe("FAILED");
      expect(await s.service.sweep()).toEqual({ expired: 0, exhausted: 0, purged: 0 });
    });

    it("an exhausted job not yet marked FAILED can be neither completed nor cancelled: it fails first", async () => {
      await start();
      const a = await create({ name: "late", maxAttempts: 1 });
      const b = await create({ name: "late", maxAttempts: 1 });
      await claim({ max: 2, leaseSeconds: 5 });
      clock.advance(5_000);
      const put = await call("PUT", `${s.url}/tasks/${a}`, { body: { status: "SUCCESS", result: "too late" } });
      expect(put.status).toBe(409);
      expect((await s.store.get(a))!).toMatchObject({ status: "FAILED", error: { type: "urn:async-api:attempts-exhausted" } });
      const del = await call("DELETE", `${s.url}/resources/${b}`);
      expect(del.status).toBe(409);
      expect((await s.store.get(b))!).toMatchObject({ status: "FAILED", error: { type: "urn:async-api:attempts-exhausted" } });
    });

    it("release gives the job back at once without spending an attempt", async () => {
      await start();
      const id = await create({ name: "r", maxAttempts: 1 });
      const t = await claimOne();
      expect((await put(id, { leaseToken: t.leaseToken, release: true })).json).toEqual({ status: "UPDATED" });
      expect((await poll(id)).json).toMatchObject({ status: "IN PROGRESS", attempts: 0 });
      conflict(await put(id, { leaseToken: t.leaseToken, progress: 1 }), "urn:async-api:lease-mismatch");
      const again = await claimOne({ worker: "w2" });
      expect(again).toMatchObject({ id, attempt: 1 });
    });

    it("the deadline still applies to a claimed job", async () => {
      await start({ JOB_DEADLINE_SECONDS: "60" });
      const id = await create();
      const t = await claimOne({ leaseSeconds: 3600 });
      clock.advance(60_000);
      const r = await put(id, { leaseToken: t.leaseToken, progress: 99 });
      expect(r.status).toBe(409);
      expect(r.json.type).toBe("about:blank");
      expect((await poll(id)).json).toMatchObject({ status: "FAILED", error: { type: "urn:async-api:deadline-exceeded" } });
    });
  });

  describe("long-poll claims (real time)", () => {
    let live: TestServer;
    beforeAll(async () => {
      live = await startTestServer({ databaseUrl: freshDatabaseUrl(kind) });
      servers.push(live);
      kept.add(live);
    });

    it("answers within 50 ms of a create", async () => {
      const lags: number[] = [];
      for (let i = 0; i < 5; i++) {
        const held = call("POST", `${live.url}/tasks/claim`, { body: { worker: "lp", names: [`lp${i}`] }, headers: { Prefer: "wait=10" } }).then((r) => ({ r, at: performance.now() }));
        await new Promise((r) => setTimeout(r, 150));
        const created = await call("POST", `${live.url}/resources`, { body: { name: `lp${i}` } });
        const createdAt = performance.now();
        const { r, at } = await held;
        expect(r.status, r.text).toBe(200);
        expect(r.json.tasks.map((t: { id: string }) => t.id)).toEqual([created.json.id]);
        lags.push(at - createdAt);
      }
      lags.sort((a, b) => a - b);
      expect(lags[2], `create-to-claim lags ${lags.map((l) => l.toFixed(1)).join(", ")} ms`).toBeLessThan(50);
    });

    it("answers with no tasks when the wait runs out", async () => {
      const t0 = performance.now();
      const r = await call("POST", `${live.url}/tasks/claim`, { body: { worker: "lp", names: ["nothing-ever"] }, headers: { Prefer: "wait=1" } });
      const took = performance.now() - t0;
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ tasks: [] });
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(3000);
    });

    it("one job wakes one waiting claim; the others keep waiting", async () => {
      const waiting = Array.from({ length: 4 }, (_, i) =>
        call("POST", `${live.url}/tasks/claim`, { body: { worker: `herd${i}`, names: ["herd"] }, headers: { Prefer: "wait=2" } }),
      );
      await new Promise((r) => setTimeout(r, 150));
      const id = (await call("POST", `${live.url}/resources`, { body: { name: "herd" } })).json.id;
      const replies = await Promise.all(waiting);
      const got = replies.flatMap((r) => r.json.tasks.map((t: { id: string }) => t.id));
      expect(got).toEqual([id]);
    });

    it("a claim whose worker went away gives its jobs back", async () => {
      const ac = new AbortController();
      const gone = fetch(`${live.url}/tasks/claim`, {
        method: "POST",
        headers: { "content-type": "application/json", Prefer: "wait=5" },
        body: JSON.stringify({ worker: "leaver", names: ["orphan"] }),
        signal: ac.signal,
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      ac.abort();
      await gone;
      await new Promise((r) => setTimeout(r, 50));
      const id = (await call("POST", `${live.url}/resources`, { body: { name: "orphan" } })).json.id;
      await new Promise((r) => setTimeout(r, 100));
      const r = await call("POST", `${live.url}/tasks/claim`, { body: { worker: "stayer", names: ["orphan"] } });
      expect(r.json.tasks.map((t: { id: string; attempt: number }) => [t.id, t.attempt])).toEqual([[id, 1]]);
    });
  });
});
