// Each job's history (GET /resources/{id}/events) over real HTTP on every store: every
// transition with its time, actor and attempt, written by the store with the change; paged;
// visible only to whoever may see the job; deleted with the job. Time is a manual clock.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/jobs/clock.js";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("job history on %s", (kind) => {
  const keys = writeKeys({ alice: "client", bob: "client", w: "worker", root: "admin" });
  const servers: TestServer[] = [];
  let clock: ManualClock;
  let s: TestServer;
  const start = async (env: Record<string, string> = {}) => {
    clock = new ManualClock();
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), clock, env: { API_KEYS_FILE: keys.file, ...env }, random: () => 0.5 });
    servers.push(s);
  };
  afterAll(async () => {
    for (const x of servers) await x.close();
  });
  afterEach(() => {
    for (const x of servers) expect(x.invalidResponses).toEqual([]);
  });

  const iso = (ms: number) => new Date(ms).toISOString();
  const create = async (body: unknown = { name: "report" }, who: keyof typeof keys.auth = "alice") => {
    const r = await call("POST", `${s.url}/resources`, { body, headers: keys.auth[who] });
    expect(r.status, r.text).toBe(202);
    return r.json.id as string;
  };
  const claim = async (worker: string, leaseSeconds = 30) => {
    const r = await call("POST", `${s.url}/tasks/claim`, { body: { worker, leaseSeconds }, headers: keys.auth["w"] });
    expect(r.status, r.text).toBe(200);
    expect(r.json.tasks).toHaveLength(1);
    return r.json.tasks[0] as { id: string; leaseToken: string };
  };
  const put = async (id: string, body: unknown, status = 200) => {
    const r = await call("PUT", `${s.url}/tasks/${id}`, { body, headers: keys.auth["w"] });
    expect(r.status, r.text).toBe(status);
    return r;
  };
  const events = async (id: string, who: keyof typeof keys.auth = "alice", qs = "") => {
    const r = await call("GET", `${s.url}/resources/${id}/events${qs}`, { headers: keys.auth[who] });
    return r;
  };
  const history = async (id: string, who: keyof typeof keys.auth = "alice") => {
    const r = await events(id, who);
    expect(r.status, r.text).toBe(200);
    return r.json.events as Record<string, unknown>[];
  };

  it("records every transition of a worked job: claims, progress (at most every 5 s), an expired lease, a retry, a release, success", async () => {
    await start();
    const t0 = clock.now();
    const id = await create();
    const a1 = await claim("w1");
    await put(id, { leaseToken: a1.leaseToken, progress: 10 });
    clock.advance(1000);
    await put(id, { leaseToken: a1.leaseToken, progress: 20 }); // within 5 s of the last: no event
    clock.advance(5000);
    await put(id, { leaseToken: a1.leaseToken, progress: 30 });
    await put(id, { leaseToken: a1.leaseToken }); // a heartbeat without progress: no event
    clock.advance(31_000); // the lease (30 s from the last heartbeat) runs out
    const a2 = await claim("w2");
    const retry = await put(id, { leaseToken: a2.leaseToken, status: "FAILED", retryable: true, error: { title: "busy" } });
    clock.advance(60_000);
    const a3 = await claim("w3");
    await put(id, { leaseToken: a3.leaseToken, release: true });
    const a4 = await claim("w3", 10);
    clock.advance(2000);
    await put(id, { leaseToken: a4.leaseToken, status: "SUCCESS", result: { ok: true } });

    expect(await history(id)).toEqual([
      { at: iso(t0), type: "created", actor: "alice" },
      { at: iso(t0), type: "claimed", actor: "w1", attempt: 1, leaseSeconds: 30 },
      { at: iso(t0), type: "progress", actor: "w1", attempt: 1, progress: 10 },
      { at: iso(t0 + 6000), type: "progress", actor: "w1", attempt: 1, progress: 30 },
      { at: iso(t0 + 36_000), type: "lease-expired", actor: "w1", attempt: 1 },
      { at: iso(t0 + 37_000), type: "claimed", actor: "w2", attempt: 2, leaseSeconds: 30 },
      { at: iso(t0 + 37_000), type: "retry-scheduled", actor: "w2", attempt: 2, runAfter: retry.json.retryAt },
      { at: iso(t0 + 97_000), type: "claimed", actor: "w3", attempt: 3, leaseSeconds: 30 },
      { at: iso(t0 + 97_000), type: "released", actor: "w3", attempt: 3 },
      { at: iso(t0 + 97_000), type: "claimed", actor: "w3", attempt: 3, leaseSeconds: 10 },
      { at: iso(t0 + 99_000), type: "succeeded", actor: "w3", attempt: 3 },
    ]);
  });

  it("records who cancelled, a failure's error, and failures the service decided (deadline, exhausted attempts) without an actor", async () => {
    await start({ JOB_DEADLINE_SECONDS: "100" });
    const t0 = clock.now();
    const cancelled = await create();
    const t = await claim("w1");
    expect(t.id).toBe(cancelled);
    expect((await call("DELETE", `${s.url}/resources/${cancelled}`, { headers: keys.auth["root"] })).status).toBe(200);
    await put(cancelled, { leaseToken: t.leaseToken, progress: 50 }, 409); // the worker hears of it; no event
    expect((await history(cancelled)).slice(2)).toEqual([{ at: iso(t0), type: "cancelled", actor: "root", attempt: 1 }]);

    const failed = await create();
    const f = await claim("w1");
    await put(failed, { leaseToken: f.leaseToken, status: "FAILED", error: { type: "urn:x:bad", title: "bad input" } });
    expect((await history(failed)).at(-1)).toEqual({ at: iso(t0), type: "failed", actor: "w1", attempt: 1, error: { type: "urn:x:bad", title: "bad input" } });

    const once = await create({ name: "report", maxAttempts: 1 });
    await claim("w2");
    const late = await create();
    clock.advance(31_000);
    expect((await call("GET", `${s.url}/resources/${once}`, { headers: keys.auth["alice"] })).status).toBe(500); // failed on read
    const exhausted = (await history(once)).slice(2);
    expect(exhausted).toEqual([
      { at: iso(t0 + 30_000), type: "lease-expired", actor: "w2", attempt: 1 },
      { at: iso(t0 + 31_000), type: "failed", attempt: 1, error: expect.objectContaining({ type: "urn:async-api:attempts-exhausted" }) },
    ]);
    clock.advance(70_000);
    await s.service.sweep();
    expect((await history(late)).slice(1)).toEqual([
      { at: iso(t0 + 101_000), type: "failed", error: expect.objectContaining({ type: "urn:async-api:deadline-exceeded" }) },
    ]);
  });

  it("pages with an opaque cursor, shows a job's history only to who may see the job, and deletes it with the job", async () => {
    await start({ JOB_RETENTION_SECONDS: "60" });
    const id = await create();
    for (let i = 0; i < 4; i++) {
      const t = await claim("w1");
      await put(id, { leaseToken: t.leaseToken, release: true });
    }
    const all = await history(id);
    expect(all).toHaveLength(9);
    const seen: unknown[] = [];
    let next: string | undefined = `/resources/${id}/events?limit=4`;
    while (next) {
      const r = await call("GET", `${s.url}${next}`, { headers: keys.auth["alice"] });
      expect(r.status).toBe(200);
      expect(r.json.events.length).toBeLessThanOrEqual(4);
      seen.push(...r.json.events);
      next = r.json.next;
    }
    expect(seen).toEqual(all);

    expect((await events(id, "bob")).status).toBe(404); // another client's job
    expect(await history(id, "root")).toEqual(all); // an admin sees every job
    expect((await events("no-such-job")).status).toBe(404);
    const bad = await events(id, "alice", "?cursor=nonsense");
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].field).toBe("query/cursor");
    expect((await events(id, "alice", "?limit=0")).status).toBe(400);

    expect((await call("DELETE", `${s.url}/resources/${id}`, { headers: keys.auth["alice"] })).status).toBe(200);
    clock.advance(61_000);
    expect((await s.service.sweep()).purged).toBe(1);
    expect((await s.store.events(id, 0, 100)).events).toEqual([]);
  });
});
