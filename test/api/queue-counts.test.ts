// The queue's counts (GET /admin/queues, the jobs_waiting and jobs_running gauges) are kept by
// triggers rather than counted (src/jobs/counts-sql.ts). They must agree with the jobs
// themselves after any session: a seeded random mix of creates (singleton joins and replaces
// that change the waiting job's name, dependants cancelled with their parent), claims, every
// kind of outcome, cancels, re-runs and deadline expiry, checked against a count of the rows
// every few steps, on both stores.
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const keys = writeKeys({ alice: "client", w: "worker", root: "admin" });
const NAMES = ["a", "b", "c"];
type Counts = Record<string, { waiting: number; running: number }>;

/** Rows of a query, read straight from the database. */
async function query<T>(databaseUrl: string, sql: string): Promise<T[]> {
  if (databaseUrl.startsWith("sqlite:")) {
    const db = new Database(databaseUrl.slice("sqlite:".length), { readonly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${new URL(databaseUrl).searchParams.get("schema")}` });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

/** The counts as the rows have them. */
async function countRows(databaseUrl: string): Promise<Counts> {
  const rows = await query<{ name: string | null; running: number | string; total: number | string }>(
    databaseUrl,
    `SELECT name, SUM(CASE WHEN lease_expires_ms > ${Date.now() + 60_000} THEN 1 ELSE 0 END) AS running, COUNT(*) AS total
    FROM jobs WHERE status = 'IN PROGRESS' GROUP BY name`,
  );
  return Object.fromEntries(rows.map((r) => [r.name ?? "", { waiting: Number(r.total) - Number(r.running), running: Number(r.running) }]));
}

describe.each(STORE_KINDS)("the queue's counts (%s)", (kind) => {
  it("agree with the jobs after a random session of every kind of change", { timeout: 120_000 }, async () => {
    const databaseUrl = freshDatabaseUrl(kind);
    // Leases of 10 minutes: every held job counts as running whenever the check runs. Deadlines
    // of 3 s: the sweep fails jobs during the session, and the rest at its end.
    const s = await startTestServer({ databaseUrl, env: { API_KEYS_FILE: keys.file, SWEEP_INTERVAL_SECONDS: "1", JOB_DEADLINE_SECONDS: "3" } });
    try {
      let seed = kind === "sqlite" ? 7 : 11;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
      const client = (method: string, path: string, body?: unknown) => call(method, `${s.url}${path}`, { ...(body === undefined ? {} : { body }), headers: keys.auth.alice });
      const ids: string[] = [];
      let held: { id: string; leaseToken: string }[] = [];
      const checked: Counts[] = [];
      const check = async () => {
        const overview = (await call("GET", `${s.url}/admin/queues`, { headers: keys.auth.root })).json;
        const served: Counts = Object.fromEntries(
          (overview.now.queues as { name?: string; waiting: number; running: number }[]).map((q) => [q.name ?? "", { waiting: q.waiting, running: q.running }]),
        );
        expect(served).toEqual(await countRows(databaseUrl));
        checked.push(served);
      };
      for (let step = 0; step < 240; step++) {
        const r = random();
        if (r < 0.3) {
          const body: Record<string, unknown> = { name: pick(NAMES), input: { step } };
          if (random() < 0.2) Object.assign(body, { singletonKey: `k${Math.floor(random() * 3)}`, singletonMode: pick(["join", "replace"]) });
          else if (ids.length && random() < 0.2) Object.assign(body, { dependsOn: [pick(ids)], onDependencyFailure: "cancel" });
          const created = await client("POST", "/resources", body);
          expect([202, 200, 303, 400]).toContain(created.status);
          if (created.json?.id) ids.push(created.json.id);
        } else if (r < 0.5) {
          const claimed = await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w1", max: 1 + Math.floor(random() * 3), leaseSeconds: 600 }, headers: keys.auth.w });
          expect(claimed.status).toBe(200);
          held.push(...(claimed.json.tasks as { id: string; leaseToken: string }[]));
        } else if (r < 0.75 && held.length) {
          const t = held.splice(Math.floor(random() * held.length), 1)[0]!;
          const outcome = pick([{ status: "SUCCESS", result: { ok: 1 } }, { status: "FAILED", error: { type: "urn:x", title: "no" } }, { status: "FAILED", retryable: true }, { release: true }]);
          const r2 = await call("PUT", `${s.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, ...outcome }, headers: keys.auth.w });
          expect([200, 409]).toContain(r2.status);
        } else if (r < 0.85 && ids.length) {
          const id = pick(ids);
          expect([200, 202, 409]).toContain((await client("DELETE", `/resources/${id}`)).status);
          held = held.filter((t) => t.id !== id);
        } else if (ids.length) {
          expect([200, 202, 409]).toContain((await call("POST", `${s.url}/admin/jobs/${pick(ids)}/rerun`, { headers: keys.auth.root })).status);
        }
        if (step % 12 === 11) await check();
      }
      // The sweep's deadline failures, then a last look: every job ended by now.
      await new Promise((r) => setTimeout(r, 4500));
      await check();
      expect(checked.at(-1)).toEqual({});
      // The read folded the changes: nothing left to add up (every count is 0).
      expect(await query(databaseUrl, "SELECT name, delta FROM job_counts")).toEqual([]);
      // The session did change the counts of every name (not a check of an empty queue).
      for (const name of NAMES) expect(checked.some((c) => (c[name]?.waiting ?? 0) + (c[name]?.running ?? 0) > 0), name).toBe(true);
      expect(checked.some((c) => Object.values(c).some((q) => q.running > 0))).toBe(true);
      expect(s.invalidResponses).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
