// Run later: a job created with `runAt` or `delaySeconds` waits, IN PROGRESS, and no worker
// gets it before its time; a claim waiting (long-poll) gets it when its time comes, on the
// instance that created it and, on PostgreSQL, on another. Its deadline counts from then.
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { spawnServers, type ServerProcess } from "../helpers/process.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const claim = (url: string, waitSeconds: number, names = ["later"]) =>
  call("POST", `${url}/tasks/claim`, { body: { worker: "w", names, max: 1 }, ...(waitSeconds ? { headers: { Prefer: `wait=${waitSeconds}` } } : {}) });

/** A long-poll claim started now: when it was answered, and with what. */
async function waitingClaim(url: string, names: string[]): Promise<{ at: number; tasks: { id: string }[] }> {
  const r = await claim(url, 10, names);
  return { at: Date.now(), tasks: r.json.tasks };
}

describe("run later, on one instance (SQLite)", () => {
  let s: TestServer;
  afterAll(() => s?.close());

  it("is shown with its time, handed to no worker before it, and to a waiting one when it comes", async () => {
    s = await startTestServer();
    const runAt = new Date(Date.now() + 1500);
    const created = await call("POST", `${s.url}/resources`, { body: { name: "later", runAt: runAt.toISOString() } });
    expect(created.status).toBe(202);
    const id = created.json.id;
    const job = (await call("GET", `${s.url}/resources/${id}`)).json;
    expect(job).toMatchObject({ status: "IN PROGRESS", attempts: 0, runAt: runAt.toISOString() });
    expect(Object.keys(job)).toEqual(["id", "href", "status", "name", "priority", "tags", "attempts", "maxAttempts", "start", "runAt", "end"]);
    expect((await claim(s.url, 0)).json.tasks).toEqual([]);
    const got = await waitingClaim(s.url, ["later"]);
    expect(got.tasks.map((t) => t.id)).toEqual([id]);
    expect(got.at).toBeGreaterThanOrEqual(runAt.getTime());
    // Held by a worker: no longer waiting for a time.
    expect((await call("GET", `${s.url}/resources/${id}`)).json.runAt).toBeUndefined();
    expect(s.invalidResponses).toEqual([]);
  });

  it("wakes the waiting claim at the job's time also when the wall clock is behind the timers", async () => {
    // Timers run on the monotonic clock: one may fire while the wall clock (what the claim
    // compares runAt with) still reads a moment before, and the claim would then wait for its
    // next periodic look (a second later). A service clock running at a third of the speed
    // makes every timer early: the claim must still get the job at its time.
    const t0 = Date.now();
    const slow = { now: () => t0 + Math.floor((Date.now() - t0) / 3) };
    const behind = await startTestServer({ clock: slow });
    try {
      const at = slow.now() + 200; // about 600 ms from now in real time
      const created = Date.now();
      const id = (await call("POST", `${behind.url}/resources`, { body: { name: "lagging", runAt: new Date(at).toISOString() } })).json.id;
      const got = await waitingClaim(behind.url, ["lagging"]);
      expect(got.tasks.map((t) => t.id)).toEqual([id]);
      expect(slow.now()).toBeGreaterThanOrEqual(at);
      // At its time (~600 ms), not at the claim's periodic look (1 s).
      expect(got.at - created).toBeLessThan(900);
    } finally {
      await behind.close();
    }
  });

  it("a job due in 40 days is waited for: no timer that setTimeout cannot hold, fired and re-armed every millisecond", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      const runAt = new Date(Date.now() + 40 * 86_400_000);
      const created = await call("POST", `${s.url}/resources`, { body: { name: "monthly", runAt: runAt.toISOString() } });
      expect(created.status).toBe(202);
      await new Promise((r) => setTimeout(r, 300));
      expect(warnings).toEqual([]);
      expect((await claim(s.url, 0, ["monthly"])).json.tasks).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("takes delaySeconds; refuses both at once, and a time more than a year ahead", async () => {
    const d = await call("POST", `${s.url}/resources`, { body: { name: "later2", delaySeconds: 3600 } });
    const job = (await call("GET", `${s.url}/resources/${d.json.id}`)).json;
    expect(Date.parse(job.runAt) - Date.parse(job.start)).toBeGreaterThanOrEqual(3599_000);
    expect((await claim(s.url, 0, ["later2"])).json.tasks).toEqual([]);
    const both = await call("POST", `${s.url}/resources`, { body: { name: "x", delaySeconds: 1, runAt: new Date().toISOString() } });
    expect([both.status, both.json.errors[0].field]).toEqual([400, "body/delaySeconds"]);
    const far = await call("POST", `${s.url}/resources`, { body: { name: "x", runAt: new Date(Date.now() + 400 * 86400_000).toISOString() } });
    expect([far.status, far.json.errors[0]]).toEqual([400, expect.objectContaining({ field: "body/runAt", detail: "must be at most a year ahead" })]);
    const tooLong = await call("POST", `${s.url}/resources`, { body: { name: "x", delaySeconds: 31536001 } });
    expect([tooLong.status, tooLong.json.errors[0].field]).toEqual([400, "body/delaySeconds"]);
    // A time already past: at once.
    const past = await call("POST", `${s.url}/resources`, { body: { name: "past", runAt: "2020-01-01T00:00:00Z" } });
    expect((await call("GET", `${s.url}/resources/${past.json.id}`)).json.runAt).toBeUndefined();
    expect((await claim(s.url, 0, ["past"])).json.tasks.map((t: { id: string }) => t.id)).toEqual([past.json.id]);
  });

  it("counts its deadline from its time, not from its creation", async () => {
    const t = await startTestServer({ env: { JOB_DEADLINE_SECONDS: "2" } });
    try {
      const id = (await call("POST", `${t.url}/resources`, { body: { name: "late", delaySeconds: 3 } })).json.id;
      await new Promise((r) => setTimeout(r, 2500));
      // Past two seconds since it was created, not yet past its time plus two.
      expect((await call("GET", `${t.url}/resources/${id}`)).json.status).toBe("IN PROGRESS");
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(!PG_URL)("run later, across instances (PostgreSQL)", () => {
  let nodes: ServerProcess[] = [];
  afterAll(() => {
    for (const n of nodes) n.child.kill("SIGKILL");
  });

  it("a job scheduled on one instance goes, at its time and not before, to a claim waiting on another", async () => {
    nodes = await spawnServers(2, { DATABASE_URL: freshDatabaseUrl("postgres") });
    const [a, b] = nodes.map((n) => n.url) as [string, string];
    const waiting = waitingClaim(b, ["cross"]);
    await new Promise((r) => setTimeout(r, 200)); // the claim is waiting
    const runAt = Date.now() + 1200;
    const id = (await call("POST", `${a}/resources`, { body: { name: "cross", runAt: new Date(runAt).toISOString() } })).json.id;
    const got = await waiting;
    expect(got.tasks.map((t) => t.id)).toEqual([id]);
    expect(got.at).toBeGreaterThanOrEqual(runAt);
  });
});
