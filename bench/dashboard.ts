// npm run bench:dashboard: the dashboard's first load with 100,000 jobs in the store. The store
// is filled through the store itself (so every job has its history), then most jobs are ended
// in one SQL statement (the history triggers record those ends too). The service is then
// started as in production (dist/, NODE_ENV=production, keys on) and the requests a first
// load makes are timed one after the other, as the browser makes them: the page and its four
// files, GET /admin/queues, GET /admin/jobs?limit=25; and a job's page (GET /admin/jobs/{id},
// its events). Cold (the first load after start) and warm (median of 20).
//
// Environment: BENCH_JOBS (100000), BENCH_IN_PROGRESS (0.1: the share left IN PROGRESS),
// BENCH_DATABASE_URL (also measure on PostgreSQL).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { freePort } from "../scripts/free-port.js";
import { openStore } from "../src/stores.js";
import { newJobId } from "../src/jobs/ids.js";
import { benchKey } from "./keys.js";

const JOBS = Number(process.env["BENCH_JOBS"] ?? 100_000);
const IN_PROGRESS = Number(process.env["BENCH_IN_PROGRESS"] ?? 0.1);
const PG_URL = process.env["BENCH_DATABASE_URL"];
const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-dashboard-"));
const KEY = benchKey(tmp);

async function fill(databaseUrl: string): Promise<string> {
  const store = await openStore({ databaseUrl, sqliteSynchronous: "NORMAL", maxAttempts: 3 });
  const t0 = performance.now();
  const names = ["nightly-report", "thumbnail", "invoice", "export", "reindex"];
  let someId = "";
  for (let i = 0; i < JOBS; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => {
        const n = i + k;
        const id = newJobId();
        if (n === Math.floor(JOBS / 2)) someId = id;
        return store.create({ id, request: { name: names[n % names.length], input: { n } }, owner: "bench", name: names[n % names.length], priority: n % 10, start: new Date(Date.now() - (JOBS - n) * 10).toISOString(), deadlineAt: Date.now() + 86_400_000 });
      }),
    );
  }
  await store.close();
  // End all but a share of them in one statement (their `ended` history events included).
  const every = Math.round(1 / IN_PROGRESS);
  const end = `UPDATE jobs SET status = CASE WHEN seq % 7 = 0 THEN 'FAILED' ELSE 'SUCCESS' END, ended_at = started_at, ended_ms = touched_ms + 1000, touched_ms = touched_ms + 1000, has_result = TRUE WHERE seq % ${every} <> 0`;
  if (databaseUrl.startsWith("sqlite:")) {
    const db = new Database(databaseUrl.slice("sqlite:".length));
    db.exec(end.replace("TRUE", "1"));
    db.close();
  } else {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`SET search_path = ${new URL(databaseUrl).searchParams.get("schema")}; ${end}; ANALYZE`);
    await c.end();
  }
  console.log(`  filled ${JOBS} jobs (${Math.round(JOBS * IN_PROGRESS)} in progress) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return someId;
}

async function time(url: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(url, { headers: { Authorization: KEY.authorization } });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(label: string, databaseUrl: string): Promise<void> {
  console.log(`${label}:`);
  const id = await fill(databaseUrl);
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/src/main.js"], {
    env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: databaseUrl, API_KEYS_FILE: KEY.file, LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(`${base}/healthz`);
      break;
    } catch {
      if (i > 400) throw new Error("the service did not start");
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const page = ["/dashboard", "/dashboard/uPlot.min.css", "/dashboard/dashboard.css", "/dashboard/uPlot.iife.min.js", "/dashboard/dashboard.js"];
  const data = ["/admin/queues", "/admin/jobs?limit=25"];
  const job = [`/admin/jobs/${id}`, `/resources/${id}/events?limit=200`];
  const load = async (paths: string[]) => {
    const each: number[] = [];
    for (const p of paths) each.push(await time(`${base}${p}`));
    return each;
  };
  try {
    const cold = [...(await load(page)), ...(await load(data))];
    const warm: number[][] = [];
    const jobs: number[] = [];
    for (let i = 0; i < 20; i++) {
      warm.push([...(await load(page)), ...(await load(data))]);
      jobs.push((await load(job)).reduce((a, b) => a + b, 0));
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const warmEach = [...page, ...data].map((_, i) => median(warm.map((w) => w[i]!)));
    console.log(`  first load after start (cold): ${sum(cold).toFixed(1)} ms  [${[...page, ...data].map((p, i) => `${p} ${cold[i]!.toFixed(1)}`).join(", ")}]`);
    console.log(`  first load, warm (median of 20): ${median(warm.map(sum))!.toFixed(1)} ms  [${[...page, ...data].map((p, i) => `${p} ${warmEach[i]!.toFixed(1)}`).join(", ")}]`);
    console.log(`  a job's page (job + history), median of 20: ${median(jobs)!.toFixed(1)} ms`);
  } finally {
    child.kill("SIGTERM");
    if (databaseUrl.startsWith("postgres")) {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${new URL(databaseUrl).searchParams.get("schema")} CASCADE`);
      await c.end();
    }
  }
}

execFileSync(process.execPath, ["scripts/prepare.js"], { stdio: "inherit" });
console.log(`dashboard first load, ${JOBS} jobs, ${IN_PROGRESS * 100}% in progress (times measured by the client on localhost: server time plus loopback)`);
await measure("SQLite", `sqlite:${path.join(tmp, "jobs.db")}`);
if (PG_URL) {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", `bench_dashboard_${process.pid}`);
  await measure("PostgreSQL", u.toString());
}
