// npm run bench:drivers: the PostgreSQL drivers a Node service can pick, on the service's own
// reads: node-postgres (`pg`, what the store uses), porsager's `postgres`, and `pg-native`
// (node-postgres's interface over libpq). Each reads jobs by id from a table the service has
// migrated and that bulk SQL filled (bench/scale-fill.ts), with the statement the store sends
// for polls (`SELECT * FROM jobs WHERE id = ANY($1::text[])`), prepared, through a pool of 10
// connections as the store's:
//
// - batched: 16 ids a statement (the polls of one turn of the event loop under load), 4
//   statements in flight;
// - lone: 1 id a statement (a poll with nothing to share a round trip with), 32 in flight.
//
// Reported per statement: this process's CPU (the driver's share of the service's), the
// PostgreSQL processes' CPU (the rest of the machine is idle), and statements a second. Each
// round runs every driver, every other round in reverse order.
//
// Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
// BENCH_SECONDS (5 per driver and workload), BENCH_ROUNDS (2), BENCH_DRIVER_ROWS (100000).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import postgres from "postgres";
import { PgJobStore } from "../src/jobs/pg-store.js";
import { fillPlan, fillStatements } from "./scale-fill.js";

const PG_URL = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 5);
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 2);
const ROWS = Number(process.env["BENCH_DRIVER_ROWS"] ?? 100_000);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
const SCHEMA = `bench_drivers_${process.pid}`;
const READ = "SELECT * FROM jobs WHERE id = ANY($1::text[])";
const POOL = 10;

/** A driver as the benchmark uses it: a prepared read by ids, and closing. */
interface Driver {
  read(ids: string[]): Promise<number>;
  end(): Promise<void>;
}

const DRIVERS: Record<string, () => Driver> = {
  pg: () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: POOL, options: `-c search_path=${SCHEMA}` });
    return { read: async (ids) => (await pool.query({ name: "read", text: READ, values: [ids] })).rows.length, end: () => pool.end() };
  },
  "pg-native": () => {
    const pool = new pg.native!.Pool({ connectionString: PG_URL, max: POOL, options: `-c search_path=${SCHEMA}` });
    return { read: async (ids) => (await pool.query({ name: "read", text: READ, values: [ids] })).rows.length, end: () => pool.end() };
  },
  postgres: () => {
    const sql = postgres(PG_URL, { max: POOL, prepare: true, connection: { search_path: SCHEMA }, onnotice: () => {} });
    return { read: async (ids) => (await sql.unsafe(READ, [ids], { prepare: true })).length, end: () => sql.end() };
  },
};

const WORKLOADS = { batched: { ids: 16, inFlight: 4 }, lone: { ids: 1, inFlight: 32 } };

function postgresTicks(): number {
  let t = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("postgres")) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      t += Number(f[11]) + Number(f[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return t;
}

async function fill(): Promise<string[]> {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", SCHEMA);
  await (await PgJobStore.open(u.toString())).close(); // the service's own schema, migrated
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${SCHEMA}` });
  await c.connect();
  for (const s of fillStatements("postgres", fillPlan(ROWS, 0.02))) await c.query(s);
  await c.query("VACUUM ANALYZE jobs");
  const ids = (await c.query<{ id: string }>("SELECT id FROM jobs")).rows.map((r) => r.id);
  await c.end();
  return ids;
}

interface Sample {
  driver: string;
  workload: string;
  perSecond: number;
  clientUs: number;
  serverUs: number;
}

async function measure(name: string, workload: keyof typeof WORKLOADS, ids: string[]): Promise<Sample> {
  const d = DRIVERS[name]!();
  const { ids: per, inFlight } = WORKLOADS[workload];
  const pick = () => {
    const out = new Set<string>();
    while (out.size < per) out.add(ids[Math.floor(Math.random() * ids.length)]!);
    return [...out];
  };
  let stop = false;
  let done = 0;
  // Marked handled at once: a failing read must reach the caller (and its clean-up), not end
  // the process as an unhandled rejection while the warm-up sleeps.
  const loops = () => {
    const all = Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (!stop) {
          if ((await d.read(pick())) !== per) throw new Error(`${name}: a read found fewer jobs than it asked for`);
          done++;
        }
      }),
    );
    all.catch(() => {});
    return all;
  };
  try {
    let running = loops();
    await new Promise((r) => setTimeout(r, 1000)); // warm-up: connections, prepared statements, JIT
    stop = true;
    await running;
    stop = false;
    done = 0;
    const cpu0 = process.cpuUsage();
    const pg0 = postgresTicks();
    const t0 = performance.now();
    running = loops();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    stop = true;
    await running;
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { driver: name, workload, perSecond: done / elapsed, clientUs: (cpu.user + cpu.system) / done, serverUs: (((postgresTicks() - pg0) / CLK_TCK) * 1e6) / done };
  } finally {
    await d.end();
  }
}

async function main() {
  // One core for this process, as the service has in `npm run bench`; PostgreSQL is not pinned.
  execFileSync("taskset", ["-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
  const samples: Sample[] = [];
  try {
    const ids = await fill();
    const names = Object.keys(DRIVERS);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const w of Object.keys(WORKLOADS) as (keyof typeof WORKLOADS)[]) {
        for (const name of round % 2 ? names : [...names].reverse()) {
          const s = await measure(name, w, ids);
          samples.push(s);
          console.error(`round ${round} ${w.padEnd(8)} ${name.padEnd(10)} ${s.perSecond.toFixed(0).padStart(6)} statements/s  client ${s.clientUs.toFixed(1).padStart(6)} µs  PostgreSQL ${s.serverUs.toFixed(1).padStart(6)} µs a statement`);
        }
      }
    }
  } finally {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await c.end();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  console.log(`\nmedians of ${ROUNDS} rounds × ${SECONDS} s; ${ROWS} stored jobs; pool of ${POOL}; batched: ${WORKLOADS.batched.ids} ids a statement, ${WORKLOADS.batched.inFlight} in flight; lone: 1 id, ${WORKLOADS.lone.inFlight} in flight\n`);
  console.log("workload  driver      statements/s  client µs/statement  PostgreSQL µs/statement  client CPU ÷ pg's");
  for (const w of Object.keys(WORKLOADS)) {
    const of = (d: string, k: keyof Sample) => median(samples.filter((s) => s.workload === w && s.driver === d).map((s) => s[k] as number));
    for (const d of Object.keys(DRIVERS)) {
      console.log(
        `${w.padEnd(8)}  ${d.padEnd(10)}  ${of(d, "perSecond").toFixed(0).padStart(12)}  ${of(d, "clientUs").toFixed(1).padStart(19)}  ${of(d, "serverUs").toFixed(1).padStart(23)}  ${(of(d, "clientUs") / of("pg", "clientUs")).toFixed(2).padStart(17)}`,
      );
    }
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
