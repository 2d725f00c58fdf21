// A transition (an outcome, a heartbeat, a cancel, the deadline of one job) finds its job by id,
// whatever else its fence compares, and before the tables have statistics (a fresh deployment,
// or PostgreSQL between autovacuum's analyses). Without statistics PostgreSQL once found the job
// by walking the deadline index (`deadline_ms > :now`: every waiting job), so cancelling one
// job of a backlog cost as much as reading the backlog.
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import type { Fence } from "../../src/jobs/machine.js";
import { numbered, transitionSql, values, type TransitionKind } from "../../src/jobs/queue-sql.js";
import type { JobStore } from "../../src/jobs/store.js";
import { dropTestSchemas, filledPg, filledSqlite, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const NOW = Date.parse("2030-01-01T00:00:00Z");
const WAITING = 3000;

async function fill(store: JobStore): Promise<void> {
  for (let i = 0; i < WAITING; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, k) => store.create({ id: `j${i + k}`, request: { name: "a" }, name: "a", start: new Date(NOW).toISOString(), deadlineAt: NOW + 3_600_000 + i + k })),
    );
  }
}

/** Every transition and the fences it is used under. */
const CASES: [TransitionKind, Fence["kind"]][] = [
  ["end", "lease"],
  ["end", "live"],
  ["end", "unheld"],
  ["end", "due"],
  ["end", "lapsed"],
  ["end", "none"],
  ["heartbeat", "lease"],
  ["progress", "live"],
  ["requeue", "lease"],
];

const PARAMS = { id: "j1500", to: "CANCELLED", end: new Date(NOW).toISOString(), endedMs: NOW, by: "x", progress: null, hasResult: 0, result: null, error: null, touched: NOW, now: NOW, token: "t", runAfter: 0, uncount: 0 };

describe("a transition reads its job by id, without statistics, behind a backlog", () => {
  it("on SQLite", async () => {
    const db = new Database(await filledSqlite(fill));
    // The store's function its triggers call (what they announce is not looked at here).
    db.function("job_announce", (_id: unknown, _status: unknown, _name: unknown, _runAfter: unknown, _blockers: unknown) => null);
    try {
      for (const [kind, fence] of CASES) {
        const sql = transitionSql(kind, fence);
        const used = sql.match(/(?<!:):([a-zA-Z_]\w*)/g)!.map((m) => m.slice(1));
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(Object.fromEntries(used.map((n) => [n, PARAMS[n as keyof typeof PARAMS]]))) as { detail: string }[];
        const onJobs = plan.map((p) => p.detail).filter((d) => /^(SEARCH|SCAN) jobs\b/.test(d));
        expect(onJobs, `${kind} under ${fence}: ${JSON.stringify(plan)}`).toHaveLength(1);
        expect(onJobs[0], `${kind} under ${fence}`).toMatch(/^SEARCH jobs USING (INDEX \w+|PRIMARY KEY) \(id=\?\)$/);
      }
    } finally {
      db.close();
    }
  });

  it.skipIf(!PG_URL)("on PostgreSQL: one row read, by the primary key", async () => {
    const c = await filledPg(fill);
    try {
      const stats = await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stats WHERE tablename = 'jobs' AND schemaname = current_schema()");
      expect(Number(stats.rows[0]!.n), "the table has no statistics yet").toBe(0);
      for (const [kind, fence] of CASES) {
        const compiled = numbered(transitionSql(kind, fence));
        await c.query("BEGIN");
        const r = await c.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, COSTS OFF) ${compiled.text}`, values(compiled, PARAMS));
        await c.query("ROLLBACK");
        const plan = r.rows.map((x) => x["QUERY PLAN"]).join("\n");
        expect(plan, `${kind} under ${fence}`).toMatch(/Index Scan using jobs_pkey on jobs/);
        expect(plan, `${kind} under ${fence}`).toMatch(/Index Cond: \(id = /);
        for (const m of plan.matchAll(/Rows Removed by Filter: (\d+)/g)) expect(Number(m[1]), `${kind} under ${fence}:\n${plan}`).toBeLessThanOrEqual(1);
      }
    } finally {
      await c.end();
    }
  });
});
