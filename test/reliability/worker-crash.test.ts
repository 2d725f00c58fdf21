// A worker process killed with SIGKILL while it holds jobs: nothing tells the service, yet
// its jobs are taken again once their leases run out and finished by the other workers.
// The doomed worker is the example worker (`npm run worker:example`) in a process of its own.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runWorker } from "../../src/client/worker.js";
import { call } from "../helpers/http.js";
import { startTestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const LEASE_SECONDS = 5;

describe.each(STORE_KINDS)("a worker killed with SIGKILL on %s", (kind) => {
  it("its jobs are claimed again after their lease and finished by the others", async () => {
    const s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind) });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await call("POST", `${s.url}/resources`, { body: { name: "crash-me", input: { steps: 100, stepMs: 300 } } })).json.id);
      const doomed = spawn(process.execPath, ["--import", "tsx", path.resolve("examples/worker.ts")], {
        env: { ...process.env, API_URL: s.url, WORKER_NAMES: "crash-me", WORKER_CONCURRENCY: "4", WORKER_LEASE_SECONDS: String(LEASE_SECONDS) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      doomed.stdout!.on("data", (c) => (out += c));
      doomed.stderr!.on("data", (c) => (out += c));
      const exited = new Promise((r) => doomed.once("exit", r));
      // Wait until it holds four jobs and has reported some progress on them.
      const t0 = Date.now();
      let held: string[] = [];
      while (Date.now() - t0 < 20_000) {
        const jobs = await Promise.all(ids.map(async (id) => (await call("GET", `${s.url}/resources/${id}`)).json));
        held = jobs.filter((j) => j.attempts === 1 && j.progress > 0).map((j) => j.id);
        if (held.length === 4) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(held, out).toHaveLength(4);
      doomed.kill("SIGKILL");
      await exited;
      const killedAt = Date.now();

      const retakenAfter = new Map<string, number>();
      const healthy = runWorker({
        baseUrl: s.url,
        names: ["crash-me"],
        concurrency: 6,
        pollSeconds: 2,
        handleSignals: false,
        handler: (task) => {
          if (task.attempt > 1) retakenAfter.set(task.id, Date.now() - killedAt);
          return `finished by the survivor, attempt ${task.attempt}`;
        },
      });
      try {
        const until = Date.now() + 20_000;
        let jobs: { id: string; status: string; attempts: number; result?: string }[] = [];
        while (Date.now() < until) {
          jobs = await Promise.all(ids.map(async (id) => (await call("GET", `${s.url}/resources/${id}`)).json));
          if (jobs.every((j) => j.status === "SUCCESS")) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        for (const j of jobs) {
          const wasHeld = held.includes(j.id);
          expect(j).toMatchObject({ status: "SUCCESS", attempts: wasHeld ? 2 : 1, result: `finished by the survivor, attempt ${wasHeld ? 2 : 1}` });
        }
        // Not before the dead worker's lease ran out (it was last extended at most a third of a lease before the kill).
        expect(retakenAfter.size).toBe(4);
        for (const ms of retakenAfter.values()) expect(ms).toBeGreaterThanOrEqual(((LEASE_SECONDS * 2) / 3) * 1000 - 200);
      } finally {
        await healthy.stop();
      }
      expect(s.invalidResponses).toEqual([]);
    } finally {
      await s.close();
    }
  }, 60_000);
});
