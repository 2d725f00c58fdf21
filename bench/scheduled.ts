// npm run bench:scheduled: how close to their time scheduled jobs reach a worker. Jobs are
// created with `runAt` spread at random over the next seconds (one client, keep-alive) while
// W workers (the worker SDK, long-polling) wait; for each job, the time from its runAt to its
// handler having it. Reports p50/p99/max lateness and how many arrived early (must be 0).
// On SQLite (one instance) and, when PostgreSQL answers, on three instances sharing it
// (jobs created on one, workers spread over all three: the due time travels by NOTIFY).
// The service runs as its own processes (dist/, NODE_ENV=production, API keys on).
// Environment: BENCH_JOBS (300), BENCH_SPREAD_SECONDS (10), BENCH_WORKERS (4),
// BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { runWorker } from "../src/client/worker.js";
import { freePort } from "../scripts/free-port.js";
import { untilHealthy } from "./service.js";
import { benchKey } from "./keys.js";

const JOBS = Number(process.env["BENCH_JOBS"] ?? 300);
const SPREAD_MS = Number(process.env["BENCH_SPREAD_SECONDS"] ?? 10) * 1000;
const WORKERS = Number(process.env["BENCH_WORKERS"] ?? 4);
const PG_URL = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-scheduled-"));
const KEY = benchKey(tmp);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

async function startService(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/src/main.js"], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", NODE_ENV: "production", LOG_LEVEL: "warn", DATABASE_URL: databaseUrl, API_KEYS_FILE: KEY.file },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(url, child);
  return { child, url };
}

async function trial(label: string, urls: string[]): Promise<string> {
  const due = new Map<string, number>();
  const late: number[] = [];
  let early = 0;
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    runWorker({
      baseUrl: urls[i % urls.length]!,
      worker: `w${i}`,
      apiKey: KEY.authorization.slice("Bearer ".length),
      names: ["scheduled"],
      concurrency: 4,
      pollSeconds: 20,
      handleSignals: false,
      handler: (task) => {
        const at = Date.now();
        const runAt = due.get(task.id);
        if (runAt !== undefined) {
          late.push(at - runAt);
          if (at < runAt) early++;
        }
        return null;
      },
    }),
  );
  await sleep(500); // the workers are waiting
  // Every job is created before the first one is due: lateness is the service's, not the creates'.
  const start = Date.now() + 4000;
  for (let i = 0; i < JOBS; i++) {
    const runAt = start + Math.floor(Math.random() * SPREAD_MS);
    const r = await fetch(`${urls[0]}/resources`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: KEY.authorization },
      body: JSON.stringify({ name: "scheduled", runAt: new Date(runAt).toISOString() }),
    });
    const { id } = (await r.json()) as { id: string };
    due.set(id, runAt);
  }
  if (Date.now() > start) throw new Error("the creates took longer than the lead time: raise it");
  for (const end = start + SPREAD_MS + 5000; late.length < JOBS && Date.now() < end; ) await sleep(50);
  await Promise.all(workers.map((w) => w.stop()));
  const missing = JOBS - late.length;
  return `| ${label} | ${JOBS} | ${pct(late, 0.5)} | ${pct(late, 0.99)} | ${Math.max(...late)} | ${early} | ${missing} |`;
}

const rows: string[] = [];
const cleanup: (() => void)[] = [];
try {
  const sqlite = await startService(`sqlite:${path.join(tmp, "jobs.db")}`);
  cleanup.push(() => sqlite.child.kill("SIGTERM"));
  rows.push(await trial("SQLite, 1 instance", [sqlite.url]));
  sqlite.child.kill("SIGTERM");
  let pgUp = true;
  const schema = `bench_sched_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch {
    pgUp = false;
  }
  if (pgUp) {
    cleanup.push(() => void admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).then(() => admin.end()));
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    const url = u.toString();
    const nodes: { child: ChildProcess; url: string }[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await startService(url));
    cleanup.push(() => nodes.forEach((n) => n.child.kill("SIGTERM")));
    rows.push(await trial("PostgreSQL, 3 instances (created on one)", nodes.map((n) => n.url)));
  }
} finally {
  for (const c of cleanup.reverse()) c();
  await sleep(300);
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`Scheduled jobs: ${JOBS} with runAt spread over ${SPREAD_MS / 1000} s, ${WORKERS} SDK workers (concurrency 4) waiting; lateness = handler has it - runAt, ms\n`);
console.log("| store | jobs | p50 | p99 | max | early | not taken |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(r);
