// What keeps a program from starting is said in one line that names the setting to change and
// its value, with exit code 2 and no stack frame: the service (a busy port, an address the
// machine lacks, a data folder it cannot make, a database that does not answer, a bad value),
// the mock (a busy port, a bad option) and the example worker (a bad value).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/server.js";

let busy: net.Server;
let busyPort: number;
beforeAll(async () => {
  busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, "0.0.0.0", r));
  busyPort = (busy.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => busy.close(() => r())));

/** Runs a program; its exit code and what it wrote to stderr and stdout. */
function runProgram(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

function oneLine(r: { code: number | null; stderr: string; stdout: string }, names: RegExp): void {
  expect(r.code, r.stderr + r.stdout).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(names);
  expect(r.stderr + r.stdout).not.toMatch(/^\s+at /m);
}

const service = (env: Record<string, string>) => runProgram(["--import", "tsx", path.resolve("src/main.ts")], { PORT: "0", DATABASE_URL: "sqlite::memory:", ...env });

describe("the service refuses to start in one line", () => {
  it("on a busy port", async () => {
    const r = await service({ PORT: String(busyPort) });
    oneLine(r, new RegExp(`^configuration error: PORT=${busyPort}: 0\\.0\\.0\\.0:${busyPort} is already in use by another process; set PORT to a free port$`));
    expect(r.stdout).toBe(""); // nothing said about a service that never ran
  });

  it("on an address the machine does not have", async () => {
    oneLine(await service({ HOST: "10.255.255.1" }), /^configuration error: HOST=10\.255\.255\.1: this machine has no such address/);
  });

  it("on a data folder it cannot make", async () => {
    const file = path.join(tempDir(), "a-file");
    writeFileSync(file, "");
    oneLine(await service({ DATABASE_URL: `sqlite:${file}/jobs.db` }), new RegExp(`^configuration error: DATABASE_URL=sqlite:${file}/jobs\\.db: cannot create or open the database file`));
  });

  // Node's recursive mkdir never returns for a path under /proc (Linux answers ENOENT there):
  // the start used to hang at full CPU, saying nothing.
  it.runIf(process.platform === "linux")("on a data folder under /proc, at once", async () => {
    oneLine(await service({ DATABASE_URL: "sqlite:/proc/ramlgen-nope/jobs.db" }), /^configuration error: DATABASE_URL=sqlite:\/proc\/ramlgen-nope\/jobs\.db: cannot create or open the database file \(ENOENT on \/proc\/ramlgen-nope\)/);
  });

  it("on a PostgreSQL that does not answer, its password not shown", async () => {
    const r = await service({ DATABASE_URL: "postgres://jobs:s3cret@127.0.0.1:1/jobs" });
    oneLine(r, /^configuration error: DATABASE_URL=postgres:\/\/jobs:\*\*\*@127\.0\.0\.1:1\/jobs: PostgreSQL does not answer there \(ECONNREFUSED\)/);
    expect(r.stderr).not.toContain("s3cret");
  });

  it.each([
    ["PORT", "abc", /^configuration error: PORT must be an integer from 0 to 65535, got "abc"$/],
    ["LOG_LEVEL", "loud", /^configuration error: LOG_LEVEL must be one of .*, got "loud"$/],
    ["BODY_LIMIT_BYTES", "-1", /^configuration error: BODY_LIMIT_BYTES must be an integer/],
  ])("on a bad value of %s", async (name, value, says) => {
    oneLine(await service({ [name]: value }), says);
  });
});

describe("the mock refuses to start in one line", () => {
  const mock = (...args: string[]) => runProgram([path.resolve("bin/ramlgen.js"), "mock", "spec/api.raml", ...args], {});

  it("on a busy port", async () => {
    oneLine(await mock("--port", String(busyPort), "--host", "0.0.0.0"), new RegExp(`^ramlgen: --port ${busyPort}: 0\\.0\\.0\\.0:${busyPort} is already in use by another process; choose another with --port$`));
  });

  it("on a port that is not one", async () => {
    oneLine(await mock("--port", "http"), /^ramlgen: --port http: a port is a number from 0 to 65535$/);
  });
});

describe("the example worker refuses to start in one line", () => {
  const worker = (env: Record<string, string>) => runProgram(["--import", "tsx", path.resolve("examples/worker.ts")], env);

  it.each([
    [{ WORKER_CONCURRENCY: "many" }, /^configuration error: WORKER_CONCURRENCY="many": must be a whole number from 1 to 1000$/],
    [{ API_URL: "localhost:3000" }, /^configuration error: API_URL="localhost:3000": must be the service's http:\/\/ or https:\/\/ address$/],
  ])("on %j", async (env, says) => {
    oneLine(await worker(env), says);
  });
});
