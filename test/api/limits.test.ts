// Concurrency and rate limits over real HTTP, on both stores: an admin limits a job name or a
// concurrency key; claims hand out no more than the limit at once and no more than the rate,
// the rest waits (nothing lost); a job whose lease ran out is taken again although its group
// is full (it already counted); lifting the limit lets the rest go. On PostgreSQL, workers on
// three instances: the concurrency is never exceeded (in the intervals the workers recorded,
// and in the database sampled meanwhile), and the rate holds within 10% over a minute.
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServers, type ServerProcess } from "../helpers/process.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const keys = writeKeys({ alice: "client", w: "worker", root: "admin" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
interface Task {
  id: string;
  leaseToken: string;
}

describe.each(STORE_KINDS)("limits (%s)", (kind) => {
  let s: TestServer;
  afterAll(() => s?.close());
  const create = async (body: Record<string, unknown>) => (await call("POST", `${s.url}/resources`, { body, headers: keys.auth.alice })).json.id as string;
  const claim = async (names: string[] | undefined, max = 10, leaseSeconds = 30) =>
    (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w", ...(names && { names }), max, leaseSeconds }, headers: keys.auth.w })).json.tasks as Task[];
  const finish = (t: Task) => call("PUT", `${s.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status: "SUCCESS" }, headers: keys.auth.w });
  const admin = (method: string, path: string, body?: unknown) => call(method, `${s.url}${path}`, { ...(body === undefined ? {} : { body }), headers: keys.auth.root });

  it("a name's concurrency: no more than N held at once, the rest waits; lifted, it goes", async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file } });
    const set = await admin("PUT", "/admin/limits/name/mail", { concurrency: 2 });
    expect(set.status).toBe(200);
    expect(set.json).toEqual({ kind: "name", value: "mail", concurrency: 2, burst: 1, running: 0, updated: expect.any(String), by: "root" });
    for (let i = 0; i < 6; i++) await create({ name: "mail" });
    const other = await create({ name: "sms" });
    const first = await claim(undefined);
    // Two of the mail jobs and the sms job: the other four mail jobs wait, not hiding the sms job.
    expect(first).toHaveLength(3);
    expect(first.map((t) => t.id)).toContain(other);
    expect(await claim(["mail"])).toEqual([]);
    expect((await admin("GET", "/admin/limits")).json.limits).toEqual([expect.objectContaining({ kind: "name", value: "mail", running: 2 })]);
    const mail = first.filter((t) => t.id !== other);
    await finish(mail[0]!);
    const next = await claim(["mail"]);
    expect(next).toHaveLength(1);
    expect(await claim(["mail"])).toEqual([]);
    // Lifted: the rest.
    expect((await admin("DELETE", "/admin/limits/name/mail")).status).toBe(204);
    expect(await claim(["mail"])).toHaveLength(3);
    expect((await admin("GET", "/admin/limits")).json).toEqual({ limits: [] });
    expect(s.invalidResponses).toEqual([]);
  });

  it("a concurrency key groups jobs of any name; jobs without it are not held back", async () => {
    await admin("PUT", "/admin/limits/key/tenant-1", { concurrency: 1 });
    const a = await create({ name: "export", concurrencyKey: "tenant-1" });
    const b = await create({ name: "import", concurrencyKey: "tenant-1" });
    const free = await create({ name: "export" });
    expect((await call("GET", `${s.url}/resources/${a}`, { headers: keys.auth.alice })).json.concurrencyKey).toBe("tenant-1");
    const got = await claim(["export", "import"]);
    expect(got.map((t) => t.id).sort()).toEqual([a, free].sort());
    expect(await claim(["import"])).toEqual([]);
    await finish(got.find((t) => t.id === a)!);
    expect((await claim(["import"])).map((t) => t.id)).toEqual([b]);
    await admin("DELETE", "/admin/limits/key/tenant-1");
  });

  it("a job whose lease ran out is taken again although its group is full", async () => {
    await admin("PUT", "/admin/limits/name/slow", { concurrency: 1 });
    const id = await create({ name: "slow" });
    await create({ name: "slow" });
    const [t] = await claim(["slow"], 10, 5);
    expect(t!.id).toBe(id);
    expect(await claim(["slow"])).toEqual([]);
    await sleep(5300);
    // The same job again (the other still waits: the group holds one).
    expect((await claim(["slow"])).map((x) => x.id)).toEqual([id]);
    await admin("DELETE", "/admin/limits/name/slow");
  });

  it("a rate: no more than R handed out per second", async () => {
    await admin("PUT", "/admin/limits/name/api", { ratePerSecond: 4, burst: 1 });
    for (let i = 0; i < 40; i++) await create({ name: "api" });
    let got = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 2000) {
      got += (await claim(["api"])).length;
      await sleep(20);
    }
    // 1 at once, then 4 a second: about 9 in 2 s.
    expect(got).toBeGreaterThanOrEqual(7);
    expect(got).toBeLessThanOrEqual(10);
    await admin("DELETE", "/admin/limits/name/api");
  });

  it("refuses what is not a limit, and anyone but an admin", async () => {
    const bad = async (path: string, body: unknown, field: string) => {
      const r = await admin("PUT", path, body);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json.errors.map((e: { field: string }) => e.field).join(" ")).toContain(field);
    };
    await bad("/admin/limits/name/x", {}, "body");
    await bad("/admin/limits/name/x", { burst: 3 }, "body/concurrency");
    await bad("/admin/limits/name/x", { concurrency: 0 }, "body/concurrency");
    await bad("/admin/limits/name/x", { ratePerSecond: -1 }, "body/ratePerSecond");
    await bad("/admin/limits/tenant/x", { concurrency: 1 }, "kind");
    expect((await call("PUT", `${s.url}/admin/limits/name/x`, { body: { concurrency: 1 }, headers: keys.auth.alice })).status).toBe(403);
    expect((await call("PUT", `${s.url}/admin/limits/name/x`, { body: { concurrency: 1 }, headers: keys.auth.w })).status).toBe(403);
    expect((await admin("GET", "/admin/limits")).json).toEqual({ limits: [] });
  });
});

describe.runIf(PG_URL)("limits across three PostgreSQL instances", () => {
  let nodes: ServerProcess[] = [];
  afterAll(() => {
    for (const n of nodes) n.child.kill("SIGKILL");
  });
  const SECONDS = Number(process.env["LIMITS_SOAK_SECONDS"] ?? 60);
  const asW = { ...keys.auth.w };

  it(`concurrency 3 is never exceeded and 10 a second holds within 10% over ${SECONDS} s, with workers on three instances`, { timeout: (SECONDS + 90) * 1000 }, async () => {
    const url = freshDatabaseUrl("postgres");
    nodes = await spawnServers(3, { DATABASE_URL: url, API_KEYS_FILE: keys.file });
    const put = (path: string, body: unknown) => call("PUT", `${nodes[0]!.url}${path}`, { body, headers: keys.auth.root });
    expect((await put("/admin/limits/name/held", { concurrency: 3 })).status).toBe(200);
    expect((await put("/admin/limits/name/paced", { ratePerSecond: 10, burst: 1 })).status).toBe(200);
    const make = async (name: string, n: number) => {
      for (let i = 0; i < n; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => call("POST", `${nodes[(i + k) % 3]!.url}/resources`, { body: { name }, headers: keys.auth.alice })));
      }
    };
    await make("held", 150);
    await make("paced", SECONDS * 10 + 200);
    // Each held job's interval as its worker saw it: from the claim's answer to the finish sent.
    // The server held it longer on both sides, so overlaps here are overlaps there too.
    const intervals: [number, number][] = [];
    let paced = 0;
    let stop = false;
    const worker = async (i: number, name: string) => {
      const url = nodes[i % 3]!.url;
      while (!stop) {
        const r = await call("POST", `${url}/tasks/claim`, { body: { worker: `w${i}`, names: [name], max: 4 }, headers: asW });
        const got = performance.timeOrigin + performance.now();
        const tasks = r.json.tasks as Task[];
        if (!tasks.length) {
          await sleep(10);
          continue;
        }
        if (name === "paced") paced += tasks.length;
        else await sleep(30 + Math.random() * 40);
        const sent = performance.timeOrigin + performance.now();
        if (name === "held") for (const _ of tasks) intervals.push([got, sent]);
        await Promise.all(tasks.map((t) => call("PUT", `${url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status: "SUCCESS" }, headers: asW })));
      }
    };
    // And the database's own view, sampled: jobs of the name held by workers at one moment.
    const db = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${new URL(url).searchParams.get("schema")}` });
    await db.connect();
    let sampled = 0;
    const samples = (async () => {
      while (!stop) {
        const r = await db.query(`SELECT COUNT(*)::int AS n FROM jobs WHERE name = 'held' AND status = 'IN PROGRESS' AND lease_token IS NOT NULL AND lease_expires_ms > 0`);
        sampled = Math.max(sampled, r.rows[0].n);
        await sleep(5);
      }
    })();
    const t0 = Date.now();
    const running = [...Array.from({ length: 8 }, (_, i) => worker(i, "held")), ...Array.from({ length: 6 }, (_, i) => worker(i, "paced"))];
    await sleep(SECONDS * 1000);
    stop = true;
    await Promise.all([...running, samples]);
    await db.end();
    const elapsed = (Date.now() - t0) / 1000;
    // Paced: 10 a second (and the one of the burst), within 10%.
    expect(paced / elapsed).toBeGreaterThanOrEqual(9);
    expect(paced / elapsed).toBeLessThanOrEqual(11);
    expect(intervals.length).toBeGreaterThan(20);
    const edges = intervals.flatMap(([a, b]): [number, number][] => [[a, 1], [b, -1]]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    let now = 0;
    let most = 0;
    for (const [, d] of edges) most = Math.max(most, (now += d));
    expect(most).toBeLessThanOrEqual(3);
    expect(sampled).toBeLessThanOrEqual(3);
    expect(Math.max(most, sampled)).toBe(3);
  });
});
