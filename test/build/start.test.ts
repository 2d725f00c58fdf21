// `npm start` builds dist/ only when a source changed (loading the compiler costs about a
// second), then runs the service in the same process. Run in a copy of the project, so that
// the dist/ other tests use is never rebuilt under them.
import { execFile, spawn } from "node:child_process";
import { cpSync, statSync, symlinkSync, utimesSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/free-port.js";
import { tempDir } from "../helpers/server.js";

const run = promisify(execFile);
const root = path.resolve(".");

describe("npm start", () => {
  let dir: string;
  const stamp = () => statSync(path.join(dir, "dist/.built")).mtimeMs;
  const prepare = () => run(process.execPath, ["scripts/prepare.js"], { cwd: dir });

  beforeAll(() => {
    dir = tempDir("start-");
    for (const p of ["src", "generated", "generator", "scripts", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"]) {
      cpSync(path.join(root, p), path.join(dir, p), { recursive: true });
    }
    symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");
  });

  it("builds dist/ once, skips the build while nothing changed, rebuilds after a change", async () => {
    await prepare();
    const first = stamp();
    await prepare();
    expect(stamp()).toBe(first);
    const later = new Date(Date.now() + 2000);
    utimesSync(path.join(dir, "src/main.ts"), later, later);
    await prepare();
    expect(stamp()).toBeGreaterThan(first);
  }, 60_000);

  it("serves the API from the started process, and stops with it on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn("npm", ["start"], {
      cwd: dir,
      env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: `sqlite:${dir}/jobs.db`, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (c) => (out += c));
    child.stderr!.on("data", (c) => (out += c));
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    let status = 0;
    for (let i = 0; i < 400 && status !== 200; i++) {
      status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status, out).toBe(200);
    const created = await fetch(`http://127.0.0.1:${port}/resources`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "nightly-report" }) });
    expect(created.status).toBe(202);
    // npm hands SIGTERM on to the service and then ends by the same signal; what matters is
    // that the service is gone with it, not left running without its parent.
    child.kill("SIGTERM");
    await exited;
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => false, () => true);
      if (!gone) await new Promise((r) => setTimeout(r, 50));
    }
    expect(gone).toBe(true);
  }, 60_000);
});
