// The worker walk-through of docs/workers.md, run as written: the service, `npm run worker:example`,
// and the client's shell block taken from docs/workers.md (only the service's address changes,
// from localhost:3000 to the port this test's service listens on).
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { tempDir } from "../helpers/server.js";

const run = promisify(execFile);

function clientBlock(): string {
  const readme = readFileSync("docs/workers.md", "utf8");
  const at = readme.indexOf("<!-- walkthrough:client -->");
  expect(at, "docs/workers.md has the walk-through's client block").toBeGreaterThan(0);
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  return m![1]!;
}

describe("README worker walk-through", () => {
  let server: ServerProcess | undefined;
  afterAll(() => server?.child.kill("SIGKILL"));

  it("a job created with curl is taken by the example worker, progresses and finishes", async () => {
    server = await spawnServer({ DATABASE_URL: `sqlite:${tempDir()}/jobs.db`, LOG_LEVEL: "warn" });
    const worker = spawn("npm", ["run", "-s", "worker:example"], { env: { ...process.env, API_URL: server.url }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let workerOut = "";
    worker.stdout!.on("data", (c) => (workerOut += c));
    worker.stderr!.on("data", (c) => (workerOut += c));
    try {
      for (let i = 0; i < 600 && !workerOut.includes("waiting for jobs"); i++) await new Promise((r) => setTimeout(r, 50));
      expect(workerOut, "the example worker started").toContain("waiting for jobs");
      const script = clientBlock().replaceAll("localhost:3000", new URL(server.url).host);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { timeout: 60_000 });
      const [running, result] = stdout.trim().split("\n");
      // Taken by the worker within the script's first second (its progress shows in the worker's output below).
      expect(JSON.parse(running!)).toMatchObject({ status: "IN PROGRESS", name: "report", attempts: 1 });
      expect(JSON.parse(result!)).toMatchObject({ steps: 5, by: expect.stringMatching(/^example-worker:\d+$/) });
      await new Promise((r) => setTimeout(r, 200));
      expect(workerOut).toMatch(/took \S+ "report" attempt 1\/3/);
      expect(workerOut).toMatch(/##########\s+100%/);
      expect(workerOut).toMatch(/ SUCCESS/);
    } finally {
      // SIGTERM, as a user's Ctrl-C would: the worker stops gracefully.
      process.kill(-worker.pid!, "SIGTERM");
      // `close`: every process holding its output (npm, tsx, the worker) has ended.
      await new Promise((r) => worker.once("close", r));
    }
    expect(workerOut).toMatch(/\[worker\] stopped/);
  }, 90_000);
});

describe("README curl walk-through", () => {
  let server: ServerProcess | undefined;
  afterAll(() => server?.child.kill("SIGKILL"));

  it("runs as written against a fresh service: every answer as the README says, the scheduled job and the dependency among them", async () => {
    server = await spawnServer({ DATABASE_URL: `sqlite:${tempDir()}/jobs.db`, LOG_LEVEL: "warn" });
    const readme = readFileSync("README.md", "utf8");
    const at = readme.indexOf("<!-- walkthrough:curl -->");
    expect(at, "the README has the curl walk-through").toBeGreaterThan(0);
    const script = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1]!.replaceAll("localhost:3000", new URL(server.url).host);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { timeout: 60_000 });
    expect(stdout).toMatch(/HTTP\/1\.1 202 Accepted/);
    expect(stdout).toMatch(/HTTP\/1\.1 303 See Other/);
    // The recurring job: its schedule, due at 02:00 in Paris.
    const schedule = JSON.parse(/\{"id":"sch_[^\n]*?"created":"[^"]+"\}/.exec(stdout)![0]);
    expect(schedule).toMatchObject({ cron: "0 2 * * *", timezone: "Europe/Paris", job: { name: "nightly-report" }, paused: false });
    expect(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Paris", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(schedule.nextRunAt))).toBe("02:00");
    // The dependency: "load" waits for "extract".
    const load = (await (await fetch(`${server.url}/admin/jobs?name=load`)).json()) as { jobs: { dependsOn: string[]; waitingFor: number; status: string }[] };
    const extract = (await (await fetch(`${server.url}/admin/jobs?name=extract`)).json()) as { jobs: { id: string }[] };
    expect(load.jobs).toEqual([expect.objectContaining({ status: "IN PROGRESS", dependsOn: [extract.jobs[0]!.id], waitingFor: 1 })]);
    // The job to run later.
    const later = (await (await fetch(`${server.url}/admin/jobs?name=report&status=IN%20PROGRESS`)).json()) as { jobs: { runAt?: string }[] };
    expect(later.jobs.some((j) => j.runAt !== undefined && Date.parse(j.runAt) > Date.now() + 3500_000)).toBe(true);
  }, 60_000);
});
