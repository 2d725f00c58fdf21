// The example worker users copy (examples/worker.ts), as `npm run worker:example` runs it, on a
// 200-step job: no process warning of any kind (a listener added per step and never removed
// gave MaxListenersExceededWarning at the 11th), every step's progress reported, the job done.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({});
});
afterAll(() => s.close());

describe("the example worker", () => {
  it("does a 200-step job with warnings fatal, and stops cleanly", async () => {
    const worker = spawn(process.execPath, ["--require", path.resolve("test/helpers/fatal-warnings.cjs"), "--import", "tsx", path.resolve("examples/worker.ts")], {
      env: { ...process.env, API_URL: s.url, WORKER_CONCURRENCY: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    worker.stdout.on("data", (c: Buffer) => (out += c));
    worker.stderr.on("data", (c: Buffer) => (out += c));
    const exited = new Promise<number | null>((r) => worker.once("exit", r));
    try {
      for (let i = 0; i < 400 && !out.includes("waiting for jobs"); i++) await new Promise((r) => setTimeout(r, 50));
      const id = (await call("POST", `${s.url}/resources`, { body: { name: "long", input: { steps: 200, stepMs: 2 } } })).json.id as string;
      let job: { status: string; result?: { steps: number } } = { status: "IN PROGRESS" };
      for (let i = 0; i < 600 && job.status === "IN PROGRESS"; i++) {
        await new Promise((r) => setTimeout(r, 50));
        job = (await call("GET", `${s.url}/admin/jobs/${id}`)).json;
      }
      expect(job.status, out).toBe("SUCCESS");
      expect(job.result?.steps).toBe(200);
      expect(out).not.toContain("FATAL WARNING");
      expect(out.match(/\[worker\] \S+ [#.]{10}/g)).toHaveLength(200);
    } finally {
      worker.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(out).not.toMatch(/Warning/);
    expect(out).toContain("[worker] stopped");
  }, 60_000);
});
