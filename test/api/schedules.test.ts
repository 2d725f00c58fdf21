// Recurring schedules over real HTTP, on both stores: a client's own schedules (create, list,
// get, update, pause, delete), refusals naming the field, one job per due time linked to its
// schedule and handed to no worker before its time, the catch-up policy after downtime
// (skip, or once), and, on PostgreSQL, a schedule every second across three instances with
// one killed and restarted midway: exactly one job per due time, none missing.
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServer, spawnServers, type ServerProcess } from "../helpers/process.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const keys = writeKeys({ alice: "client", bob: "client", w: "worker", root: "admin" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Who = "alice" | "bob" | "root";

interface Job {
  id: string;
  name: string;
  runAt?: string;
  schedule?: string;
  scheduledFor?: string;
  input?: unknown;
}

/** Every job of a name, through the admins' list (newest first, a page at a time). */
async function jobsNamed(url: string, name: string): Promise<Job[]> {
  const out: Job[] = [];
  let next: string | undefined = `/admin/jobs?name=${name}&limit=100`;
  while (next) {
    const r = await call("GET", `${url}${next}`, { headers: keys.auth.root });
    expect(r.status).toBe(200);
    out.push(...(r.json.jobs as Job[]));
    next = r.json.next;
  }
  return out;
}

/** The due times (epoch ms) of a schedule's jobs, in order. */
const dueTimes = (jobs: Job[]) => jobs.map((j) => Date.parse(j.scheduledFor ?? "")).sort((a, b) => a - b);

describe.each(STORE_KINDS)("schedules (%s)", (kind) => {
  let s: TestServer;
  afterAll(() => s?.close());
  const req = (method: string, path: string, body?: unknown, who: Who = "alice") =>
    call(method, `${s.url}${path}`, { ...(body === undefined ? {} : { body }), headers: keys.auth[who] });

  it("create, list, get, update, pause, delete: a client's own", async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file } });
    const made = await req("POST", "/schedules", { everySeconds: 3600, job: { name: "hourly", input: { scope: "all" } }, paused: true });
    expect(made.status).toBe(201);
    expect(made.headers.get("location")).toBe(made.json.href);
    expect(made.json).toEqual({
      id: expect.stringMatching(/^sch_/),
      href: `/schedules/${made.json.id}`,
      everySeconds: 3600,
      job: { name: "hourly", input: { scope: "all" } },
      catchUp: "once",
      paused: true,
      created: expect.any(String),
    });
    const id = made.json.id as string;
    expect((await req("GET", `/schedules/${id}`)).json).toEqual(made.json);
    expect((await req("GET", "/schedules")).json).toEqual({ schedules: [made.json] });
    // Another client neither sees nor changes it; an admin sees it.
    expect((await req("GET", `/schedules/${id}`, undefined, "bob")).status).toBe(404);
    expect((await req("PATCH", `/schedules/${id}`, { paused: false }, "bob")).status).toBe(404);
    expect((await req("DELETE", `/schedules/${id}`, undefined, "bob")).status).toBe(404);
    expect((await req("GET", "/schedules", undefined, "bob")).json).toEqual({ schedules: [] });
    expect((await req("GET", "/schedules", undefined, "root")).json.schedules.map((x: { id: string }) => x.id)).toContain(id);

    // Resumed: due an hour from now (counted from the resume).
    const t0 = Date.now();
    const resumed = await req("PATCH", `/schedules/${id}`, { paused: false });
    expect(resumed.status).toBe(200);
    const next = Date.parse(resumed.json.nextRunAt);
    expect(next).toBeGreaterThanOrEqual(t0 + 3600_000 - 5);
    expect(next).toBeLessThanOrEqual(Date.now() + 3600_000);
    // A cron expression in a time zone replaces the interval: next 03:00 in New York.
    const cron = await req("PATCH", `/schedules/${id}`, { cron: "0 3 * * *", timezone: "America/New_York", catchUp: "skip" });
    expect(cron.status).toBe(200);
    expect(cron.json).toMatchObject({ cron: "0 3 * * *", timezone: "America/New_York", catchUp: "skip", paused: false });
    expect(cron.json.everySeconds).toBeUndefined();
    const at = new Date(cron.json.nextRunAt);
    const ny = new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(at);
    expect(ny).toBe("03:00:00");
    expect(at.getTime() - Date.now()).toBeGreaterThan(0);
    expect(at.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3600_000 + 3600_000);
    // Paused: no next run shown.
    const paused = await req("PATCH", `/schedules/${id}`, { paused: true });
    expect(paused.json.paused).toBe(true);
    expect(paused.json.nextRunAt).toBeUndefined();
    expect((await req("GET", `/schedules/${id}`)).json).toEqual(paused.json);

    expect((await req("DELETE", `/schedules/${id}`)).status).toBe(204);
    expect((await req("GET", `/schedules/${id}`)).status).toBe(404);
    expect((await req("DELETE", `/schedules/${id}`)).status).toBe(404);
    expect(s.invalidResponses).toEqual([]);
  });

  it("refuses what cannot be scheduled, naming the field", async () => {
    const bad = async (method: string, path: string, body: unknown, field: string) => {
      const r = await req(method, path, body);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(r.json.errors.map((e: { field: string }) => e.field), JSON.stringify(r.json)).toContain(field);
    };
    const job = { name: "x" };
    await bad("POST", "/schedules", { job }, "body/cron");
    await bad("POST", "/schedules", { cron: "* * * * *", everySeconds: 5, job }, "body/cron");
    await bad("POST", "/schedules", { cron: "61 * * * *", job }, "body/cron");
    await bad("POST", "/schedules", { cron: "not a cron at all", job }, "body/cron");
    await bad("POST", "/schedules", { cron: "0 3 * * *", timezone: "Mars/Olympus", job }, "body/timezone");
    await bad("POST", "/schedules", { everySeconds: 60, timezone: "Europe/Paris", job }, "body/timezone");
    await bad("POST", "/schedules", { everySeconds: 0, job }, "body/everySeconds");
    await bad("POST", "/schedules", { everySeconds: 60, job: { name: "x", dependsOn: ["a"] } }, "body/job/dependsOn");
    await bad("POST", "/schedules", { everySeconds: 60, job: { name: "x", callbackUrl: "https://example.com/hook" } }, "body/job/callbackUrl");
    const ok = await req("POST", "/schedules", { everySeconds: 60, job, paused: true });
    await bad("PATCH", `/schedules/${ok.json.id}`, {}, "body");
    await bad("PATCH", `/schedules/${ok.json.id}`, { timezone: "Europe/Paris" }, "body/timezone");
    await bad("PATCH", `/schedules/${ok.json.id}`, { cron: "* * *" }, "body/cron");
    // Unchanged by the refused updates.
    expect((await req("GET", `/schedules/${ok.json.id}`)).json).toEqual(ok.json);
  });

  it("one job per due time, linked to its schedule, handed to no worker before its time", async () => {
    const made = await req("POST", "/schedules", { everySeconds: 1, job: { name: "tick", input: { n: 1 } } });
    const id = made.json.id as string;
    const claimedAt = new Map<string, number>();
    const stop = Date.now() + 4500;
    while (Date.now() < stop) {
      const r = await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w", names: ["tick"] }, headers: { ...keys.auth.w, Prefer: "wait=1" } });
      const got = Date.now();
      for (const t of r.json.tasks as { id: string; leaseToken: string }[]) {
        claimedAt.set(t.id, got);
        await call("PUT", `${s.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status: "SUCCESS" }, headers: keys.auth.w });
      }
    }
    await req("PATCH", `/schedules/${id}`, { paused: true });
    // Oldest first: the k-th job is the one due k seconds after the create.
    const jobs = (await jobsNamed(s.url, "tick")).filter((j) => j.schedule === id).reverse();
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    const due = (k: number) => Date.parse(made.json.created) + 1000 * (k + 1);
    jobs.forEach((j, k) => {
      expect(Date.parse(j.scheduledFor!)).toBe(due(k));
      expect(j.input).toEqual({ n: 1 });
    });
    // Never before its time; and claimed soon after it (the run-later wake-up).
    const late = jobs.flatMap((j, k) => (claimedAt.has(j.id) ? [claimedAt.get(j.id)! - due(k)] : []));
    expect(late.length).toBeGreaterThanOrEqual(3);
    for (const l of late) expect(l).toBeGreaterThanOrEqual(0);
    expect(Math.max(...late)).toBeLessThan(1000);
    const sched = (await req("GET", `/schedules/${id}`)).json;
    expect(Date.parse(sched.lastRunAt)).toBe(due(jobs.length - 1));
    expect(sched.lastJob).toBe(jobs[jobs.length - 1]!.id);
    // Paused: no more jobs.
    await sleep(1500);
    expect((await jobsNamed(s.url, "tick")).filter((j) => j.schedule === id)).toHaveLength(jobs.length);
    expect(s.invalidResponses).toEqual([]);
  });

  it("after downtime: `once` makes one job for the missed due times, `skip` none; then on as before", async () => {
    const db = freshDatabaseUrl(kind);
    const env = { API_KEYS_FILE: keys.file, SCHEDULE_GRACE_SECONDS: "1" };
    let t = await startTestServer({ databaseUrl: db, env });
    const mk = async (catchUp: string) => (await call("POST", `${t.url}/schedules`, { body: { everySeconds: 1, catchUp, job: { name: `cu-${catchUp}` } }, headers: keys.auth.alice })).json.id as string;
    const once = await mk("once");
    const skip = await mk("skip");
    await sleep(2500);
    await t.close();
    const down = Date.now();
    await sleep(4000);
    const restart = Date.now();
    t = await startTestServer({ databaseUrl: db, env });
    try {
      await sleep(2500);
      for (const [schedule, name, inGap] of [
        [once, "cu-once", 1],
        [skip, "cu-skip", 0],
      ] as const) {
        const due = dueTimes((await jobsNamed(t.url, name)).filter((j) => j.schedule === schedule));
        expect(new Set(due).size).toBe(due.length);
        // Jobs are created up to a second ahead: those before the stop reach `down + 1 s`.
        const before = due.filter((d) => d <= down + 1000);
        const gap = due.filter((d) => d > down + 1000 && d < restart - 1000);
        const after = due.filter((d) => d >= restart);
        expect(before.length).toBeGreaterThanOrEqual(2);
        expect(gap.length, `${name}: ${due.map((d) => d - down).join(",")}`).toBe(inGap);
        if (inGap) expect(gap[0]).toBe(before[before.length - 1]! + 1000);
        expect(after.length).toBeGreaterThanOrEqual(2);
        for (let i = 1; i < after.length; i++) expect(after[i]! - after[i - 1]!).toBe(1000);
      }
    } finally {
      await t.close();
    }
  });
});

describe.runIf(PG_URL)("schedules across three PostgreSQL instances", () => {
  let nodes: ServerProcess[] = [];
  afterAll(() => {
    for (const n of nodes) n.child.kill("SIGKILL");
  });
  const SECONDS = Number(process.env["SCHEDULE_SOAK_SECONDS"] ?? 120);

  it(`a schedule every second for ${SECONDS} s, one instance killed and restarted midway: one job per due time, none missing`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const env = { DATABASE_URL: freshDatabaseUrl("postgres"), API_KEYS_FILE: keys.file };
    nodes = await spawnServers(3, env);
    const made = await call("POST", `${nodes[0]!.url}/schedules`, { body: { everySeconds: 1, job: { name: "soak" } }, headers: keys.auth.alice });
    expect(made.status).toBe(201);
    const id = made.json.id as string;
    await sleep((SECONDS / 2) * 1000);
    nodes[1]!.child.kill("SIGKILL");
    await nodes[1]!.exited;
    await sleep(3000);
    nodes[1] = await spawnServer(env);
    await sleep((SECONDS / 2) * 1000 - 3000);
    const stopped = await call("PATCH", `${nodes[2]!.url}/schedules/${id}`, { body: { paused: true }, headers: keys.auth.alice });
    expect(stopped.status).toBe(200);
    await sleep(500);
    const jobs = (await jobsNamed(nodes[1]!.url, "soak")).filter((j) => j.schedule === id);
    const due = dueTimes(jobs);
    expect(new Set(due).size).toBe(due.length);
    expect(due[0]).toBe(Date.parse(made.json.created) + 1000);
    for (let i = 1; i < due.length; i++) expect(due[i]! - due[i - 1]!, `after ${new Date(due[i - 1]!).toISOString()}`).toBe(1000);
    expect(due.length).toBeGreaterThanOrEqual(SECONDS - 2);
    expect(due[due.length - 1]).toBe(Date.parse(stopped.json.lastRunAt));
  });
});
