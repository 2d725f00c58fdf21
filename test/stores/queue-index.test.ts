// Claim cost does not grow with the number of ended jobs: with thousands of ended jobs and a
// handful waiting, the claim's plan reads only indexes that hold IN PROGRESS jobs, and (on
// PostgreSQL, measured by EXPLAIN ANALYZE) touches no more rows than there are IN PROGRESS.
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { claimSql } from "../../src/jobs/pg-sql.js";
import { CLAIM_SELECT } from "../../src/jobs/sqlite-sql.js";
import type { JobStore } from "../../src/jobs/store.js";
import { openStore } from "../../src/stores.js";
import { tempDir } from "../helpers/server.js";
import { dropTestSchemas, filledPg, filledSqlite, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const NOW = Date.parse("2030-01-01T00:00:00Z");
const ENDED = 3000;
const WAITING = 10;
const HELD = 5;
/** Partial indexes over IN PROGRESS jobs only. */
const QUEUE_INDEXES = ["jobs_queue", "jobs_queue_name", "jobs_deadline", "jobs_leases"];

async function fill(store: JobStore): Promise<void> {
  const mk = (i: number) => store.create({ id: `j${i}`, request: { name: i % 2 ? "a" : "b" }, name: i % 2 ? "a" : "b", priority: i % 10, start: new Date(NOW).toISOString(), deadlineAt: NOW + 3_600_000 });
  for (let i = 0; i < ENDED; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => mk(i + k)));
  for (let i = 0; i < ENDED; i += 100) {
    const claimed = await store.claim({ now: NOW, worker: "w", tokens: Array.from({ length: 100 }, (_, k) => `t${i + k}`), leaseMs: 60_000 });
    await Promise.all(claimed.map((j) => store.end(j.id, { to: "SUCCESS", end: new Date(NOW).toISOString() }, { kind: "lease", token: j.lease!.token, now: NOW })));
  }
  for (let i = ENDED; i < ENDED + WAITING + HELD; i++) await mk(i);
  expect(await store.claim({ now: NOW, worker: "w", tokens: Array.from({ length: HELD }, (_, k) => `h${k}`), leaseMs: 60_000 })).toHaveLength(HELD);
}

describe("the claim reads only the queue, not the ended jobs", () => {
  it("on SQLite", async () => {
    const db = new Database(await filledSqlite(fill));
    try {
      db.exec("ANALYZE");
      for (const [sql, params] of [
        [CLAIM_SELECT.any, { now: NOW, max: 1 }],
        [CLAIM_SELECT.byName, { now: NOW, max: 1, name: "a" }],
      ] as const) {
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[];
        const onJobs = plan.map((p) => p.detail).filter((d) => /\bjobs\b/.test(d));
        expect(onJobs.length, JSON.stringify(plan)).toBeGreaterThan(0);
        for (const d of onJobs) expect(QUEUE_INDEXES.some((i) => d.includes(`INDEX ${i}`)), d).toBe(true);
      }
    } finally {
      db.close();
    }
  });

  it.skipIf(!PG_URL)("on PostgreSQL", async () => {
    const c = await filledPg(fill);
    try {
      await c.query("ANALYZE jobs");
      for (const scope of ["any", "one", "many"] as const) {
        await c.query("BEGIN");
        const params: unknown[] = [NOW, 1, ["x"], NOW + 30_000, 30_000, "plan", ...(scope === "one" ? ["a"] : scope === "many" ? [["a", "b"]] : [])];
        const r = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${claimSql(scope)}`, params);
        await c.query("ROLLBACK");
        // Every scan that chooses jobs (the outer update's `j` only fetches them by id) must
        // go through an index of IN PROGRESS jobs and see no more rows than they are.
        const scans: { index?: string | undefined; type: string; rows: number }[] = [];
        const walk = (n: Record<string, unknown>) => {
          const type = n["Node Type"] as string;
          // (The limits' table, job_limits, is looked at by its key: not a scan of jobs.)
          const onLimits = String(n["Index Name"] ?? "").startsWith("job_limits");
          if (n["Alias"] !== "j" && !onLimits && (n["Relation Name"] === "jobs" || type === "Bitmap Index Scan") && type !== "Bitmap Heap Scan") {
            scans.push({ index: n["Index Name"] as string | undefined, type, rows: n["Actual Rows"] as number });
          }
          for (const child of (n["Plans"] as Record<string, unknown>[] | undefined) ?? []) walk(child);
        };
        walk(r.rows[0]["QUERY PLAN"][0].Plan);
        expect(scans.length, JSON.stringify(r.rows[0]["QUERY PLAN"])).toBeGreaterThan(0);
        for (const s of scans) {
          expect(QUEUE_INDEXES, JSON.stringify(scans)).toContain(s.index);
          expect(s.rows, JSON.stringify(scans)).toBeLessThanOrEqual(WAITING + HELD);
        }
      }
    } finally {
      await c.end();
    }
  });
});

describe("the claim does not read the whole backlog", () => {
  it("on SQLite, with thousands waiting and no statistics, walks the queue index and stops at the limit", async () => {
    const file = path.join(tempDir(), "jobs.db");
    const store = await openStore({ databaseUrl: `sqlite:${file}`, sqliteSynchronous: "NORMAL" });
    try {
      for (let i = 0; i < 2000; i += 200) {
        await Promise.all(Array.from({ length: 200 }, (_, k) => store.create({ id: `w${i + k}`, request: null, name: "a", priority: (i + k) % 10, start: new Date(NOW).toISOString(), deadlineAt: NOW + 3_600_000 })));
      }
    } finally {
      await store.close();
    }
    const db = new Database(file);
    try {
      for (const [sql, index] of [
        [CLAIM_SELECT.any, "jobs_queue"],
        [CLAIM_SELECT.byName, "jobs_queue_name"],
      ] as const) {
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ now: NOW, max: 1, name: "a" }) as { detail: string }[]).map((p) => p.detail);
        expect(plan.some((d) => d.includes(`INDEX ${index}`)), JSON.stringify(plan)).toBe(true);
        expect(plan.some((d) => d.includes("TEMP B-TREE")), JSON.stringify(plan)).toBe(false);
      }
      // What the walk costs: the first (highest priority, oldest) of 2,000 waiting, found by the index.
      const first = db.prepare(CLAIM_SELECT.any).all({ now: NOW, max: 1 }) as { id: string }[];
      expect(first.map((r) => r.id)).toEqual(["w9"]);
    } finally {
      db.close();
    }
  });
});
