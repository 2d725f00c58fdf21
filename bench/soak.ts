// npm run soak: mixed load (20% create, 75% poll, 5% cancel) against the service on a SQLite
// file for SOAK_SECONDS (default 600), on 127.0.0.1 only; stops by itself. Every interval it
// reports throughput, p99 latency, RSS and heap, open file descriptors and store size, and at
// the end the memory growth per 100k requests.
// Environment: SOAK_SECONDS (600), SOAK_INTERVAL (10), SOAK_CONNECTIONS (16).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, statSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { freePort } from "../scripts/free-port.js";
import { benchKey } from "./keys.js";

const SECONDS = Number(process.env["SOAK_SECONDS"] ?? 600);
const INTERVAL = Number(process.env["SOAK_INTERVAL"] ?? 10);
const CONNECTIONS = Number(process.env["SOAK_CONNECTIONS"] ?? 16);

interface Memory {
  rss: number;
  heapUsed: number;
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(1);

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "soak-"));
  const db = path.join(dir, "jobs.db");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const key = benchKey(dir); // authentication on, as in production
  const auth = { authorization: key.authorization };
  // The hook reports the server's own memory over IPC (heap after a full GC, so growth is real).
  const child = spawn(process.execPath, ["--expose-gc", "--import", path.resolve("bench/soak-hook.mjs"), "dist/src/main.js"], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: `sqlite:${db}`, NODE_ENV: "production", LOG_LEVEL: "warn", API_KEYS_FILE: key.file },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  let memory: Memory = { rss: 0, heapUsed: 0 };
  child.on("message", (m) => (memory = m as Memory));
  for (let i = 0; ; i++) {
    try {
      await fetch(`${url}/healthz`);
      break;
    } catch {
      if (i > 200) throw new Error("the service did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const ids: string[] = [];
  for (let i = 0; i < 500; i++) ids.push(((await (await fetch(`${url}/resources`, { method: "POST", headers: auth })).json()) as { id: string }).id);
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  const create = { method: "POST" as const, path: "/resources", headers: { "content-type": "application/json", ...auth }, body: '{"name":"soak","input":{"n":1}}' };
  const poll = { method: "GET" as const, path: "/x", headers: auth, setupRequest: (r: autocannon.Request) => ({ ...r, path: `/resources/${pick()}` }) };
  const cancel = { method: "DELETE" as const, path: "/x", headers: auth, setupRequest: (r: autocannon.Request) => ({ ...r, path: `/resources/${pick()}` }) };
  const requests = [create, poll, poll, poll, poll, create, poll, poll, poll, cancel, create, poll, poll, poll, poll, create, poll, poll, poll, poll];

  const rows: Record<string, number>[] = [];
  let total = 0;
  const started = Date.now();
  console.log(`soak: ${SECONDS} s of mixed load on ${url}, ${CONNECTIONS} connections, a row every ${INTERVAL} s`);
  console.log("   t s   req/s  p99 ms   RSS MB  heap MB  fds  store MB  5xx");
  while (Date.now() - started < SECONDS * 1000) {
    const r = await autocannon({ url, connections: CONNECTIONS, duration: Math.min(INTERVAL, SECONDS - (Date.now() - started) / 1000), requests });
    total += r.requests.total;
    await new Promise((res) => setTimeout(res, 300)); // let the hook report after the interval
    const fds = readdirSync(`/proc/${child.pid}/fd`).length;
    const store = [db, `${db}-wal`, `${db}-shm`].filter(existsSync).reduce((a, f) => a + statSync(f).size, 0);
    let fivexx = 0;
    for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) if (k.startsWith("5")) fivexx += (v as { count: number }).count;
    const row = { t: (Date.now() - started) / 1000, rps: r.requests.average, p99: r.latency.p99, rss: memory.rss, heap: memory.heapUsed, fds, store, total, fivexx };
    rows.push(row);
    console.log(
      `${row.t.toFixed(0).padStart(6)} ${row.rps.toFixed(0).padStart(7)} ${row.p99.toFixed(0).padStart(7)} ${mb(row.rss).padStart(8)} ${mb(row.heap).padStart(8)} ${String(fds).padStart(4)} ${mb(store).padStart(9)} ${String(fivexx).padStart(4)}`,
    );
  }
  child.kill("SIGTERM");
  // Growth: least squares of heap (after GC) and RSS against requests served, second half of
  // the run (the first half includes warm-up and the store's page cache filling).
  const half = rows.slice(Math.floor(rows.length / 2));
  const slope = (key: "heap" | "rss") => {
    const xs = half.map((r) => r["total"]);
    const ys = half.map((r) => r[key]);
    const mx = xs.reduce((a, b) => a! + b!, 0)! / xs.length;
    const my = ys.reduce((a, b) => a! + b!, 0)! / ys.length;
    const num = xs.reduce((a, x, i) => a! + (x! - mx) * (ys[i]! - my), 0);
    const den = xs.reduce((a, x) => a! + (x! - mx) ** 2, 0);
    return den ? (num! / den) * 100_000 : 0;
  };
  const summary = {
    seconds: SECONDS,
    requests: total,
    p99Max: Math.max(...rows.map((r) => r["p99"]!)),
    rssStartMb: Number(mb(rows[0]!["rss"]!)),
    rssEndMb: Number(mb(rows[rows.length - 1]!["rss"]!)),
    heapStartMb: Number(mb(rows[0]!["heap"]!)),
    heapEndMb: Number(mb(rows[rows.length - 1]!["heap"]!)),
    heapGrowthMbPer100k: Number(mb(slope("heap"))),
    rssGrowthMbPer100k: Number(mb(slope("rss"))),
    fdsStart: rows[0]!["fds"],
    fdsEnd: rows[rows.length - 1]!["fds"],
    storeEndMb: Number(mb(rows[rows.length - 1]!["store"]!)),
    errors5xx: rows.reduce((a, r) => a + r["fivexx"]!, 0),
  };
  console.log("\nsummary", JSON.stringify(summary, null, 2));
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/soak.json", JSON.stringify({ summary, rows }, null, 2));
  if (summary.errors5xx) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
