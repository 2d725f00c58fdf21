// npm run bench:scale: what each operation costs as the number of stored jobs grows. For each
// store and each size, the store is migrated by the service's own code, filled by bulk SQL
// (scale-fill.ts: most jobs ended, a backlog, some held by workers, several names and
// clients), the service is started as in production (dist/, NODE_ENV=production, keys on),
// and each operation is timed one request after another over HTTP (node:http, keep-alive):
// create, poll, claim and finish, the list's first page, a filtered page and a page deep in
// the cursor, the /metrics scrape and the dashboard's overview (GET /admin/queues and its
// first page of jobs). The sweeps are timed on the store itself, beside the running service:
// a deadline sweep that fails 50 overdue jobs, and a retention sweep that purges 1,000 ended
// jobs with their histories. Each figure is then given as a ratio to the smallest size's.
// With the claim's and the list's query plans at each size.
//
// Environment: BENCH_SCALE_SIZES (10000,1000000; add 10000000 for the full run),
// BENCH_SCALE_WAITING (0.02: the share of jobs IN PROGRESS), BENCH_DATABASE_URL (also on
// PostgreSQL), BENCH_SCALE_STORES (sqlite,postgres), BENCH_SCALE_JSON (write the figures there).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { freePort } from "../scripts/free-port.js";
import { newJobId } from "../src/jobs/ids.js";
import { openStore } from "../src/stores.js";
import { encodeCursor } from "../src/jobs/cursor.js";
import { numbered, pageSql } from "../src/jobs/queue-sql.js";
import { CLAIM_SELECT } from "../src/jobs/sqlite-sql.js";
import { claimSql } from "../src/jobs/pg-sql.js";
import { createdAt, fillPlan, fillStatements, type FillPlan } from "./scale-fill.js";
import { roles, type Request } from "./roles.js";
import { untilHealthy } from "./service.js";

const SIZES = (process.env["BENCH_SCALE_SIZES"] ?? "10000,1000000").split(",").map(Number);
const WAITING = Number(process.env["BENCH_SCALE_WAITING"] ?? 0.02);
const PG_URL = process.env["BENCH_DATABASE_URL"];
const STORES = (process.env["BENCH_SCALE_STORES"] ?? "sqlite,postgres").split(",").filter((s) => s === "sqlite" || (s === "postgres" && PG_URL));
const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-scale-"));

// One key per role, as a deployment has them; one request at a time.
const { file: KEYS_FILE, requester } = roles(tmp);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const request = (base: URL, ...args: Parameters<Request>) => requester(base, agent)(...args);

interface Figure { p50: number; p99: number; n: number }
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
function figure(ms: number[]): Figure {
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), n: ms.length };
}

/** Times `n` runs of `op`, one after another, after `warm` untimed ones. */
async function timed(n: number, op: (i: number) => Promise<unknown>, warm = 5): Promise<Figure> {
  for (let i = 0; i < warm; i++) await op(-1 - i);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op(i);
    ms.push(performance.now() - t0);
  }
  return figure(ms);
}

/** A raw connection to the store, for the fill, the sweeps' set-up and the plans. */
interface Raw {
  exec(sql: string): Promise<void>;
  all<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /** The plan of `sql` (named parameters), as lines. A statement that writes is rolled back. */
  plan(sql: string, params: Record<string, unknown>, values?: unknown[]): Promise<string[]>;
  close(): Promise<void>;
}

async function rawConnection(kind: string, url: string): Promise<Raw> {
  if (kind === "sqlite") {
    const db = new Database(url.slice("sqlite:".length));
    db.pragma("busy_timeout = 10000");
    db.function("job_id", (ms: unknown) => newJobId(Number(ms)));
    return {
      exec: async (sql) => void db.exec(sql),
      all: async <T>(sql: string, params: Record<string, unknown> = {}) => db.prepare(sql).all(params) as T[],
      plan: async (sql, params) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail),
      close: async () => void db.close(),
    };
  }
  const schema = new URL(url).searchParams.get("schema")!;
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema} -c jit=off` });
  await c.connect();
  const bind = (sql: string, params: Record<string, unknown>) => {
    const q = numbered(sql);
    return { text: q.text, values: q.names.map((n) => params[n]) };
  };
  return {
    exec: async (sql) => void (await c.query(sql)),
    all: async <T>(sql: string, params: Record<string, unknown> = {}) => {
      const q = bind(sql, params);
      return (await c.query(q.text, q.values)).rows as T[];
    },
    plan: async (sql, params, values) => {
      await c.query("BEGIN");
      try {
        const q = values ? { text: sql, values } : bind(sql, params);
        const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${q.text}`, q.values);
        return r.rows.map((row) => row["QUERY PLAN"] as string);
      } finally {
        await c.query("ROLLBACK");
      }
    },
    close: () => c.end(),
  };
}

async function fill(kind: string, url: string, plan: FillPlan): Promise<number> {
  const t0 = performance.now();
  // Migrated by the service's own code, then closed.
  await (await openStore({ databaseUrl: url, sqliteSynchronous: "NORMAL" })).close();
  const raw = await rawConnection(kind, url);
  try {
    if (kind === "postgres") await raw.exec("SET session_replication_role = replica"); // the fill writes the history itself
    for (const sql of fillStatements(kind as "sqlite" | "postgres", plan)) await raw.exec(sql);
    // PostgreSQL as autovacuum would have left it after months (statistics, visibility map);
    // SQLite as the service leaves it (it never runs ANALYZE).
    if (kind === "postgres") for (const sql of ["SET session_replication_role = DEFAULT", "VACUUM ANALYZE jobs", "VACUUM ANALYZE job_events", "CHECKPOINT"]) await raw.exec(sql);
    else await raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    await raw.close();
  }
  // The fill's gigabytes written to disk before anything is timed: the operating system writes
  // dirty pages back for tens of seconds after, and the first operations timed at 10 M paid
  // for that writeback, which the 10 k row (megabytes) never did.
  execFileSync("sync");
  return (performance.now() - t0) / 1000;
}

type Row = Record<string, Figure | number | string[]>;

async function measureSize(kind: string, size: number): Promise<Row> {
  let url: string;
  if (kind === "sqlite") url = `sqlite:${path.join(tmp, `jobs-${size}.db`)}`;
  else {
    const u = new URL(PG_URL!);
    u.searchParams.set("schema", `bench_scale_${process.pid}`);
    url = u.toString();
  }
  const plan = fillPlan(size, WAITING);
  const fillSeconds = await fill(kind, url, plan).catch(async (e) => {
    await dropStore(kind, url);
    throw e;
  });
  console.log(`  ${kind} ${size.toLocaleString("en")} jobs filled in ${fillSeconds.toFixed(1)} s`);
  const port = await freePort();
  const base = new URL(`http://127.0.0.1:${port}`);
  const child = spawn(process.execPath, ["dist/src/main.js"], {
    env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: url, API_KEYS_FILE: KEYS_FILE, LOG_LEVEL: "warn", SWEEP_INTERVAL_SECONDS: "86400" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const raw = await rawConnection(kind, url);
  const store = await openStore({ databaseUrl: url, sqliteSynchronous: "NORMAL" });
  const row: Row = { fillSeconds };
  try {
    await untilHealthy(base.origin, child);
    // Jobs of the client c0 to poll: ended and waiting ones, spread over the whole table.
    const ids = (await raw.all<{ id: string }>(`SELECT id FROM jobs WHERE owner = 'c0' AND seq % ${Math.max(1, Math.floor(size / 4000))} = 0`)).map((r) => r.id);
    row["create"] = await timed(300, (i) => request(base, "client", "POST", "/resources", { name: "thumbnail", input: { n: i } }, [202]));
    row["poll"] = await timed(500, (i) => request(base, "client", "GET", `/resources/${ids[(i + 1000) * 7919 % ids.length]}`, undefined, [200, 303, 500]));
    row["list: first page"] = await timed(100, () => request(base, "client", "GET", "/resources?limit=25"));
    row["list: status=FAILED"] = await timed(100, () => request(base, "client", "GET", "/resources?limit=25&status=FAILED"));
    row["list: name=export"] = await timed(100, () => request(base, "client", "GET", "/resources?limit=25&name=export"));
    const middle = encodeCursor(Math.floor(size / 2));
    row["list: page in the middle"] = await timed(100, () => request(base, "client", "GET", `/resources?limit=25&cursor=${middle}`));
    row["metrics scrape"] = await timed(30, () => request(base, "admin", "GET", "/metrics"));
    row["dashboard: queues"] = await timed(30, () => request(base, "admin", "GET", "/admin/queues"));
    row["dashboard: jobs page"] = await timed(30, () => request(base, "admin", "GET", "/admin/jobs?limit=25"));
    // Deadline sweep: 50 waiting jobs (not held) made overdue, then one sweep fails them.
    const sweeps: number[] = [];
    for (let i = 0; i < 5; i++) {
      await raw.exec(`UPDATE jobs SET deadline_ms = 1 WHERE id IN (SELECT id FROM jobs WHERE status = 'IN PROGRESS' AND lease_token IS NULL AND deadline_ms > 1 ORDER BY seq LIMIT 50)`);
      const now = Date.now();
      const t0 = performance.now();
      const n = await store.expire(now, new Date(now).toISOString(), { type: "urn:async-api:deadline-exceeded", title: "deadline exceeded" });
      sweeps.push(performance.now() - t0);
      if (n !== 50) throw new Error(`the deadline sweep failed ${n} jobs, not 50`);
    }
    row["deadline sweep (50 jobs)"] = figure(sweeps);
    row["claim + finish"] = await timed(100, async () => {
      const { body } = await request(base, "worker", "POST", "/tasks/claim", { worker: "bench", max: 1 });
      const task = body.tasks[0];
      if (!task) throw new Error("the claim found no job waiting");
      await request(base, "worker", "PUT", `/tasks/${task.id}`, { leaseToken: task.leaseToken, status: "SUCCESS", result: { ok: true } });
    });
    // Retention: each sweep purges the 1,000 oldest jobs still stored (all ended), with their histories.
    const purges: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const before = createdAt(plan, i * 1000) + 1500;
      const t0 = performance.now();
      const n = await store.purge(before);
      purges.push(performance.now() - t0);
      if (n < 950 || n > 1000) throw new Error(`the retention sweep purged ${n} jobs, not about 1,000`);
    }
    row["retention sweep (1,000 jobs)"] = figure(purges);
    const now = Date.now();
    // (PostgreSQL's claim comes numbered: now, max, tokens, lease end, lease ms, worker.)
    row["plan: claim"] = await (kind === "sqlite" ? raw.plan(CLAIM_SELECT.any, { now, max: 1 }) : raw.plan(claimSql("any"), {}, [now, 1, ["plan"], now + 30_000, 30_000, "plan"]));
    const page = (f: { status: boolean; name: boolean }, after: number) =>
      raw.plan(pageSql({ ...f, owner: true, newestFirst: false }, "*"), { after, status: "FAILED", name: "export", owner: "c0", limit: 26 });
    row["plan: list, first page"] = await page({ status: false, name: false }, 0);
    row["plan: list, status=FAILED"] = await page({ status: true, name: false }, 0);
    row["plan: list, middle"] = await page({ status: false, name: false }, Math.floor(size / 2));
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await store.close();
    await raw.close();
    await dropStore(kind, url);
  }
  return row;
}

/** Removes what a size was measured on: the PostgreSQL schema, the SQLite files. */
async function dropStore(kind: string, url: string): Promise<void> {
  if (kind === "postgres") {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${new URL(url).searchParams.get("schema")} CASCADE`);
    await c.end();
  } else for (const s of ["", "-wal", "-shm"]) rmSync(url.slice("sqlite:".length) + s, { force: true });
}

/** The lines of a plan worth reading beside the figures: what is scanned, how much, how long. */
function planLine(l: string): boolean {
  return !/^\s*(Filter|Recheck Cond|Buffers|Planning|Sort Method|SubPlan|Trigger)/.test(l) && !/\((never executed)\)/.test(l);
}

function report(kind: string, rows: Map<number, Row>): void {
  const sizes = [...rows.keys()];
  const first = rows.get(sizes[0]!)!;
  const ops = Object.keys(first).filter((k) => typeof first[k] === "object" && !Array.isArray(first[k]));
  const cell = (f: Figure, b: Figure | undefined, q: "p50" | "p99") => `${f[q].toFixed(2)}${b && b !== f ? ` (${(f[q] / b[q]).toFixed(2)}x)` : ""}`;
  console.log(`\n${kind}: ms per operation, p50 / p99 (ratio to ${sizes[0]!.toLocaleString("en")} jobs)`);
  console.log(`| operation | ${sizes.map((s) => `${s.toLocaleString("en")} jobs`).join(" | ")} |`);
  console.log(`|---|${sizes.map(() => "---").join("|")}|`);
  for (const op of ops) {
    const b = first[op] as Figure;
    console.log(`| ${op} | ${sizes.map((s) => { const f = rows.get(s)![op] as Figure; return `${cell(f, b, "p50")} / ${cell(f, b, "p99")}`; }).join(" | ")} |`);
  }
  for (const s of sizes) {
    console.log(`\n${kind}, ${s.toLocaleString("en")} jobs (filled in ${(rows.get(s)!["fillSeconds"] as number).toFixed(0)} s), plans:`);
    for (const [k, v] of Object.entries(rows.get(s)!)) if (Array.isArray(v)) console.log(`  ${k}:\n    ${v.filter(planLine).map((l) => l.slice(0, 160)).join("\n    ")}`);
  }
}

execFileSync(process.execPath, ["scripts/prepare.js"], { stdio: "inherit" });
console.log(`bench:scale: sizes ${SIZES.join(", ")}, ${WAITING * 100}% of jobs IN PROGRESS (times measured by the client on localhost, one request at a time)`);
const results: Record<string, Record<number, Row>> = {};
try {
  for (const kind of STORES) {
    const rows = new Map<number, Row>();
    for (const size of SIZES) rows.set(size, await measureSize(kind, size));
    results[kind] = Object.fromEntries(rows);
    report(kind, rows);
  }
} finally {
  agent.destroy();
  rmSync(tmp, { recursive: true, force: true });
}
if (process.env["BENCH_SCALE_JSON"]) writeFileSync(process.env["BENCH_SCALE_JSON"], JSON.stringify(results, null, 2));
