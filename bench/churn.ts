// npm run bench:churn: a deployment's steady churn, run long enough to show whether the
// store's size levels off (the job engines' users report tables and indexes that keep growing
// under churn, autovacuum falling behind, the pruner timing out: riverqueue/river#59,
// oban-bg/oban#92).
//
// The service runs as in production (dist/, keys on) with a short retention, so that the
// retention sweep deletes as many jobs as are created well inside the run. At a steady rate a
// client creates jobs, polls each once a second later and cancels one in 50; workers claim
// them in batches (up to 25, waiting up to a second) and report their outcomes in batches
// (POST /tasks/outcomes: 95% SUCCESS with a result, 5% FAILED); an operator scrapes /metrics
// and the queue overview every 10 s, as Prometheus and an open dashboard would.
//
// Every sample reports, per table with its indexes, its size and its live and dead rows
// (PostgreSQL: pg_total_relation_size, pg_stat_user_tables; SQLite: the pages in use from
// dbstat, the free pages, the write-ahead log), with the work done in the interval, the
// backlog, and the create's latency. At the end it compares the last third of the run with the
// middle third: a size that has levelled off grows by little between them.
//
// Environment: BENCH_DATABASE_URL (PostgreSQL, as for the other benchmarks);
// BENCH_CHURN_STORES (postgres when BENCH_DATABASE_URL is set, else sqlite; or "sqlite,postgres");
// BENCH_CHURN_MINUTES (30); BENCH_CHURN_RATE (jobs created a second, 100);
// BENCH_CHURN_RETENTION_SECONDS (300); BENCH_CHURN_SAMPLE_SECONDS (60); BENCH_CHURN_JSON (a file
// for the samples).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { freePort } from "../scripts/free-port.js";
import { roles } from "./roles.js";
import { untilHealthy } from "./service.js";

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PG_URL = process.env["BENCH_DATABASE_URL"];
const MINUTES = num("BENCH_CHURN_MINUTES", 30);
const RATE = num("BENCH_CHURN_RATE", 100);
const RETENTION = num("BENCH_CHURN_RETENTION_SECONDS", 300);
const SAMPLE = num("BENCH_CHURN_SAMPLE_SECONDS", 60);
const STORES = (process.env["BENCH_CHURN_STORES"] ?? (PG_URL ? "postgres" : "sqlite")).split(",").filter((s) => s === "sqlite" || (s === "postgres" && PG_URL));
const WORKERS = 4;
const NAMES = ["thumbnail", "invoice", "export"];

const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-churn-"));
// Ctrl-C (or a kill) ends the run early: what was sampled is reported, and the store dropped.
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void (interrupted = true));
const keys = roles(tmp);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => (b / 1048576).toFixed(1);

interface TableSize {
  bytes: number;
  live: number;
  dead: number;
  /** PostgreSQL: how many times (auto)vacuum has run on it. */
  vacuums?: number;
}
interface Sample {
  minute: number;
  tables: Record<string, TableSize>;
  /** SQLite: pages free inside the file, and the write-ahead log, in bytes. */
  free?: number;
  wal?: number;
  created: number;
  finished: number;
  cancelled: number;
  backlog: number;
  createP50: number;
  createP99: number;
}

/** The store's tables, each with its indexes: size, live rows, dead rows. */
interface Sizer {
  sizes(): Promise<Pick<Sample, "tables" | "free" | "wal">>;
  close(): Promise<void>;
}

async function pgSizer(schema: string): Promise<Sizer> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  return {
    async sizes() {
      // pg_stat's counters lag a little (they are flushed at most once a second per backend).
      const r = await c.query(
        `SELECT s.relname, pg_total_relation_size(s.relid) AS bytes, s.n_live_tup AS live, s.n_dead_tup AS dead, s.autovacuum_count + s.vacuum_count AS vacuums
           FROM pg_stat_user_tables s WHERE s.schemaname = $1`,
        [schema],
      );
      return {
        tables: Object.fromEntries(r.rows.map((row) => [row.relname, { bytes: Number(row.bytes), live: Number(row.live), dead: Number(row.dead), vacuums: Number(row.vacuums) }])),
      };
    },
    close: () => c.end(),
  };
}

function sqliteSizer(file: string): Sizer {
  const db = new Database(file, { readonly: true });
  return {
    async sizes() {
      const pages = db.prepare(
        `SELECT coalesce(m.tbl_name, d.name) AS owner, sum(d.pgsize) AS bytes
           FROM dbstat d LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY owner`,
      ).all() as { owner: string; bytes: number }[];
      const tables: Record<string, TableSize> = {};
      for (const p of pages) {
        if (p.owner.startsWith("sqlite_")) continue;
        const live = (db.prepare(`SELECT count(*) AS n FROM "${p.owner}"`).get() as { n: number }).n;
        tables[p.owner] = { bytes: p.bytes, live, dead: 0 };
      }
      const pageSize = db.pragma("page_size", { simple: true }) as number;
      const free = (db.pragma("freelist_count", { simple: true }) as number) * pageSize;
      let wal = 0;
      try {
        wal = statSync(`${file}-wal`).size;
      } catch {
        // no log yet
      }
      return { tables, free, wal };
    },
    close: async () => void db.close(),
  };
}

/** A setting of the PostgreSQL server. */
async function pgSetting(name: string): Promise<string> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return (await c.query("SELECT current_setting($1) AS v", [name])).rows[0].v as string;
  } finally {
    await c.end();
  }
}

/** p50 and p99 of `xs`, in ms. */
function quantiles(xs: number[]): [number, number] {
  if (!xs.length) return [0, 0];
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor(s.length * 0.5)]!, s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!];
}

async function churn(kind: string): Promise<Sample[]> {
  let url: string;
  let schema = "";
  if (kind === "sqlite") url = `sqlite:${path.join(tmp, "jobs.db")}`;
  else {
    schema = `bench_churn_${process.pid}`;
    const u = new URL(PG_URL!);
    u.searchParams.set("schema", schema);
    url = u.toString();
  }
  const port = await freePort();
  const base = new URL(`http://127.0.0.1:${port}`);
  const child = spawn(process.execPath, ["dist/src/main.js"], {
    env: {
      ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: url, API_KEYS_FILE: keys.file, LOG_LEVEL: "warn",
      JOB_RETENTION_SECONDS: String(RETENTION), SWEEP_INTERVAL_SECONDS: "10",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 48 });
  const request = keys.requester(base, agent);
  const samples: Sample[] = [];
  let sizer: Sizer | undefined;
  try {
    await untilHealthy(base.origin, child);
    sizer = kind === "sqlite" ? sqliteSizer(url.slice("sqlite:".length)) : await pgSizer(schema);
    if (kind === "postgres") console.log(`  postgres: autovacuum is ${await pgSetting("autovacuum")}${(await pgSetting("autovacuum")) === "off" ? " on this server: nothing reclaims dead rows, and sizes cannot level off" : ""}`);
    let stopping = false;
    const count = { created: 0, finished: 0, cancelled: 0, backlog: 0 };
    let createMs: number[] = [];
    const errors: string[] = [];
    const guard = (p: Promise<unknown>) => p.catch((e: Error) => void (errors.length < 20 && errors.push(e.message)));

    // The client: creates at a steady rate (catching up when behind, at most 64 in flight),
    // polls each job once a second later, cancels one in 50.
    let inFlight = 0;
    const create = async (i: number) => {
      const t0 = performance.now();
      const { body } = await request("client", "POST", "/resources", { name: NAMES[i % NAMES.length], input: { n: i, source: `s3://bucket/in/${i}.bin` } }, [202]);
      createMs.push(performance.now() - t0);
      count.created++;
      return body.id as string;
    };
    // What the client does next, not counted in flight: a create waits for no poll.
    const follow = async (i: number, id: string) => {
      if (i % 50 === 0) {
        // Cancelling a job a worker already finished answers 409.
        if ((await request("client", "DELETE", `/resources/${id}`, undefined, [200, 409])).status === 200) count.cancelled++;
      } else {
        await sleep(1000);
        await request("client", "GET", `/resources/${id}`, undefined, [200, 303, 500]);
      }
    };
    const followed = new Set<Promise<unknown>>();
    const client = (async () => {
      const t0 = performance.now();
      let n = 0;
      while (!stopping) {
        const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
        while (n < due && inFlight < 64) {
          inFlight++;
          const i = n++;
          void guard(
            create(i).then((id) => {
              const f = guard(follow(i, id)).finally(() => followed.delete(f));
              followed.add(f);
            }),
          ).finally(() => inFlight--);
        }
        await sleep(5);
      }
      while (inFlight) await sleep(10);
      await Promise.all(followed);
    })();

    // Workers: claim up to 25 (waiting up to a second for work), report them all in one batch.
    const worker = async (w: number) => {
      while (!stopping) {
        await guard(
          (async () => {
            const { body } = await request("worker", "POST", "/tasks/claim", { worker: `w${w}`, max: 25 }, [200], { prefer: "wait=1" });
            const tasks = body.tasks as { id: string; leaseToken: string }[];
            if (!tasks.length) return;
            const outcomes = tasks.map((t, i) =>
              (count.finished + i) % 20 === 0
                ? { id: t.id, leaseToken: t.leaseToken, status: "FAILED", retryable: false, error: { title: "upstream answered 502" } }
                : { id: t.id, leaseToken: t.leaseToken, status: "SUCCESS", result: { url: `https://files.example/out/${t.id}.bin`, bytes: 4096 } },
            );
            const answer = await request("worker", "POST", "/tasks/outcomes", { outcomes });
            // A job cancelled while held refuses its outcome (409); it ended all the same.
            count.finished += (answer.body.results as { status: number }[]).filter((r) => r.status === 200).length;
          })(),
        );
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));

    // The operator: a scrape and a look at the queues every 10 s; the backlog is read there.
    const operator = (async () => {
      while (!stopping) {
        await guard(request("admin", "GET", "/metrics"));
        await guard(
          request("admin", "GET", "/admin/queues").then(({ body }) => {
            count.backlog = (body.now.queues as { waiting: number; running: number }[]).reduce((n, q) => n + q.waiting + q.running, 0);
          }),
        );
        for (let i = 0; i < 100 && !stopping; i++) await sleep(100);
      }
    })();

    const t0 = Date.now();
    const sample = async () => {
      const [p50, p99] = quantiles(createMs);
      createMs = [];
      const s: Sample = { minute: (Date.now() - t0) / 60_000, ...(await sizer!.sizes()), ...count, createP50: p50, createP99: p99 };
      samples.push(s);
      const t = s.tables;
      console.log(
        `  ${kind} ${s.minute.toFixed(1).padStart(5)} min: ${count.created} created, ${count.finished} finished, backlog ${count.backlog}, create p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms; ` +
          // (SQLite keeps no dead rows: a deleted row's space is free pages, reported beside.)
          ["jobs", "job_events"].map((n) => `${n} ${mb(t[n]?.bytes ?? 0)} MB (${t[n]?.live ?? 0} rows${kind === "postgres" ? `, ${t[n]?.dead ?? 0} dead` : ""})`).join(", ") +
          (s.free !== undefined ? `, free ${mb(s.free)} MB, log ${mb(s.wal ?? 0)} MB` : ""),
      );
    };
    await sample();
    while (Date.now() - t0 < MINUTES * 60_000 && !interrupted) {
      const next = Math.min(t0 + MINUTES * 60_000, Date.now() + SAMPLE * 1000);
      while (Date.now() < next && !interrupted) await sleep(Math.min(250, next - Date.now()));
      await sample();
    }
    stopping = true;
    await Promise.all([client, ...workers, operator]);
    if (errors.length) console.log(`  ${kind}: ${errors.length} requests failed; the first: ${errors.slice(0, 3).join(" | ")}`);
    return samples;
  } finally {
    await sizer?.close();
    agent.destroy();
    child.kill();
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    if (kind === "postgres") {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    } else for (const s of ["", "-wal", "-shm"]) rmSync(url.slice("sqlite:".length) + s, { force: true });
  }
}

/** Mean size of each table over the samples from `from` to `to` (fractions of the run). */
function meanSizes(samples: Sample[], from: number, to: number): Record<string, number> {
  const picked = samples.filter((s) => s.minute >= MINUTES * from && s.minute <= MINUTES * to);
  const out: Record<string, number> = {};
  for (const s of picked) for (const [t, v] of Object.entries(s.tables)) out[t] = (out[t] ?? 0) + v.bytes / picked.length;
  return out;
}

function report(kind: string, samples: Sample[]): void {
  const middle = meanSizes(samples, 1 / 3, 2 / 3);
  const last = meanSizes(samples, 2 / 3, 1);
  const end = samples.at(-1)!;
  console.log(`\n${kind}: sizes, the last third of the run against the middle third (mean of the samples in each)`);
  console.log("| table (with its indexes) | middle third | last third | growth | rows at the end, live / dead | vacuumed |");
  console.log("|---|---|---|---|---|---|");
  // The tables that hold something (the small bookkeeping ones are a page or two).
  const tables = Object.keys(last).filter((t) => Math.max(last[t] ?? 0, middle[t] ?? 0) >= 100 * 1024).sort((a, b) => last[b]! - last[a]!);
  for (const t of tables) {
    const g = last[t]! / (middle[t] || last[t]!);
    const e = end.tables[t];
    console.log(`| ${t} | ${mb(middle[t] ?? 0)} MB | ${mb(last[t]!)} MB | ${g.toFixed(2)}x | ${e?.live ?? 0} / ${kind === "postgres" ? (e?.dead ?? 0) : "-"} | ${e?.vacuums === undefined ? "" : `${e.vacuums} times`} |`);
  }
  if (end.free !== undefined) {
    // SQLite: the file is the tables' pages, the free ones, and beside it the write-ahead log.
    const mean = (from: number, to: number, f: (s: Sample) => number) => {
      const picked = samples.filter((s) => s.minute >= MINUTES * from && s.minute <= MINUTES * to);
      return picked.reduce((n, s) => n + f(s), 0) / picked.length;
    };
    for (const [label, f] of [["(free pages in the file)", (s: Sample) => s.free ?? 0], ["(write-ahead log)", (s: Sample) => s.wal ?? 0]] as const) {
      const m = mean(1 / 3, 2 / 3, f);
      const l = mean(2 / 3, 1, f);
      console.log(`| ${label} | ${mb(m)} MB | ${mb(l)} MB | ${(l / (m || l || 1)).toFixed(2)}x | | |`);
    }
  }
  const first = samples.find((s) => s.minute >= MINUTES / 3) ?? samples[0]!;
  const minutes = end.minute - first.minute;
  console.log(
    `\n${kind}: over the last two thirds ${((end.created - first.created) / minutes / 60).toFixed(0)} jobs created and ${((end.finished - first.finished) / minutes / 60).toFixed(0)} finished a second; backlog at the end ${end.backlog}; ` +
      `create p50 ${end.createP50.toFixed(1)} ms, p99 ${end.createP99.toFixed(1)} ms in the last interval (first interval after a third: ${first.createP50.toFixed(1)} / ${first.createP99.toFixed(1)})`,
  );
}

async function main() {
  console.log(`bench:churn: ${STORES.join(", ")}, ${MINUTES} min at ${RATE} jobs/s, retention ${RETENTION} s (a steady state of about ${(RATE * RETENTION).toLocaleString("en")} stored jobs), a sample every ${SAMPLE} s`);
  const all: Record<string, Sample[]> = {};
  try {
    for (const kind of STORES) {
      all[kind] = await churn(kind);
      report(kind, all[kind]);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (process.env["BENCH_CHURN_JSON"]) writeFileSync(process.env["BENCH_CHURN_JSON"], `${JSON.stringify({ minutes: MINUTES, rate: RATE, retentionSeconds: RETENTION, samples: all }, null, 2)}\n`);
}

await main();
