// npm run bench: the service against its peers, each started fresh as its own process,
// interleaved over several rounds, every other round in reverse order (A B C, C B A, ...).
// The server is pinned to one core and the load generator (autocannon, in this process) to
// the other. Reports medians of req/s, p50/p99 latency (and the p99 of the polls alone),
// server CPU per request (from the server process's own CPU time, read from /proc) and RSS,
// each also as a ratio to plain Express measured in the same round.
//
// Environment: BENCH_ROUNDS (3), BENCH_SECONDS (8 per measurement), BENCH_CONNECTIONS (32),
// BENCH_ONLY (comma-separated contender names; a comma inside parentheses belongs to the name), BENCH_WORKLOADS (comma-separated: create,poll,mixed,invalid),
// BENCH_DATABASE_URL (a PostgreSQL server for the store comparison; left out when unset),
// BENCH_BASELINE (another checkout, built: its service runs beside this one, "service (baseline)"),
// BENCH_PROF (a directory: every process runs under `node --cpu-prof` and writes its profile
// there as <contender>-<workload>-<round>.cpuprofile; profiling slows it, so its figures are
// not comparable with an unprofiled run).
// The service runs as `npm start` runs it in production: NODE_ENV=production, API keys on (every
// request of every contender carries the key; the peers ignore it), the default request log
// (LOG_LEVEL=info, one line per request), response validation off unless the contender turns
// it on. "service (AUTH=off)", "service (LOG_LEVEL=warn)" and "service (METRICS=off)" show
// what keys, the request log and the Prometheus metrics cost. Ratios are given to plain Express and to Fastify (the fastest peer a user would
// pick) measured in the same round.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { freePort } from "../scripts/free-port.js";
import { benchKey } from "./keys.js";

const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 3);
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 8);
const CONNECTIONS = Number(process.env["BENCH_CONNECTIONS"] ?? 32);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
const CORES = os.cpus().length;
const SERVER_CORE = CORES > 1 ? String(CORES - 1) : "0";

interface Contender {
  name: string;
  cmd: string[];
  env: Record<string, string>;
  /** Server processes sharing the load (each with its own port); default 1. */
  instances?: number | undefined;
  /** Store the service on a fresh PostgreSQL schema instead of a SQLite file. */
  postgres?: boolean | undefined;
  /** Workloads this contender runs (default: all). */
  workloads?: string[] | undefined;
  /** Where it runs from (default: here). */
  cwd?: string | undefined;
}

const PG = process.env["BENCH_DATABASE_URL"];
/** Another checkout of the project, built (`npm ci`): its service runs beside this one as "service (baseline)". */
const BASELINE = process.env["BENCH_BASELINE"] ? path.resolve(process.env["BENCH_BASELINE"]) : undefined;

const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-"));
// Its keys file and the contenders' SQLite files go when the run ends.
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const KEY = benchKey(tmp);
const AUTH = { Authorization: KEY.authorization };
const KEYS = { API_KEYS_FILE: KEY.file };
let dbCounter = 0;
const ALL_CONTENDERS: Contender[] = [
  { name: "express", cmd: ["bench/peers/express.mjs"], env: {} },
  { name: "fastify", cmd: ["bench/peers/fastify.mjs"], env: {} },
  // As `npm start` runs it in production: keys on, the default request log (info), no response validation.
  { name: "service", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS } },
  ...(BASELINE ? [{ name: "service (baseline)", cmd: [path.join(BASELINE, "dist/src/main.js")], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS }, cwd: BASELINE }] : []),
  { name: "service (LOG_LEVEL=warn)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", ...KEYS } },
  { name: "service (AUTH=off)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", AUTH: "off" } },
  // What /metrics costs per request (the default has it on): the same service without it.
  { name: "service (METRICS=off)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", METRICS: "off", ...KEYS } },
  { name: "service+resp-validation", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", VALIDATE_RESPONSES: "true", ...KEYS } },
  { name: "express+openapi-validator", cmd: ["bench/peers/express.mjs"], env: { OPENAPI: "1" } },
  { name: "node:http", cmd: ["bench/peers/http.mjs"], env: {} },
  // Store comparison (issue: PostgreSQL against SQLite, one, two and three instances).
  { name: "service x2 (sqlite)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS }, instances: 2, workloads: ["create", "poll"] },
  // Three processes on the one core as the PostgreSQL x3 row has: what sharing the core costs by itself.
  { name: "service x3 (sqlite)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS }, instances: 3, workloads: ["create", "poll", "mixed"] },
  ...(PG
    ? [
        { name: "service (postgres)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS }, postgres: true, workloads: ["create", "poll", "mixed"] },
        { name: "service x2 (postgres)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS }, instances: 2, postgres: true, workloads: ["create", "poll", "mixed"] },
        { name: "service x3 (postgres)", cmd: ["dist/src/main.js"], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS }, instances: 3, postgres: true, workloads: ["create", "poll", "mixed"] },
        ...(BASELINE
          ? [{ name: "service (baseline, postgres)", cmd: [path.join(BASELINE, "dist/src/main.js")], env: { NODE_ENV: "production", LOG_LEVEL: "info", ...KEYS }, postgres: true, workloads: ["create", "poll"], cwd: BASELINE }]
          : []),
      ]
    : []),
];
if (!PG) console.error("bench: BENCH_DATABASE_URL is unset; the PostgreSQL contenders are left out");
const CONTENDERS = ALL_CONTENDERS.filter((c) => !process.env["BENCH_ONLY"] || process.env["BENCH_ONLY"].split(/,(?![^(]*\))/).includes(c.name));

const CREATE_BODY = JSON.stringify({ name: "nightly-report", priority: 5, tags: ["reports"], input: { day: "2013-01-01" } });
const INVALID_BODY = JSON.stringify({ name: "", priority: 12 });
const WORKLOADS = ["create", "poll", "mixed", "invalid"].filter((w) => !process.env["BENCH_WORKLOADS"] || process.env["BENCH_WORKLOADS"].split(",").includes(w));

interface Running {
  children: ChildProcess[];
  urls: string[];
  databaseUrl: string;
}

const PROF = process.env["BENCH_PROF"] ? path.resolve(process.env["BENCH_PROF"]) : undefined;

async function startOne(c: Contender, databaseUrl: string, profile?: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    VALIDATE_RESPONSES: "false",
    DATABASE_URL: databaseUrl,
    ...c.env,
  };
  const prof = PROF && profile ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`, `--cpu-prof-name=${profile}.cpuprofile`] : [];
  const child = spawn("taskset", ["-c", SERVER_CORE, process.execPath, ...prof, ...c.cmd], { env, stdio: ["ignore", "ignore", "inherit"], ...(c.cwd ? { cwd: c.cwd } : {}) });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${c.name} exited with ${child.exitCode}`);
    try {
      await fetch(`${url}/resources?limit=1`);
      return { child, url };
    } catch {
      if (i > 400) throw new Error(`${c.name} did not start`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

async function start(c: Contender, profile?: string): Promise<Running> {
  let databaseUrl = `sqlite:${path.join(tmp, `jobs-${dbCounter++}.db`)}`;
  // The peers ignore DATABASE_URL.
  if (c.postgres) {
    const u = new URL(PG!);
    u.searchParams.set("schema", `bench_${process.pid}_${dbCounter++}`);
    databaseUrl = u.toString();
  }
  const first = await startOne(c, databaseUrl, profile);
  const rest = await Promise.all(Array.from({ length: (c.instances ?? 1) - 1 }, (_, i) => startOne(c, databaseUrl, profile && `${profile}-${i + 2}`)));
  const all = [first, ...rest];
  return { children: all.map((x) => x.child), urls: all.map((x) => x.url), databaseUrl };
}

async function stop(r: Running): Promise<void> {
  // Profiled processes stop gracefully, so that they write their profiles.
  await Promise.all(
    r.children.map((ch) =>
      PROF && ch.exitCode === null ? new Promise((done) => ch.once("exit", done).kill("SIGTERM")) : ch.kill("SIGKILL"),
    ),
  );
  if (r.databaseUrl.startsWith("postgres")) {
    const schema = new URL(r.databaseUrl).searchParams.get("schema");
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: PG });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

/**
 * PostgreSQL: the jobs table analyzed once the prepared jobs are in, as autovacuum would have
 * done by then in a deployment (it is off on the machine the benchmarks were written on). A
 * table with no statistics can be planned badly, and each connection keeps the plans it made
 * (prepared statements) until the table is analyzed: the fair-share lookups of a create read
 * every waiting job through the deadline index, in about one run of three (mixed: 2,000 req/s
 * against 9,000-11,000).
 */
async function analyze(databaseUrl: string): Promise<void> {
  if (!databaseUrl.startsWith("postgres")) return;
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  await client.query(`ANALYZE ${new URL(databaseUrl).searchParams.get("schema")}.jobs`);
  await client.end();
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

async function send(url: string, method: string, p: string, body?: string): Promise<Response> {
  return fetch(url + p, { method, ...(body === undefined ? {} : { body }), headers: body ? { "content-type": "application/json", ...AUTH } : AUTH });
}

/** 1,000 jobs, a quarter of them SUCCESS so that polling them answers 303. */
async function prepare(url: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 1000; i += 50) {
    const replies = await Promise.all(Array.from({ length: 50 }, () => send(url, "POST", "/resources", CREATE_BODY).then((r) => r.json() as Promise<{ id: string }>)));
    ids.push(...replies.map((r: { id: string }) => r.id));
  }
  for (let i = 0; i < 250; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => send(url, "PUT", `/tasks/${id}`, "{}")));
  return ids;
}

type Req = autocannon.Request;

function requestsFor(workload: string, ids: string[]): Req[] {
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  const poll: Req = { method: "GET", path: "/resources/x", headers: AUTH, setupRequest: (r) => ({ ...r, path: `/resources/${pick()}` }) };
  const create: Req = { method: "POST", path: "/resources", headers: { "content-type": "application/json", ...AUTH }, body: CREATE_BODY };
  switch (workload) {
    case "create":
      return [create];
    case "poll":
      return [poll];
    case "mixed": {
      // 20% create, 75% poll, 5% cancel.
      const cancel: Req = { method: "DELETE", path: "/resources/x", headers: AUTH, setupRequest: (r) => ({ ...r, path: `/resources/${pick()}` }) };
      return [create, poll, poll, poll, poll, create, poll, poll, poll, cancel, create, poll, poll, poll, poll, create, poll, poll, poll, poll];
    }
    default:
      return [{ method: "POST", path: "/resources", headers: { "content-type": "application/json", ...AUTH }, body: INVALID_BODY }];
  }
}

interface Sample {
  contender: string;
  workload: string;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  /** p99 of the polls alone (GET), in ms; NaN for workloads without polls. */
  pollP99: number;
  cpuUsPerReq: number;
  rssMb: number;
  statuses: Record<string, number>;
}

async function measure(c: Contender, workload: string, round: number): Promise<Sample> {
  const s = await start(c, `${c.name.replace(/[^A-Za-z0-9.=-]+/g, "_")}-${workload}-${round}`);
  try {
    const ids = await prepare(s.urls[0]!);
    await analyze(s.databaseUrl);
    const requests = requestsFor(workload, ids);
    // Connections are split over the instances, as a load balancer would.
    const per = Math.max(1, Math.floor(CONNECTIONS / s.urls.length));
    // Each poll's own latency (GET answers, told apart from creates and cancels by the request
    // the connection just sent), so that the mixed load reports the polls' p99 by itself.
    let pollMs: number[] = [];
    const load = (duration: number) =>
      Promise.all(
        s.urls.map((url) => {
          // Without a callback autocannon's instance is also its result's promise.
          const run = autocannon({ url, connections: per, duration, requests }) as Promise<autocannon.Result> & autocannon.Instance;
          run.on("response", (client: unknown, _status: number, _bytes: number, ms: number) => {
            if ((client as { requestIterator: { currentRequest: Req } }).requestIterator.currentRequest.method === "GET") pollMs.push(ms);
          });
          return run;
        }),
      );
    await load(2); // warm-up (JIT, caches), not measured
    pollMs = [];
    const pids = s.children.map((ch) => ch.pid!); // taskset execs node in place
    const before = pids.reduce((a, p) => a + cpuTicks(p), 0);
    const results = await load(SECONDS);
    const after = pids.reduce((a, p) => a + cpuTicks(p), 0);
    const total = results.reduce((a, r) => a + r.requests.total, 0);
    const statuses: Record<string, number> = {};
    for (const r of results) {
      for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) statuses[k] = (statuses[k] ?? 0) + (v as { count: number }).count;
    }
    return {
      contender: c.name,
      workload,
      round,
      rps: results.reduce((a, r) => a + r.requests.average, 0),
      p50: Math.max(...results.map((r) => r.latency.p50)),
      p99: Math.max(...results.map((r) => r.latency.p99)),
      pollP99: pollMs.length ? quantile(pollMs, 0.99) : NaN,
      cpuUsPerReq: (((after - before) / CLK_TCK) * 1e6) / total,
      rssMb: pids.reduce((a, p) => a + rssMb(p), 0),
      statuses,
    };
  } finally {
    await stop(s);
  }
}

function quantile(xs: number[], q: number): number {
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  // Pin the load generator to the core the server does not use.
  execFileSync("taskset", ["-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
  execFileSync(process.execPath, ["scripts/prepare.js"], { stdio: "inherit" });
  const samples: Sample[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const w of WORKLOADS) {
      // Every other round in reverse order (A B C, C B A, ...): a drift of the machine's speed
      // within a round then does not favour the contenders measured first.
      const order = round % 2 ? CONTENDERS : [...CONTENDERS].reverse();
      for (const c of order.filter((x) => !x.workloads || x.workloads.includes(w))) {
        const s = await measure(c, w, round);
        samples.push(s);
        console.error(`round ${round} ${w.padEnd(8)} ${c.name.padEnd(26)} ${s.rps.toFixed(0).padStart(6)} req/s  ${s.cpuUsPerReq.toFixed(1).padStart(6)} µs CPU/req`);
      }
    }
  }
  const rows = [];
  for (const w of WORKLOADS) {
    for (const c of CONTENDERS) {
      const mine = samples.filter((s) => s.contender === c.name && s.workload === w);
      if (!mine.length) continue;
      const ratio = (key: "rps" | "cpuUsPerReq" | "p99" | "rssMb", peer = "express") =>
        median(
          mine.map((s) => {
            const base = samples.find((b) => b.contender === peer && b.workload === w && b.round === s.round);
            return base ? s[key] / base[key] : NaN;
          }),
        );
      rows.push({
        workload: w,
        contender: c.name,
        rps: median(mine.map((s) => s.rps)),
        p50: median(mine.map((s) => s.p50)),
        p99: median(mine.map((s) => s.p99)),
        pollP99: median(mine.map((s) => s.pollP99)),
        cpuUsPerReq: median(mine.map((s) => s.cpuUsPerReq)),
        rssMb: median(mine.map((s) => s.rssMb)),
        rpsRatio: ratio("rps"),
        cpuRatio: ratio("cpuUsPerReq"),
        cpuRatioFastify: ratio("cpuUsPerReq", "fastify"),
        p99Ratio: ratio("p99"),
        rssRatio: ratio("rssMb"),
        statuses: mine[mine.length - 1]!.statuses,
      });
    }
  }
  mkdirSync("bench/results", { recursive: true });
  const out = { date: new Date().toISOString(), node: process.version, cores: CORES, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, rows, samples };
  writeFileSync("bench/results/latest.json", JSON.stringify(out, null, 2));
  const header = ["workload", "contender", "req/s", "p50 ms", "p99 ms", "poll p99", "CPU µs/req", "RSS MB", "req/s ×", "CPU ×", "CPU × fastify", "p99 ×", "RSS ×", "statuses"];
  const table = rows.map((r) => [
    r.workload,
    r.contender,
    r.rps!.toFixed(0),
    r.p50!.toFixed(1),
    r.p99!.toFixed(1),
    Number.isNaN(r.pollP99) ? "" : r.pollP99!.toFixed(1),
    r.cpuUsPerReq!.toFixed(1),
    r.rssMb!.toFixed(0),
    r.rpsRatio!.toFixed(2),
    r.cpuRatio!.toFixed(2),
    Number.isNaN(r.cpuRatioFastify) ? "" : r.cpuRatioFastify!.toFixed(2),
    r.p99Ratio!.toFixed(2),
    r.rssRatio!.toFixed(2),
    Object.entries(r.statuses).map(([k, v]) => `${k}:${v}`).join(" "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 || i === header.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`\nmedians of ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections; ratios (×) to plain Express (and CPU to Fastify) in the same round\n`);
  console.log(line(header));
  for (const r of table) console.log(line(r));
  console.log("\nwritten to bench/results/latest.json");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
