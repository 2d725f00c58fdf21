// Dependencies between jobs over real HTTP, on both stores: a job created with `dependsOn` is
// handed to no worker before every job it depends on has succeeded, then its worker gets their
// results; a failed or cancelled parent cancels its dependants (and theirs in turn) with an
// error naming it, or lets them run (`onDependencyFailure: run`); the history says why. A
// 1-to-200-to-1 fan-out and fan-in runs in order; a long-polling claim wakes when the last
// dependency ends; parents ending while dependants are created leave none stuck.
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const keys = writeKeys({ alice: "client", bob: "client", w: "worker", root: "admin" });

interface Task {
  id: string;
  leaseToken: string;
  input?: { i?: number };
  dependencies?: { id: string; status: string; result?: unknown }[];
}

describe.each(STORE_KINDS)("dependencies (%s)", (kind) => {
  let s: TestServer;
  afterAll(() => s?.close());
  const create = async (body: Record<string, unknown>, who: "alice" | "bob" = "alice") => {
    const r = await call("POST", `${s.url}/resources`, { body, headers: keys.auth[who] });
    expect(r.status, JSON.stringify(r.json)).toBe(202);
    return r.json.id as string;
  };
  const claim = async (names: string[], max = 100, wait = 0) =>
    (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w1", names, max }, headers: { ...keys.auth.w, ...(wait ? { Prefer: `wait=${wait}` } : {}) } })).json.tasks as Task[];
  const finish = async (t: Task, status: "SUCCESS" | "FAILED", extra: Record<string, unknown> = {}) => {
    const r = await call("PUT", `${s.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status, ...extra }, headers: keys.auth.w });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  };
  const job = async (id: string) => (await call("GET", `${s.url}/resources/${id}`, { headers: keys.auth.alice })).json;
  const events = async (id: string) => (await call("GET", `${s.url}/resources/${id}/events`, { headers: keys.auth.alice })).json.events as { type: string; error?: { type: string; detail: string } }[];

  it("1 to 200 to 1: each stage waits for the one before, and the last gets every result in order", async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file } });
    const root = await create({ name: "root" });
    const fan: string[] = [];
    for (let i = 0; i < 200; i++) fan.push(await create({ name: "fan", input: { i }, dependsOn: [root] }));
    const last = await create({ name: "last", dependsOn: fan });
    expect(await job(fan[0]!)).toMatchObject({ status: "IN PROGRESS", dependsOn: [root], waitingFor: 1 });
    expect(await job(last)).toMatchObject({ dependsOn: fan, waitingFor: 200 });

    // Only the root may be taken.
    const [rootTask, ...more] = await claim(["root", "fan", "last"]);
    expect(rootTask!.id).toBe(root);
    expect(more).toEqual([]);
    expect(await claim(["fan", "last"])).toEqual([]);
    // A claim already waiting for the fan hears when the root succeeds.
    const waiting = claim(["fan"], 100, 10);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await finish(rootTask!, "SUCCESS", { result: { seed: 7 } });
    let got = await waiting;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(got.length).toBeGreaterThan(0);
    expect(got[0]!.dependencies).toEqual([{ id: root, status: "SUCCESS", result: { seed: 7 } }]);

    const done: string[] = [];
    while (done.length < 200) {
      for (const t of got) {
        expect(await claim(["last"])).toEqual([]);
        await finish(t, "SUCCESS", { result: { square: t.input!.i! ** 2 } });
        done.push(t.id);
      }
      got = done.length < 200 ? await claim(["fan"]) : [];
      if (!got.length && done.length < 200) throw new Error(`no fan job to take after ${done.length}`);
    }
    expect(new Set(done).size).toBe(200);
    const [lastTask] = await claim(["last"]);
    expect(lastTask!.id).toBe(last);
    expect(lastTask!.dependencies!.map((d) => d.id)).toEqual(fan);
    expect(lastTask!.dependencies!.map((d) => (d.result as { square: number }).square)).toEqual(fan.map((_, i) => i ** 2));
    expect(s.invalidResponses).toEqual([]);

  });

  it("a failed parent cancels its dependants and theirs, naming it; `run` dependants run anyway; the history says why", async () => {
    const a = await create({ name: "a", maxAttempts: 1 });
    const b = await create({ name: "b", dependsOn: [a] });
    const c = await create({ name: "c", dependsOn: [b] });
    const d = await create({ name: "d", dependsOn: [a], onDependencyFailure: "run" });
    const [ta] = await claim(["a"]);
    await finish(ta!, "FAILED", { error: { title: "disk full" } });

    const jb = await job(b);
    expect(jb).toMatchObject({ status: "CANCELLED", dependsOn: [a], error: { type: "urn:async-api:dependency-failed", detail: `job ${a} ended FAILED` } });
    expect(jb.waitingFor).toBeUndefined();
    expect(jb.end).not.toBe("");
    expect(await job(c)).toMatchObject({ status: "CANCELLED", error: { type: "urn:async-api:dependency-failed", detail: `job ${b} ended CANCELLED` } });
    const cancelled = (await events(c)).find((e) => e.type === "cancelled");
    expect(cancelled?.error).toMatchObject({ type: "urn:async-api:dependency-failed", detail: `job ${b} ended CANCELLED` });
    expect((await events(b)).map((e) => e.type)).toEqual(["created", "cancelled"]);

    const [td] = await claim(["b", "c", "d"]);
    expect(td!.id).toBe(d);
    expect(td!.dependencies).toEqual([{ id: a, status: "FAILED" }]);

    // Created after its parent failed: cancelled at once. A parent cancelled by its client, the same.
    const late = await create({ name: "late", dependsOn: [a] });
    expect(await job(late)).toMatchObject({ status: "CANCELLED", error: { detail: `job ${a} ended FAILED` } });
    const e = await create({ name: "e" });
    const f = await create({ name: "f", dependsOn: [e] });
    expect((await call("DELETE", `${s.url}/resources/${e}`, { headers: keys.auth.alice })).status).toBeLessThan(300);
    expect(await job(f)).toMatchObject({ status: "CANCELLED", error: { detail: `job ${e} ended CANCELLED` } });
    expect(await claim(["late", "f"])).toEqual([]);
    expect(s.invalidResponses).toEqual([]);
  });

  it("an admin's re-run: a re-run dependant waits for its parents still running; a re-run parent is waited for again", async () => {
    const a = await create({ name: "ra", maxAttempts: 1 });
    const b = await create({ name: "rb", dependsOn: [a] });
    const [ta] = await claim(["ra"]);
    await finish(ta!, "FAILED", { error: { title: "flaky" } });
    expect((await job(b)).status).toBe("CANCELLED");
    expect((await call("POST", `${s.url}/admin/jobs/${a}/rerun`, { headers: keys.auth.root })).status).toBe(200);
    const rerunB = await call("POST", `${s.url}/admin/jobs/${b}/rerun`, { headers: keys.auth.root });
    expect(rerunB.json).toMatchObject({ status: "IN PROGRESS", waitingFor: 1 });
    expect((await claim(["rb"]))).toEqual([]);
    const [ta2] = await claim(["ra"]);
    await finish(ta2!, "SUCCESS", { result: 1 });
    const [tb] = await claim(["rb"]);
    expect(tb).toMatchObject({ id: b, dependencies: [{ id: a, status: "SUCCESS", result: 1 }] });
  });

  it("refuses what cannot be: unknown jobs, another client's, repeats, options without their field", async () => {
    const mine = await create({ name: "x" });
    const bobs = await create({ name: "x" }, "bob");
    const bad = async (body: unknown, field: string) => {
      const r = await call("POST", `${s.url}/resources`, { body, headers: keys.auth.alice });
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.headers.get("content-type")).toMatch(/application\/problem\+json/);
      expect(r.json.errors.map((e: { field: string }) => e.field)).toContain(field);
    };
    await bad({ name: "y", dependsOn: [mine, "nope"] }, "body/dependsOn/1");
    await bad({ name: "y", dependsOn: [bobs] }, "body/dependsOn/0");
    await bad({ name: "y", dependsOn: [mine, mine] }, "body/dependsOn");
    await bad({ name: "y", dependsOn: [] }, "body/dependsOn");
    await bad({ name: "y", onDependencyFailure: "run" }, "body/onDependencyFailure");
    await bad({ name: "y", dependsOn: [mine], singletonKey: "k" }, "body/dependsOn");
    await bad({ name: "y", dependsOn: [mine], onDependencyFailure: "maybe" }, "body/onDependencyFailure");
    // Nothing was made of them: the one job waits for nobody.
    const list = (await call("GET", `${s.url}/resources?name=y`, { headers: keys.auth.alice })).json;
    expect(list.jobs ?? list.items ?? []).toEqual([]);
  });

  it("parents ending while dependants are created: none is left waiting for a job that has ended", async () => {
    const parents: string[] = [];
    for (let i = 0; i < 40; i++) parents.push(await create({ name: "p" }));
    const tasks = await claim(["p"], 40);
    expect(tasks).toHaveLength(40);
    // Each parent ends while a dependant of it (and of the next) is being created.
    const children = await Promise.all(
      tasks.map(async (t, i) => {
        const [child] = await Promise.all([create({ name: "q", dependsOn: [t.id, tasks[(i + 1) % 40]!.id] }), finish(t, "SUCCESS", { result: i })]);
        return child;
      }),
    );
    const got = await claim(["q"], 100);
    expect(got.map((t) => t.id).sort()).toEqual([...children].sort());
    for (const t of got) expect(t.dependencies!.every((d) => d.status === "SUCCESS")).toBe(true);
  });
});
