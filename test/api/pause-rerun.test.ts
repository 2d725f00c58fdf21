// Pause and re-run, for admins: a paused name's jobs are stored but handed to no worker, their
// deadlines stop while it is paused, and a claim waiting for them gets them when it is resumed
// (on another instance too); a FAILED or CANCELLED job runs again as the same job, with a new
// series of attempts and a `rerun` event; the redrive runs again a name's failed jobs, a page
// at a time.
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServers, type ServerProcess } from "../helpers/process.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const keys = writeKeys({ alice: "client", w: "worker", root: "admin" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(STORE_KINDS)("pause and re-run (%s)", (kind) => {
  let s: TestServer;
  afterAll(() => s?.close());
  const create = async (body: unknown) => (await call("POST", `${s.url}/resources`, { body, headers: keys.auth.alice })).json.id as string;
  const claim = async (names: string[], wait = 0) =>
    (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w1", names, max: 10 }, headers: { ...keys.auth.w, ...(wait ? { Prefer: `wait=${wait}` } : {}) } })).json.tasks as { id: string; leaseToken: string; attempt: number }[];
  const admin = (method: string, path: string, body?: unknown) => call(method, `${s.url}${path}`, { ...(body === undefined ? {} : { body }), headers: keys.auth.root });
  const types = async (id: string) => (await call("GET", `${s.url}/resources/${id}/events`, { headers: keys.auth.alice })).json.events.map((e: { type: string }) => e.type);

  it("a paused name's jobs wait, nothing lost; resuming hands them to a claim already waiting", async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file } });
    const paused = await admin("PUT", "/admin/paused/mail");
    expect(paused.status).toBe(200);
    expect(paused.json).toEqual({ name: "mail", since: expect.any(String), by: "root" });
    // Pausing again changes nothing.
    expect((await admin("PUT", "/admin/paused/mail")).json).toEqual(paused.json);
    expect((await admin("GET", "/admin/paused")).json).toEqual({ names: [paused.json] });
    const ids = [await create({ name: "mail" }), await create({ name: "mail" })];
    const other = await create({ name: "sms" });
    expect((await claim(["mail", "sms"])).map((t) => t.id)).toEqual([other]);
    // A worker and the clients only may not pause.
    expect((await call("PUT", `${s.url}/admin/paused/sms`, { headers: keys.auth.w })).status).toBe(403);
    const waiting = claim(["mail"], 10);
    await sleep(300);
    const t0 = Date.now();
    expect((await admin("DELETE", "/admin/paused/mail")).status).toBe(204);
    const got = await waiting;
    expect(got.map((t) => t.id).sort()).toEqual([...ids].sort());
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await admin("GET", "/admin/paused")).json).toEqual({ names: [] });
    // Resuming a name that is not paused: the same answer.
    expect((await admin("DELETE", "/admin/paused/mail")).status).toBe(204);
    expect(s.invalidResponses).toEqual([]);
  });

  it("names and keys are path segments: `.` and `..` are refused at the create, dotted ones go through", async () => {
    // A URL parser resolves `.` and `..` segments (even as %2E) before sending, so a job named
    // `.` could never be paused and a key `..` never limited: the spec refuses them up front.
    for (const body of [{ name: "." }, { name: ".." }, { name: "x", concurrencyKey: "." }, { name: "x", concurrencyKey: ".." }]) {
      const r = await call("POST", `${s.url}/resources`, { body, headers: keys.auth.alice });
      expect(r.status).toBe(400);
      expect(r.json.errors.map((e: { field: string }) => e.field)).toEqual([`body/${"concurrencyKey" in body ? "concurrencyKey" : "name"}`]);
    }
    for (const name of [".a", "...", "a.."]) {
      const id = await create({ name, concurrencyKey: name });
      const segment = encodeURIComponent(name);
      expect((await admin("PUT", `/admin/paused/${segment}`)).json).toMatchObject({ name });
      expect((await claim([name])).map((t) => t.id)).toEqual([]);
      expect((await admin("DELETE", `/admin/paused/${segment}`)).status).toBe(204);
      expect((await admin("PUT", `/admin/limits/key/${segment}`, { concurrency: 1 })).json).toMatchObject({ kind: "key", value: name, concurrency: 1 });
      expect((await claim([name])).map((t) => t.id)).toEqual([id]);
      expect((await admin("DELETE", `/admin/limits/key/${segment}`)).status).toBe(204);
    }
  });

  it("a pause stops the deadlines of its waiting jobs, and resuming moves them on", async () => {
    const t = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file, JOB_DEADLINE_SECONDS: "1", SWEEP_INTERVAL_SECONDS: "1" } });
    try {
      await call("PUT", `${t.url}/admin/paused/slow`, { headers: keys.auth.root });
      const id = (await call("POST", `${t.url}/resources`, { body: { name: "slow" }, headers: keys.auth.alice })).json.id;
      const loose = (await call("POST", `${t.url}/resources`, { body: { name: "loose" }, headers: keys.auth.alice })).json.id;
      await sleep(2200);
      // The sweep and the read both leave it: past its deadline, but paused.
      expect((await call("GET", `${t.url}/resources/${id}`, { headers: keys.auth.alice })).json.status).toBe("IN PROGRESS");
      expect((await call("GET", `${t.url}/resources/${loose}`, { headers: keys.auth.alice })).status).toBe(500);
      await call("DELETE", `${t.url}/admin/paused/slow`, { headers: keys.auth.root });
      const tasks = (await call("POST", `${t.url}/tasks/claim`, { body: { worker: "w", names: ["slow"] }, headers: keys.auth.w })).json.tasks;
      expect(tasks.map((x: { id: string }) => x.id)).toEqual([id]);
    } finally {
      await t.close();
    }
  });

  it("re-runs a FAILED or CANCELLED job as the same job; refuses one IN PROGRESS or SUCCESS", async () => {
    const id = await create({ name: "report", input: { day: 1 }, maxAttempts: 1 });
    const [task] = await claim(["report"]);
    const fail = await call("PUT", `${s.url}/tasks/${id}`, { body: { leaseToken: task!.leaseToken, status: "FAILED", error: { title: "disk full" } }, headers: keys.auth.w });
    expect(fail.status).toBe(200);
    expect((await call("GET", `${s.url}/resources/${id}`, { headers: keys.auth.alice })).status).toBe(500);

    const rerun = await admin("POST", `/admin/jobs/${id}/rerun`);
    expect(rerun.status).toBe(200);
    expect(rerun.json).toMatchObject({ id, status: "IN PROGRESS", input: { day: 1 }, attempts: 0, maxAttempts: 1, end: "" });
    expect(rerun.json.error).toBeUndefined();
    // The client's poll sees it running again; the old lease's worker is refused.
    const polled = await call("GET", `${s.url}/resources/${id}`, { headers: keys.auth.alice });
    expect([polled.status, polled.json.status]).toEqual([200, "IN PROGRESS"]);
    const stale = await call("PUT", `${s.url}/tasks/${id}`, { body: { leaseToken: task!.leaseToken, status: "SUCCESS" }, headers: keys.auth.w });
    expect(stale.status).toBe(409);
    const events = (await call("GET", `${s.url}/resources/${id}/events`, { headers: keys.auth.alice })).json.events;
    expect(events.map((e: { type: string }) => e.type)).toEqual(["created", "claimed", "failed", "rerun"]);
    expect(events[3]).toMatchObject({ type: "rerun", actor: "root", from: "FAILED" });

    // A new series: claimed as attempt 1 and succeeding.
    const [again] = await claim(["report"]);
    expect([again!.id, again!.attempt]).toEqual([id, 1]);
    expect((await call("PUT", `${s.url}/tasks/${id}`, { body: { leaseToken: again!.leaseToken, result: { ok: true } }, headers: keys.auth.w })).status).toBe(200);
    expect(await types(id)).toEqual(["created", "claimed", "failed", "rerun", "claimed", "succeeded"]);
    const events2 = (await call("GET", `${s.url}/resources/${id}/events`, { headers: keys.auth.alice })).json.events;
    expect(events2[5].actor).toBe("w1");

    const done = await admin("POST", `/admin/jobs/${id}/rerun`);
    expect([done.status, done.json.detail]).toEqual([409, "the job is SUCCESS: only FAILED or CANCELLED jobs are run again"]);
    const running = await create({ name: "x" });
    expect((await admin("POST", `/admin/jobs/${running}/rerun`)).status).toBe(409);
    expect((await admin("POST", "/admin/jobs/AAAAAAAAAAAAAAAAAAAAAA/rerun")).status).toBe(404);
    expect((await call("POST", `${s.url}/admin/jobs/${running}/rerun`, { headers: keys.auth.alice })).status).toBe(403);

    const cancelled = await create({ name: "x" });
    await call("DELETE", `${s.url}/resources/${cancelled}`, { headers: keys.auth.alice });
    const r2 = await admin("POST", `/admin/jobs/${cancelled}/rerun`);
    expect([r2.status, r2.json.status]).toEqual([200, "IN PROGRESS"]);
    expect(await types(cancelled)).toEqual(["created", "cancelled", "rerun"]);
    expect(s.invalidResponses).toEqual([]);
  });

  it("redrives a name's failed jobs, a page at a time, oldest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await create({ name: "dead", input: { i }, maxAttempts: 1 }));
    for (const t of await claim(["dead"])) {
      await call("PUT", `${s.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status: "FAILED", error: { title: "no" } }, headers: keys.auth.w });
    }
    const first = await admin("POST", "/admin/redrive", { name: "dead", limit: 3 });
    expect(first.json).toEqual({ rerun: 3, more: true });
    expect((await claim(["dead"])).map((t) => t.id)).toEqual(ids.slice(0, 3));
    const second = await admin("POST", "/admin/redrive", { name: "dead" });
    expect(second.json).toEqual({ rerun: 2, more: false });
    expect((await admin("POST", "/admin/redrive", { name: "dead" })).json).toEqual({ rerun: 0, more: false });
    const bad = await admin("POST", "/admin/redrive", { name: "dead", status: "SUCCESS" });
    expect([bad.status, bad.json.errors[0].field]).toEqual([400, "body/status"]);
    expect(s.invalidResponses).toEqual([]);
  });
});

describe.skipIf(!PG_URL)("pause across instances (PostgreSQL)", () => {
  let nodes: ServerProcess[] = [];
  afterAll(() => {
    for (const n of nodes) n.child.kill("SIGKILL");
  });

  it("a name paused on one instance is paused on all; resumed on one, a claim waiting on another gets its jobs", async () => {
    nodes = await spawnServers(3, { DATABASE_URL: freshDatabaseUrl("postgres"), API_KEYS_FILE: keys.file });
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    await call("PUT", `${a}/admin/paused/batch`, { headers: keys.auth.root });
    const id = (await call("POST", `${b}/resources`, { body: { name: "batch" }, headers: keys.auth.alice })).json.id;
    for (const url of [a, b, c]) {
      expect((await call("POST", `${url}/tasks/claim`, { body: { worker: "w", names: ["batch"] }, headers: keys.auth.w })).json.tasks).toEqual([]);
    }
    const waiting = call("POST", `${c}/tasks/claim`, { body: { worker: "w", names: ["batch"] }, headers: { ...keys.auth.w, Prefer: "wait=10" } });
    await sleep(300);
    const t0 = Date.now();
    expect((await call("DELETE", `${a}/admin/paused/batch`, { headers: keys.auth.root })).status).toBe(204);
    const got = await waiting;
    expect(got.json.tasks.map((t: { id: string }) => t.id)).toEqual([id]);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
