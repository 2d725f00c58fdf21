// npm run bench:workers: end-to-end job throughput and create-to-claim latency of the job
// service with its worker SDK, against pg-boss and graphile-worker on the same PostgreSQL, in
// one run (graphile-worker as it comes, and with the settings of its performance page: a local
// queue and batched completion).
//
// Throughput: producers create jobs as fast as they can while W workers (1, 4, 16) take and
// complete them: W SDK workers taking one job at a time, W taking up to 50 each, or one SDK
// worker with `concurrency: W` (handlers one job each; graphile-worker's runner has this shape); jobs/s is completions per second over the measured
// window, after a warm-up. For the service every step crosses HTTP: create (POST
// /resources), claim (POST /tasks/claim, long-polled), complete (PUT /tasks/{id}). For
// pg-boss: send() -> work() handler -> its automatic complete(); completions are counted in
// its own table.
// Latency: with W idle workers waiting, jobs are created one at a time (the next once the
// previous was taken, after a random 0-1 s pause, so that creates fall anywhere in a
// polling interval); the time from just before the create to a handler having it, p50/p99.
//
// The service runs as its own process pinned to one core (NODE_ENV=production, API keys on,
// LOG_LEVEL=warn, as in `npm run bench`); producers, workers and pg-boss run in this process on the other
// core; PostgreSQL is not pinned. pg-boss is shown with its default polling (2 s), its
// tightest (0.5 s, the minimum it allows), and its tightest with batches of 50 (its knob for
// throughput: each fetch takes up to 50 jobs). Both contenders' tables are analyzed after the
// warm-up (fresh tables have no planner statistics until autovacuum runs).
// 32 producers by default: with 8, the service's workers waited for work (a backlog near 0 at
// the window's end) and the window measured 8 clients' create rate, not the workers; pg-boss's
// workers are its limit with either (a backlog in the thousands). The backlog column says, for
// each row, which side was the limit.
//
// Environment: BENCH_SECONDS (8), BENCH_WORKERS (1,4,16), BENCH_PRODUCERS (32), BENCH_LATENCY_JOBS (30),
// BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; PostgreSQL rows are left
// out if it does not answer), BENCH_ONLY (comma-separated contender names; a comma inside parentheses belongs to the name),
// BENCH_DEBUG (the service's backlog, write/read syscalls per job and request counts after each
// window), BENCH_PROF (a file: the service runs under `node --prof` writing there; read it with
// `node --prof-process`).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import http from "node:http";
import path from "node:path";
import pg from "pg";
import PgBoss from "pg-boss";
import { Logger as GraphileLogger, makeWorkerUtils, run as runGraphile } from "graphile-worker";
import { runWorker, type RunningWorker } from "../src/client/worker.js";
import { freePort } from "../scripts/free-port.js";
import { untilHealthy } from "./service.js";
import { benchKey } from "./keys.js";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 8);
const WORKER_COUNTS = (process.env["BENCH_WORKERS"] ?? "1,4,16").split(",").map(Number);
const LATENCY_JOBS = Number(process.env["BENCH_LATENCY_JOBS"] ?? 30);
const PG_URL = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const PRODUCERS = Number(process.env["BENCH_PRODUCERS"] ?? 32);
const CORES = os.cpus().length;
const SERVER_CORE = CORES > 1 ? String(CORES - 1) : "0";
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-workers-"));
// Its keys file and the contenders' SQLite files go when the run ends.
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
// Authentication on, as in production: producers and workers present an admin's key.
const KEY = benchKey(tmp);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (done: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await sleep(1);
};

interface Result {
  contender: string;
  workers: number;
  jobsPerSecond: number;
  /** The service process's CPU time per completed job (create, claim, completion), µs. */
  serverCpuUsPerJob?: number | undefined;
  createdPerSecond: number;
  /** Jobs created and not yet completed at the window's end: near 0, the producers were the limit, not the workers. */
  backlog: number;
  latencyP50: number;
  latencyP99: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

/** Create-to-claim times; a job never taken counts as taking forever (it shows in p99). */
function latenciesOf(started: Map<string, number>, taken: Map<string, number>): number[] {
  return [...started].map(([id, t]) => (taken.has(id) ? taken.get(id)! - t : Infinity));
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function pgAnswers(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Fresh tables have no planner statistics until autovacuum gets to them (a minute or more):
 * both contenders' tables are analyzed after the warm-up, as they would be in steady state.
 */
async function analyze(databaseUrl: string, table: string): Promise<void> {
  if (!databaseUrl.startsWith("postgres")) return;
  const schema = new URL(databaseUrl).searchParams.get("schema");
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`ANALYZE ${schema}.${table}`);
  await c.end();
}

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}

// ---- the service ----

async function startService(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn("taskset", ["-c", SERVER_CORE, process.execPath, ...(process.env["BENCH_PROF"] ? ["--prof", "--logfile=" + process.env["BENCH_PROF"], "--no-logfile-per-isolate"] : []), "dist/src/main.js"], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", NODE_ENV: "production", LOG_LEVEL: "warn", DATABASE_URL: databaseUrl, API_KEYS_FILE: KEY.file },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(url, child);
  return { child, url };
}

/**
 * How the service's W workers are deployed: W SDK workers taking one job at a time ("each
 * one"), W taking up to 50 each ("each up to 50"), or one SDK worker running W jobs at once
 * ("one with W slots": graphile-worker's shape, one runner with `concurrency: W`).
 */
type Shape = "each one" | "each up to 50" | "one with W slots";

async function serviceTrial(contender: string, databaseUrl: string, workers: number, shape: Shape): Promise<Result> {
  const { child, url } = await startService(databaseUrl);
  try {
    let completed = 0;
    const started = new Map<string, number>(); // job id -> when its create was sent (latency phase)
    const taken = new Map<string, number>(); // job id -> when a handler got it
    const runners = shape === "one with W slots" ? 1 : workers;
    const running: RunningWorker[] = Array.from({ length: runners }, (_, i) =>
      runWorker({
        baseUrl: url,
        worker: `bench-${i}`,
        apiKey: KEY.authorization.slice("Bearer ".length),
        concurrency: shape === "each one" ? 1 : shape === "each up to 50" ? 50 : workers,
        pollSeconds: 10,
        handleSignals: false,
        handler: (task) => {
          taken.set(task.id, performance.now());
          return null;
        },
        onEvent: (e) => e.type === "succeeded" && completed++,
      }),
    );
    const body = JSON.stringify({ name: "bench", input: { n: 1 } });
    // The producers stand for clients on other machines: node:http with keep-alive, the cheapest
    // client Node has (fetch costs this shared machine about twice the CPU per request).
    const agent = new http.Agent({ keepAlive: true, maxSockets: PRODUCERS });
    const target = new URL(`${url}/resources`);
    const create = () =>
      new Promise<{ id: string }>((resolve, reject) => {
        const req = http.request(
          { agent, host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: KEY.authorization } },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (text += c));
            res.on("end", () => (res.statusCode === 202 ? resolve(JSON.parse(text) as { id: string }) : reject(new Error(`POST /resources answered ${res.statusCode}: ${text}`))));
          },
        );
        req.on("error", reject);
        req.end(body);
      });

    // Throughput.
    let stop = false;
    let created = 0;
    const producers = Array.from({ length: PRODUCERS }, async () => {
      while (!stop) {
        await create();
        created++;
        // Keep the backlog bounded so that the window measures the workers, not a queue dump.
        while (!stop && created - completed > 2000) await sleep(5);
      }
    });
    await sleep(2000);
    await analyze(databaseUrl, "jobs");
    const c0 = completed;
    const k0 = created;
    const cpu0 = cpuTicks(child.pid!);
    const io0 = readFileSync(`/proc/${child.pid}/io`, "utf8");
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const elapsed = performance.now() - t0;
    const jobsPerSecond = ((completed - c0) * 1000) / elapsed;
    const createdPerSecond = ((created - k0) * 1000) / elapsed;
    const serverCpuUsPerJob = (((cpuTicks(child.pid!) - cpu0) / CLK_TCK) * 1e6) / (completed - c0);
    const backlog = created - completed;
    if (process.env["BENCH_DEBUG"]) {
      const sys = (t: string, k: string) => Number(new RegExp(`${k}: (\\d+)`).exec(t)![1]);
      const io1 = readFileSync(`/proc/${child.pid}/io`, "utf8");
      console.error(`per job: write syscalls ${((sys(io1, "syscw") - sys(io0, "syscw")) / (completed - c0)).toFixed(2)}, read syscalls ${((sys(io1, "syscr") - sys(io0, "syscr")) / (completed - c0)).toFixed(2)}`);
      const m = await (await fetch(`${url}/metrics`, { headers: { authorization: KEY.authorization } })).text();
      console.error(m.split("\n").filter((l) => /^(http_requests_total|jobs_claimed_total)/.test(l)).join("\n"));
    }
    stop = true;
    await Promise.all(producers);
    // Drain the backlog before measuring latency with idle workers.
    while ((await (await fetch(`${url}/resources?status=IN%20PROGRESS&limit=1`, { headers: { authorization: KEY.authorization } })).json() as { tasks: unknown[] }).tasks.length) await sleep(100);

    // Latency: one job at a time, the workers idle and long-polling.
    await sleep(300);
    for (let i = 0; i < LATENCY_JOBS; i++) {
      const sent = performance.now();
      const { id } = await create();
      started.set(id, sent);
      await until(() => taken.has(id), 10_000);
      await sleep(Math.random() * 1000);
    }
    await Promise.all(running.map((w) => w.stop()));
    const latencies = latenciesOf(started, taken);
    return { contender, workers, jobsPerSecond, serverCpuUsPerJob, createdPerSecond, backlog, latencyP50: pct(latencies, 0.5), latencyP99: pct(latencies, 0.99) };
  } finally {
    child.kill("SIGKILL");
  }
}

// ---- pg-boss ----

async function pgBossTrial(contender: string, workers: number, pollingIntervalSeconds: number, batchSize: number): Promise<Result> {
  const schema = `pgboss_bench_${process.pid}_${Date.now()}`;
  const boss = new PgBoss({ connectionString: PG_URL, schema, pollingIntervalSeconds, max: 20, supervise: false, schedule: false });
  boss.on("error", (e) => console.error("pg-boss:", e.message));
  await boss.start();
  const queue = "bench";
  await boss.createQueue(queue);
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  const completedCount = async () => Number((await db.query(`SELECT count(*) FROM ${schema}.job WHERE name = $1 AND state = 'completed'`, [queue])).rows[0].count);
  try {
    const started = new Map<string, number>();
    const taken = new Map<string, number>();
    for (let i = 0; i < workers; i++) {
      await boss.work<{ n: number }>(queue, { batchSize, pollingIntervalSeconds }, async (jobs) => {
        const now = performance.now();
        for (const j of jobs) taken.set(j.id, now);
        return null;
      });
    }
    let stop = false;
    let created = 0;
    // The backlog bound reads the completed count every 50 ms in one loop, not once per send
    // (a count per send would slow pg-boss's producers with a query of the harness's own).
    let completed = 0;
    const counting = (async () => {
      while (!stop) {
        completed = await completedCount();
        await sleep(50);
      }
    })();
    const producers = Array.from({ length: PRODUCERS }, async () => {
      while (!stop) {
        await boss.send(queue, { n: 1 });
        created++;
        while (!stop && created - completed > 2000) await sleep(5);
      }
    });
    await sleep(2000);
    await db.query(`ANALYZE ${schema}.job`);
    const c0 = await completedCount();
    const k0 = created;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const c1 = await completedCount();
    const backlog = created - c1;
    const elapsed = performance.now() - t0;
    const jobsPerSecond = ((c1 - c0) * 1000) / elapsed;
    const createdPerSecond = ((created - k0) * 1000) / elapsed;
    stop = true;
    await Promise.all([...producers, counting]);
    // Drain (bounded: at the default polling a large backlog would take minutes).
    await db.query(`DELETE FROM ${schema}.job WHERE name = $1 AND state IN ('created', 'retry')`, [queue]);
    await sleep(Math.max(500, pollingIntervalSeconds * 1000 * 1.5));
    for (let i = 0; i < LATENCY_JOBS; i++) {
      const sent = performance.now();
      const id = (await boss.send(queue, { n: 1 }))!;
      started.set(id, sent);
      await until(() => taken.has(id), 10_000);
      await sleep(Math.random() * 1000);
    }
    const latencies = latenciesOf(started, taken);
    return { contender, workers, jobsPerSecond, createdPerSecond, backlog, latencyP50: pct(latencies, 0.5), latencyP99: pct(latencies, 0.99) };
  } finally {
    await boss.stop({ graceful: false, wait: true, close: true }).catch(() => {});
    await db.end();
    await dropSchema(schema).catch(() => {});
  }
}

// ---- graphile-worker ----

/**
 * graphile-worker (its own task runner, LISTEN/NOTIFY) with `workers` concurrent jobs; with
 * `fast`, the settings of its performance page: a local queue that fetches in batches and
 * batched completion (`localQueue.size`, `completeJobBatchDelay: 0`, `failJobBatchDelay: 0`).
 * Completions are counted as its handlers return (its completion is committed just after).
 */
async function graphileTrial(contender: string, workers: number, fast: boolean, separate = false): Promise<Result> {
  const schema = `gw_bench_${process.pid}_${Date.now()}`;
  const silent = new GraphileLogger(() => () => {});
  const utils = await makeWorkerUtils({ connectionString: PG_URL, schema, logger: silent });
  await utils.migrate();
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  const started = new Map<string, number>();
  const taken = new Map<string, number>();
  let completed = 0;
  // One runner with `workers` slots, or (`separate`) that many runners of one slot each, as
  // the service's "16 workers one job each" row runs (each its own connections and LISTEN).
  const runners = await Promise.all(
    Array.from({ length: separate ? workers : 1 }, () =>
      runGraphile({
        connectionString: PG_URL,
        schema,
        concurrency: separate ? 1 : workers,
        maxPoolSize: separate ? 3 : workers + 4,
        noHandleSignals: true,
        logger: silent,
        taskList: {
          bench: async (_payload, helpers) => {
            taken.set(String(helpers.job.id), performance.now());
            completed++;
          },
        },
        ...(fast && { preset: { worker: { localQueue: { size: Math.max(workers * 4, 50) }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } as never }),
      }),
    ),
  );
  try {
    let stop = false;
    let created = 0;
    const producers = Array.from({ length: PRODUCERS }, async () => {
      while (!stop) {
        await utils.addJob("bench", { n: 1 });
        created++;
        while (!stop && created - completed > 2000) await sleep(5);
      }
    });
    await sleep(2000);
    await db.query(`ANALYZE ${schema}._private_jobs`);
    const c0 = completed;
    const k0 = created;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const c1 = completed;
    const backlog = created - c1;
    const elapsed = performance.now() - t0;
    stop = true;
    await Promise.all(producers);
    await db.query(`DELETE FROM ${schema}._private_jobs WHERE locked_at IS NULL`);
    await sleep(500);
    for (let i = 0; i < LATENCY_JOBS; i++) {
      const sent = performance.now();
      const job = await utils.addJob("bench", { n: 1 });
      started.set(String(job.id), sent);
      await until(() => taken.has(String(job.id)), 10_000);
      await sleep(Math.random() * 1000);
    }
    const latencies = latenciesOf(started, taken);
    return { contender, workers, jobsPerSecond: ((c1 - c0) * 1000) / elapsed, createdPerSecond: ((created - k0) * 1000) / elapsed, backlog, latencyP50: pct(latencies, 0.5), latencyP99: pct(latencies, 0.99) };
  } finally {
    await Promise.all(runners.map((r) => r.stop().catch(() => {})));
    await utils.release();
    await db.end();
    await dropSchema(schema).catch(() => {});
  }
}

async function main() {
  execFileSync("taskset", ["-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
  execFileSync(process.execPath, ["scripts/prepare.js"], { stdio: "inherit" });
  const havePg = await pgAnswers();
  if (!havePg) console.error(`bench:workers: PostgreSQL does not answer at ${PG_URL}; its rows and pg-boss are left out`);
  const only = process.env["BENCH_ONLY"]?.split(/,(?![^(]*\))/);
  const want = (name: string) => !only || only.includes(name);
  const results: Result[] = [];
  const report = (r: Result) => {
    results.push(r);
    console.error(
      `${r.contender.padEnd(36)} ${String(r.workers).padStart(2)} workers  ${r.jobsPerSecond.toFixed(0).padStart(6)} jobs/s  backlog ${String(r.backlog).padStart(4)}  ${r.serverCpuUsPerJob ? `server CPU ${r.serverCpuUsPerJob.toFixed(0)} µs/job  ` : ""}create->claim p50 ${r.latencyP50.toFixed(1)} ms  p99 ${r.latencyP99.toFixed(1)} ms`,
    );
  };
  let n = 0;
  const onPg = async (contender: string, w: number, shape: Shape) => {
    const schema = `bench_workers_${process.pid}_${n++}`;
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    try {
      report(await serviceTrial(contender, u.toString(), w, shape));
    } finally {
      await dropSchema(schema);
    }
  };
  const onSqlite = async (contender: string, w: number, shape: Shape) => report(await serviceTrial(contender, `sqlite:${path.join(tmp, `jobs-${n++}.db`)}`, w, shape));
  for (const w of WORKER_COUNTS) {
    if (want("service (sqlite)")) await onSqlite("service (sqlite)", w, "each one");
    if (want("service (sqlite, up to 50 each)")) await onSqlite("service (sqlite, up to 50 each)", w, "each up to 50");
    if (want("service (sqlite, one worker, concurrency W)")) await onSqlite("service (sqlite, one worker, concurrency W)", w, "one with W slots");
    if (!havePg) continue;
    if (want("service (postgres)")) await onPg("service (postgres)", w, "each one");
    if (want("service (postgres, up to 50 each)")) await onPg("service (postgres, up to 50 each)", w, "each up to 50");
    if (want("service (postgres, one worker, concurrency W)")) await onPg("service (postgres, one worker, concurrency W)", w, "one with W slots");
    if (want("pg-boss (default, 2 s polling)")) report(await pgBossTrial("pg-boss (default, 2 s polling)", w, 2, 1));
    if (want("pg-boss (0.5 s polling)")) report(await pgBossTrial("pg-boss (0.5 s polling)", w, 0.5, 1));
    if (want("pg-boss (0.5 s polling, batches of 50)")) report(await pgBossTrial("pg-boss (0.5 s polling, batches of 50)", w, 0.5, 50));
    if (want("graphile-worker")) report(await graphileTrial("graphile-worker", w, false));
    if (want("graphile-worker (local queue, batched completion)")) report(await graphileTrial("graphile-worker (local queue, batched completion)", w, true));
    if (want("graphile-worker (W runners, one job each)")) report(await graphileTrial("graphile-worker (W runners, one job each)", w, false, true));
  }
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/workers.json", JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: CORES, seconds: SECONDS, producers: PRODUCERS, results }, null, 2));
  console.log(`\n${SECONDS} s windows after 2 s warm-up; ${PRODUCERS} producers (backlog: created and not completed at the window's end, at most 2,000; near 0, the producers were the limit); each worker takes one job at a time, or up to 50 at once, or one worker runs W at once, where the row says so\n`);
  const header = ["contender", "workers", "jobs/s", "created/s", "backlog", "server CPU µs/job", "create->claim p50 ms", "p99 ms", "jobs/s ÷ best pg-boss", "jobs/s ÷ best graphile-worker"];
  const ratio = (r: Result, peer: string) => {
    const peers = results.filter((p) => p.workers === r.workers && p.contender.startsWith(peer));
    return peers.length ? (r.jobsPerSecond / Math.max(...peers.map((p) => p.jobsPerSecond))).toFixed(2) : "-";
  };
  const rows = results.map((r) => [
    r.contender,
    String(r.workers),
    r.jobsPerSecond.toFixed(0),
    r.createdPerSecond.toFixed(0),
    String(r.backlog),
    r.serverCpuUsPerJob?.toFixed(0) ?? "",
    r.latencyP50.toFixed(1),
    r.latencyP99.toFixed(1),
    ratio(r, "pg-boss"),
    ratio(r, "graphile-worker"),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log("\nwritten to bench/results/workers.json");
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
