// npm run bench:fair: fair share between clients. Client A enqueues a backlog (BENCH_BACKLOG,
// 20,000), then client B 100 jobs; 8 workers take one job at a time (claim, then finish) until
// B's are all done. Reports how many of A's jobs finished before B's last one, and the claim
// latency (p50/p99, ms, as the workers measured it) with A's backlog at 20,000 against 1,000:
// the claim must not get slower as one client's backlog grows. On SQLite and, when it answers,
// PostgreSQL; the service runs as its own process (dist/, NODE_ENV=production, keys on).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { hashKey, newKey } from "../src/auth/keys.js";
import { freePort } from "../scripts/free-port.js";
import { untilHealthy } from "./service.js";

const BACKLOG = Number(process.env["BENCH_BACKLOG"] ?? 20000);
const SMALL = 1000;
const B_JOBS = 100;
const WORKERS = 8;
const PG_URL = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-fair-"));
const keys = { a: newKey(), b: newKey(), w: newKey() };
const keyFile = path.join(tmp, "api-keys");
writeFileSync(keyFile, `client-a client ${hashKey(keys.a)}\nclient-b client ${hashKey(keys.b)}\nworker worker ${hashKey(keys.w)}\n`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

async function startService(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/src/main.js"], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", NODE_ENV: "production", LOG_LEVEL: "warn", DATABASE_URL: databaseUrl, API_KEYS_FILE: keyFile },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(url, child);
  return { child, url };
}

async function post(url: string, key: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  return { status: r.status, json: r.status === 204 ? undefined : await r.json() };
}

async function enqueue(url: string, key: string, name: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => post(`${url}/resources`, key, { name })));
    for (const r of batch) ids.push(r.json.id);
  }
  return ids;
}

/** A's backlog, then B's jobs; workers until B's are done. */
let trials = 0;
async function trial(url: string, backlog: number): Promise<{ aBefore: number; claim: number[] }> {
  const name = `fair-${backlog}-${trials++}`;
  await enqueue(url, keys.a, name, backlog);
  const b = new Set(await enqueue(url, keys.b, name, B_JOBS));
  let bLeft = B_JOBS;
  let aBefore = 0;
  const claim: number[] = [];
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      while (bLeft > 0) {
        const t0 = performance.now();
        const r = await post(`${url}/tasks/claim`, keys.w, { worker: `w${w}`, names: [name] });
        claim.push(performance.now() - t0);
        const t = r.json.tasks[0] as { id: string; leaseToken: string } | undefined;
        if (!t) break;
        await fetch(`${url}/tasks/${t.id}`, {
          method: "PUT",
          headers: { "content-type": "application/json", authorization: `Bearer ${keys.w}` },
          body: JSON.stringify({ leaseToken: t.leaseToken, status: "SUCCESS" }),
        }).then((x) => x.arrayBuffer());
        if (b.has(t.id)) bLeft--;
        else if (bLeft > 0) aBefore++;
      }
    }),
  );
  return { aBefore, claim };
}

const rows: string[] = [];
const cleanup: (() => void)[] = [];
async function measure(label: string, databaseUrl: string) {
  const s = await startService(databaseUrl);
  cleanup.push(() => s.child.kill("SIGTERM"));
  await trial(s.url, SMALL); // warm-up (JIT, caches, connections)
  const small = await trial(s.url, SMALL);
  const big = await trial(s.url, BACKLOG);
  s.child.kill("SIGTERM");
  const f = (x: number) => x.toFixed(2);
  rows.push(
    `| ${label} | ${big.aBefore} | ${f(pct(small.claim, 0.5))} / ${f(pct(small.claim, 0.99))} | ${f(pct(big.claim, 0.5))} / ${f(pct(big.claim, 0.99))} | ${f(pct(big.claim, 0.5) / pct(small.claim, 0.5))} |`,
  );
}

try {
  await measure("SQLite", `sqlite:${path.join(tmp, "jobs.db")}`);
  const admin = new pg.Client({ connectionString: PG_URL });
  const up = await admin.connect().then(
    () => true,
    () => false,
  );
  if (up) {
    const schema = `bench_fair_${process.pid}`;
    cleanup.push(() => void admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).then(() => admin.end()));
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    await measure("PostgreSQL", u.toString());
  }
} finally {
  for (const c of cleanup.reverse()) c();
  await new Promise((r) => setTimeout(r, 300));
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`Fair share: client A enqueues ${BACKLOG} (then ${SMALL}), client B ${B_JOBS}; ${WORKERS} workers take one job at a time until B's are done\n`);
console.log(`| store | A's jobs done before B's last (backlog ${BACKLOG}) | claim p50 / p99 ms, A backlog ${SMALL} | the same, A backlog ${BACKLOG} | p50 ratio |`);
console.log("|---|---:|---:|---:|---:|");
for (const r of rows) console.log(r);
