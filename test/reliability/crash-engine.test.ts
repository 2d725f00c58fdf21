// Crash safety of the job-engine features: the server is killed with SIGKILL at random moments
// and restarted on the same store while a client creates parents and dependants, a worker takes
// and finishes (or fails) them, a schedule makes a job every second, and a limit holds a name
// to two at once. Invariants: no dependant is handed to a worker before every job it depends on
// has SUCCEEDED (the task's `dependencies` say so at the claim); once quiet, no dependant is left
// waiting for a job that has ended, and one whose parent failed is cancelled; the schedule made
// exactly one job per due time, none missing (the restarts are quicker than its grace); the
// limited name was never held by more than two.
import { afterAll, describe, expect, it } from "vitest";
import { withHeaders } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServer } from "../helpers/process.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

const KILLS = Number(process.env["CRASH_KILLS"] ?? 8);

afterAll(() => dropTestSchemas());

const keys = writeKeys({ "engine-client": "client", "engine-worker": "worker", "engine-admin": "admin" });
const asClient = withHeaders(keys.auth["engine-client"]);
const asWorker = withHeaders(keys.auth["engine-worker"]);
const asAdmin = withHeaders(keys.auth["engine-admin"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Task {
  id: string;
  name: string;
  leaseToken: string;
  leaseExpiresAt: string;
  leaseSeconds: number;
  dependencies?: { id: string; status: string }[];
}

describe.each(STORE_KINDS)("engine features under SIGKILL on %s", (kind) => {
  it(`dependencies, a schedule and a limit survive ${KILLS} kills`, async () => {
    const db = freshDatabaseUrl(kind);
    const env = { DATABASE_URL: db, API_KEYS_FILE: keys.file, LOG_LEVEL: "warn" };
    const children = new Map<string, string[]>(); // dependant -> its parents
    const early: string[] = [];
    const limited: { start: number; end: number }[] = [];
    let scheduleId = "";
    let created = 0;
    for (let k = 0; k < KILLS; k++) {
      const server = await spawnServer(env);
      if (k === 0) {
        expect((await asAdmin("PUT", `${server.url}/admin/limits/name/eng-limited`, { body: { concurrency: 2 } })).status).toBe(200);
        const s = await asClient("POST", `${server.url}/schedules`, { body: { everySeconds: 1, job: { name: "eng-tick" } } });
        expect(s.status).toBe(201);
        scheduleId = s.json.id;
        created = Date.parse(s.json.created);
      }
      let stop = false;
      const client = async () => {
        for (let i = 0; !stop; i++) {
          try {
            const parents: string[] = [];
            for (let p = 0; p < 2; p++) {
              const r = await asClient("POST", `${server.url}/resources`, { body: { name: "eng-parent", maxAttempts: 1 } });
              if (r.status === 202) parents.push(r.json.id);
            }
            if (parents.length) {
              const r = await asClient("POST", `${server.url}/resources`, { body: { name: "eng-child", dependsOn: parents } });
              if (r.status === 202) children.set(r.json.id, parents);
            }
            await asClient("POST", `${server.url}/resources`, { body: { name: "eng-limited" } });
          } catch {
            return; // killed under this request
          }
        }
      };
      const worker = async (n: number) => {
        while (!stop) {
          try {
            const r = await asWorker("POST", `${server.url}/tasks/claim`, { body: { worker: `eng-w${n}`, names: ["eng-parent", "eng-child", "eng-limited"], max: 4, leaseSeconds: 5 } });
            if (r.status !== 200) continue;
            for (const t of r.json.tasks as Task[]) {
              const got = Date.now();
              if (t.name === "eng-child" && !(t.dependencies ?? []).every((d) => d.status === "SUCCESS")) early.push(t.id);
              // Parents fail one time in five: their dependants must then be cancelled.
              const status = t.name === "eng-parent" && Math.random() < 0.2 ? "FAILED" : "SUCCESS";
              if (t.name === "eng-limited") await sleep(20);
              const done = await asWorker("PUT", `${server.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status, ...(status === "FAILED" && { error: { title: "no" } }) } });
              if (t.name === "eng-limited" && done.status === 200) limited.push({ start: got, end: Date.now() });
            }
          } catch {
            return; // killed under this request
          }
        }
      };
      const load = Promise.all([client(), client(), worker(0), worker(1), worker(2)]);
      await sleep(1500 + Math.random() * 1500);
      server.child.kill("SIGKILL");
      stop = true;
      await load;
      await server.exited;
    }

    // Quiet: one server, no workers; then read what the kills left.
    const check = await spawnServer(env);
    try {
      await sleep(1500);
      expect(early).toEqual([]);
      let waiting = 0;
      for (const [child, parents] of children) {
        // Parents first: reading one may end it (a lease run out with no attempt left), which
        // its trigger passes on to the child.
        const ps = await Promise.all(parents.map(async (p) => (await asClient("GET", `${check.url}/resources/${p}`)).json.status as string));
        const job = (await asClient("GET", `${check.url}/resources/${child}`)).json;
        const notEnded = ps.filter((st) => st === "IN PROGRESS").length;
        if (ps.some((st) => st === "FAILED" || st === "CANCELLED")) {
          expect(job.status, child).toBe("CANCELLED");
          expect(job.error?.type, child).toBe("urn:async-api:dependency-failed");
        } else if (job.status === "IN PROGRESS") {
          // Waits for exactly the parents still running, no more.
          expect(job.waitingFor ?? 0, child).toBe(notEnded);
          waiting++;
        } else expect(job.status, child).toBe("SUCCESS");
      }
      // The schedule: one job per due time from the first, none missing.
      const due: number[] = [];
      let next: string | undefined = `/admin/jobs?name=eng-tick&limit=100`;
      while (next) {
        const r = await asAdmin("GET", `${check.url}${next}`);
        for (const j of r.json.jobs as { schedule?: string; scheduledFor?: string }[]) if (j.schedule === scheduleId) due.push(Date.parse(j.scheduledFor!));
        next = r.json.next;
      }
      due.sort((a, b) => a - b);
      expect(new Set(due).size).toBe(due.length);
      expect(due[0]).toBe(created + 1000);
      for (let i = 1; i < due.length; i++) expect(due[i]! - due[i - 1]!).toBe(1000);
      // The limit, as the worker saw its jobs (the server held them longer on both sides).
      const edges = limited.flatMap((l): [number, number][] => [[l.start, 1], [l.end, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      let most = 0;
      for (const [, d] of edges) most = Math.max(most, (now += d));
      console.log(`engine under SIGKILL on ${kind}: kills ${KILLS}, dependants ${children.size} (${waiting} still waiting), scheduled jobs ${due.length}, limited jobs ${limited.length} (at most ${most} at once)`);
      expect(children.size).toBeGreaterThan(KILLS);
      expect(due.length).toBeGreaterThan(KILLS);
      expect(most).toBeLessThanOrEqual(2);
    } finally {
      check.child.kill("SIGKILL");
    }
  }, 300_000);
});
