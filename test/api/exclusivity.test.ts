// Exclusivity at scale: three service instances on one PostgreSQL database, 16 concurrent
// workers spread over them, 2,000 jobs (a fifth of them under a concurrency limit). Some workers stall past their lease without a
// heartbeat and then try to finish anyway. Every claim is recorded with its lease interval as
// the server stated it (and every extension a heartbeat got); afterwards no job may ever have
// been held by two unexpired leases at once, every job must have ended exactly once, none may
// be lost or stuck, and each accepted outcome must have come from the holder of the job's
// current lease. Half the workers report their outcomes in batches (POST /tasks/outcomes).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withHeaders } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServers, type ServerProcess } from "../helpers/process.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

const JOBS = Number(process.env["EXCLUSIVITY_JOBS"] ?? 2000);
const WORKERS = 16;
const LEASE_SECONDS = 5;
/** How often a worker stalls past its lease before reporting (a stale worker). */
const STALL_EVERY = 40;

interface Claim {
  job: string;
  token: string;
  worker: string;
  start: number;
  /** The latest expiry the server confirmed (claim or heartbeat). */
  expires: number;
}

// Authentication is on: the producers use a client's key, the workers a worker's.
const keys = writeKeys({ producer: "client", worker: "worker", ops: "admin" });
const asClient = withHeaders(keys.auth["producer"]);
const asWorker = withHeaders(keys.auth["worker"]);

describe.skipIf(!PG_URL)("exclusivity at scale on PostgreSQL", () => {
  let nodes: ServerProcess[] = [];
  const at = (i: number) => nodes[i % nodes.length]!.url;

  beforeAll(async () => {
    // Started at the same moment: schema creation and migration must not collide.
    nodes = await spawnServers(3, { DATABASE_URL: freshDatabaseUrl("postgres"), LOG_LEVEL: "warn", API_KEYS_FILE: keys.file });
    // A fifth of the jobs share a concurrency key limited to 3 at once (the claims' limit path).
    const limit = await withHeaders(keys.auth["ops"])("PUT", `${nodes[0]!.url}/admin/limits/key/ex-key`, { body: { concurrency: 3 } });
    expect(limit.status).toBe(200);
  });
  afterAll(async () => {
    for (const n of nodes) n.child.kill("SIGKILL");
    await dropTestSchemas();
  });

  it(`${JOBS} jobs, ${WORKERS} workers on 3 instances: one unexpired lease per job at any instant, each job ended once, by its current holder`, async () => {
    const claims: Claim[] = [];
    const accepted = new Map<string, { token: string; result: string }[]>();
    let refusedStale = 0;
    let stalls = 0;
    let created = 0;
    const ids = new Set<string>();

    const producer = async (p: number) => {
      for (let i = p; i < JOBS; i += 4) {
        const r = await asClient("POST", `${at(i)}/resources`, { body: { name: "scale", priority: i % 10, input: { i }, ...(i % 5 === 0 && { concurrencyKey: "ex-key" }) } });
        expect(r.status).toBe(202);
        ids.add(r.json.id);
        created++;
      }
    };

    // Odd workers report outcomes as batches (POST /tasks/outcomes): those of their jobs that
    // end in the same turn go together, each answered on its own.
    const queued = new Map<number, { item: object; resolve: (a: { status: number; type?: string; text: string }) => void }[]>();
    let batchedTogether = 0;
    const report = async (w: number, n: number, task: { id: string; leaseToken: string }, body: object): Promise<{ status: number; type?: string; text: string }> => {
      if (w % 2 === 0) {
        const r = await asWorker("PUT", `${at(w + n)}/tasks/${task.id}`, { body: { leaseToken: task.leaseToken, ...body } });
        return { status: r.status, type: r.json?.type, text: r.text };
      }
      return new Promise((resolve) => {
        const q = queued.get(w) ?? queued.set(w, []).get(w)!;
        q.push({ item: { id: task.id, leaseToken: task.leaseToken, ...body }, resolve });
        if (q.length > 1) return;
        setImmediate(async () => {
          const batch = q.splice(0);
          if (batch.length > 1) batchedTogether += batch.length;
          const r = await asWorker("POST", `${at(w + n)}/tasks/outcomes`, { body: { outcomes: batch.map((b) => b.item) } });
          expect(r.status, r.text).toBe(200);
          batch.forEach((b, i) => b.resolve({ status: r.json.results[i].status, type: r.json.results[i].problem?.type, text: JSON.stringify(r.json.results[i]) }));
        });
      });
    };

    let finished = 0;
    const work = async (w: number, n: number, task: { id: string; attempt: number; leaseToken: string; leaseExpiresAt: string; leaseSeconds: number }) => {
      const claim: Claim = { job: task.id, token: task.leaseToken, worker: `w${w}`, start: Date.parse(task.leaseExpiresAt) - task.leaseSeconds * 1000, expires: Date.parse(task.leaseExpiresAt) };
      claims.push(claim);
      const put = (body: unknown) => asWorker("PUT", `${at(w + n)}/tasks/${task.id}`, { body: { leaseToken: task.leaseToken, ...(body as object) } });
      // (Only first attempts stall: a job stalled maxAttempts times in a row would rightly fail.)
      if (n % STALL_EVERY === STALL_EVERY - 1 && task.attempt === 1) {
        // A stale worker: silent past its lease, then it tries to finish.
        stalls++;
        await new Promise((r) => setTimeout(r, LEASE_SECONDS * 1000 + 1500));
        const r = await report(w, n, task, { status: "SUCCESS", result: `stale ${task.leaseToken}` });
        if (r.status === 409 && r.type === "urn:async-api:lease-mismatch") refusedStale++;
        else if (r.status === 200) (accepted.get(task.id) ?? accepted.set(task.id, []).get(task.id)!).push({ token: task.leaseToken, result: `stale ${task.leaseToken}` });
        else throw new Error(`stale finish answered ${r.status} ${r.text}`);
        return;
      }
      if (n % 3 === 0) {
        const hb = await put({ progress: 50 });
        expect(hb.status, hb.text).toBe(200);
        claim.expires = Math.max(claim.expires, Date.parse(hb.json.leaseExpiresAt));
      }
      const r = await report(w, n, task, { status: "SUCCESS", result: `by ${task.leaseToken}` });
      expect(r.status, r.text).toBe(200);
      (accepted.get(task.id) ?? accepted.set(task.id, []).get(task.id)!).push({ token: task.leaseToken, result: `by ${task.leaseToken}` });
      finished++;
    };

    const t0 = Date.now();
    const worker = async (w: number) => {
      const running = new Set<Promise<void>>();
      let n = 0;
      while (finished < JOBS && Date.now() - t0 < 120_000) {
        const r = await asWorker("POST", `${at(w)}/tasks/claim`, { body: { worker: `w${w}`, max: 4, leaseSeconds: LEASE_SECONDS }, headers: { Prefer: "wait=1" } });
        expect(r.status, r.text).toBe(200);
        for (const task of r.json.tasks) {
          const p = work(w, n++, task).finally(() => running.delete(p));
          running.add(p);
        }
        // Keep at most 4 jobs in hand; a stalled one does not stop the others.
        while (running.size >= 4) await Promise.race(running);
      }
      await Promise.all(running);
    };

    await Promise.all([...[0, 1, 2, 3].map(producer), ...Array.from({ length: WORKERS }, (_, w) => worker(w))]);
    const seconds = (Date.now() - t0) / 1000;

    // None lost, none stuck: every job ended, as SUCCESS, once.
    expect(created).toBe(JOBS);
    expect(ids.size).toBe(JOBS);
    const byJob = new Map<string, Claim[]>();
    for (const c of claims) (byJob.get(c.job) ?? byJob.set(c.job, []).get(c.job)!).push(c);
    let overlaps = 0;
    const problems: string[] = [];
    for (const id of ids) {
      const outcomes = accepted.get(id) ?? [];
      if (outcomes.length !== 1) problems.push(`${id}: ${outcomes.length} accepted outcomes`);
      const held = (byJob.get(id) ?? []).sort((a, b) => a.start - b.start);
      // No two unexpired leases at any instant: each lease ends before the next begins.
      for (let i = 1; i < held.length; i++) if (held[i - 1]!.expires > held[i]!.start) overlaps++;
      // The accepted outcome came from the job's last (current) lease.
      if (outcomes.length === 1 && outcomes[0]!.token !== held[held.length - 1]?.token) problems.push(`${id}: outcome from a lease that was not the current one`);
    }
    // The server agrees: every job SUCCESS with the holder's result, attempts = claims seen.
    const sample = [...ids].filter((_, i) => i % 10 === 0 || byJob.get([...ids][i]!)!.length > 1);
    for (const id of sample) {
      const r = await asClient("GET", `${at(0)}/resources/${id}`);
      expect(r.status).toBe(303);
      expect(r.json.attempts).toBe(byJob.get(id)!.length);
      expect(r.json.result).toBe(accepted.get(id)![0]!.result);
    }
    const remaining = await asClient("GET", `${at(1)}/resources?status=IN%20PROGRESS`);
    expect(remaining.json.tasks).toEqual([]);
    console.log(
      `exclusivity: ${JOBS} jobs, ${claims.length} claims, ${stalls} stale workers (${refusedStale} stale outcomes refused), ${overlaps} overlapping leases, ${problems.length} problems, ${seconds.toFixed(1)} s`,
    );
    expect(problems).toEqual([]);
    expect(overlaps).toBe(0);
    expect(stalls).toBeGreaterThan(0);
    expect(refusedStale).toBe(stalls);
    // Outcomes did go together in batches, and the checks above hold for them too.
    expect(batchedTogether).toBeGreaterThan(0);
    expect(claims.length).toBeGreaterThan(JOBS); // stalled jobs were claimed again
  }, 180_000);
});
