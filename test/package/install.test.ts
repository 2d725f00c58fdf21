// ramlgen as a new user gets it, following the README's "ramlgen in your project": its shell
// block and the files it shows are taken from README.md and run as they are written, in an
// empty project, with only these changes: the repository's path for /path/to/this/repository,
// `npm pack --ignore-scripts` (generator/dist/ is built here first, and other test files read
// it meanwhile), a free port for 8080, and npm told to prefer its cache. Then what a user does
// next: generate again (the parse is reused), send a bad request, and use the client side alone.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/free-port.js";

const root = path.resolve(".");
const fixture = path.join(root, "test/fixtures/own-project");
const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8")).packages as Record<string, { version: string }>;
const pinned = (name: string) => `${name}@${lock[`node_modules/${name}`]!.version}`;
const ENV = { ...process.env, npm_config_update_notifier: "false", npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_loglevel: "error" };

let work: string;
let project: string;
let server: ChildProcess | undefined;
let serverUrl: string | undefined;

/** The README's walk-through: its shell block, and the files it shows (path -> text). */
function walkthrough(): { script: string; files: Map<string, string> } {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const block = (at: number) => /```\w*\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
  const start = readme.indexOf("<!-- walkthrough:own-project -->");
  expect(start, "README.md has the walk-through's shell block").toBeGreaterThan(0);
  const files = new Map<string, string>();
  for (const m of readme.matchAll(/<!-- file: (\S+) -->/g)) files.set(m[1]!, block(m.index!));
  return { script: block(start), files };
}

/** Runs a command; its standard output, or an error with both streams and the exit code. */
function sh(command: string, cwd: string): string {
  try {
    return execFileSync("bash", ["-c", command], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: ENV });
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    throw new Error(`${command} exited ${err.status}\n${err.stdout}\n${err.stderr}`);
  }
}

/** Runs a command and returns what it printed on both streams. */
const run = (command: string, cwd: string) => sh(`${command} 2>&1`, cwd);

async function startServer(cwd: string): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], { cwd, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  server = child;
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/listening on \d+/.test(out)) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "ramlgen-user-"));
  project = path.join(work, "books");
  mkdirSync(project);
  // generator/dist is built by npm ci (and here if a source changed since).
  execFileSync(process.execPath, ["-e", 'import("./scripts/prepare.js").then((m) => m.build({ project: "generator" }))'], { cwd: root, stdio: "ignore" });
}, 120_000);

afterAll(() => {
  if (server?.pid) {
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

describe("ramlgen in someone else's project, as the README walks through it", () => {
  let output = "";

  it("runs the README's walk-through as written: generate, install what it names, type-check, serve, call, check", async () => {
    const { script, files } = walkthrough();
    expect([...files.keys()].sort()).toEqual(["api.raml", "src/call.ts", "src/server.ts", "tsconfig.json"]);
    // Every file the shell block says to write is shown.
    const toWrite = /# write ([^(]+) \(below\)/.exec(script)![1]!.split(/,\s*|\s+and\s+/).map((f) => f.trim());
    expect(toWrite.sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) {
      mkdirSync(path.dirname(path.join(project, name)), { recursive: true });
      writeFileSync(path.join(project, name), text);
    }
    const port = String(await freePort());
    const steps = script
      .replaceAll("/path/to/this/repository", root)
      .replace("npm pack ", "npm pack --ignore-scripts ")
      .replaceAll("8080", port)
      // The versions this repository's lockfile has, so that npm finds them in its cache.
      .replace("typescript tsx @types/node", `${pinned("typescript")} ${pinned("tsx")} ${pinned("@types/node")}`);
    // Detached, so that the server the script starts in the background is stopped with it.
    output = await new Promise<string>((resolve, reject) => {
      const child = spawn("bash", ["-euo", "pipefail", "-c", steps], { cwd: project, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c));
      child.stderr.on("data", (c: Buffer) => (out += c));
      const timer = setTimeout(() => (process.kill(-child.pid!, "SIGKILL"), reject(new Error(`the walk-through did not end:\n${out}`))), 240_000);
      child.once("close", (code) => {
        clearTimeout(timer);
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // nothing left
        }
        if (code === 0) resolve(out);
        else reject(new Error(`the walk-through exited ${code}:\n${out}`));
      });
    });
    expect(output).toMatch(/^added \/api\/v1\/books\/b1 Dune$/m);
    expect(output).toMatch(/^found Dune$/m);
    expect(output).toMatch(/^missing no such book$/m);
    expect(output).toMatch(/generated is up to date|src\/generated is up to date/);
  }, 300_000);

  it("installs the packages generate named, and only those: the README's install lines are what it said", () => {
    const said = /the server side \(index\.ts\) needs: (.+)$/m.exec(output)![1]!.split(" ");
    const typesSaid = /to type-check it: (.+)$/m.exec(output)![1]!.split(" ").filter((p) => !p.startsWith("@types/node"));
    const { script } = walkthrough();
    const installed = /^npm install (ajv[^\n#]*)/m.exec(script)![1]!.trim().split(/\s+/);
    const installedTypes = /^npm install -D (@types\/negotiator[^\n#]*)/m.exec(script)![1]!.trim().split(/\s+/);
    expect(installed.sort()).toEqual(said.sort());
    expect(installedTypes.sort()).toEqual(typesSaid.sort());
    expect(output).toContain("the client side (client.ts) needs: nothing but fetch");
  });

  it("installed from the packed tarball: compiled JavaScript, none of the service's dependencies, its own version", () => {
    const installed = readdirSync(path.join(project, "node_modules"));
    for (const name of ["better-sqlite3", "pg", "pino", "express", "prom-client"]) expect(installed, name).not.toContain(name);
    const version = JSON.parse(readFileSync(path.join(root, "generator/package.json"), "utf8")).version;
    expect(sh("npx ramlgen --version", project).trim()).toBe(version);
    expect(existsSync(path.join(project, "node_modules/ramlgen/dist/cli/cli.js"))).toBe(true);
    expect(readdirSync(path.join(project, "node_modules/ramlgen")).filter((f) => f.endsWith(".ts"))).toEqual([]);
  });

  it("generates again without a warning, reusing the first run's parse", () => {
    const second = run("npx ramlgen generate api.raml --out src/generated", project);
    expect(second).not.toContain("warning");
    expect(second).toContain("(0 written, 0 removed; spec unchanged, its parse reused)");
    expect(readdirSync(path.join(project, "node_modules/.cache/ramlgen"))).toHaveLength(1);
  });

  it("type-checks under the strict settings the README shows, and answers a bad request with the fields at fault", async () => {
    const config = JSON.parse(readFileSync(path.join(project, "tsconfig.json"), "utf8")).compilerOptions;
    for (const flag of ["strict", "noUncheckedIndexedAccess", "exactOptionalPropertyTypes", "noPropertyAccessFromIndexSignature", "noImplicitOverride", "noUnusedLocals", "noUnusedParameters", "verbatimModuleSyntax", "isolatedModules"]) {
      expect(config[flag], flag).toBe(true);
    }
    const url = (serverUrl = await startServer(project));
    const bad = await fetch(`${url}/api/v1/books`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"id":"x"}' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await bad.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field)).toEqual(["body/title", "body/author"]);
  }, 60_000);

  it("the client side alone type-checks and runs without express, ajv or Node's types", async () => {
    const client = path.join(work, "client-only");
    mkdirSync(path.join(client, "src/generated"), { recursive: true });
    writeFileSync(path.join(client, "package.json"), JSON.stringify({ name: "client-only", private: true, type: "module" }));
    for (const f of ["client.ts", "client-runtime.ts", "messages.ts", "types.ts"]) cpSync(path.join(project, "src/generated", f), path.join(client, "src/generated", f));
    cpSync(path.join(fixture, "client-only/tsconfig.json"), path.join(client, "tsconfig.json"));
    cpSync(path.join(fixture, "client-only/call.ts"), path.join(client, "src/call.ts"));
    serverUrl ??= await startServer(project);
    writeFileSync(path.join(client, "src/url.ts"), `export const url = ${JSON.stringify(serverUrl)};\n`);
    expect(existsSync(path.join(client, "node_modules"))).toBe(false);
    sh(`node ${JSON.stringify(path.join(project, "node_modules/typescript/bin/tsc"))} -p .`, client);
    const out = sh("node dist/call.js", client);
    expect(out.trim().split("\n")).toEqual(["added /api/v1/books/b1 Dune", "found Dune", "missing no such book", "listed 1"]);
  }, 120_000);

  it("the job API's client side (generated client, waitForJob, the worker SDK) type-checks in a project with nothing but @types/node", () => {
    const job = path.join(work, "job-client");
    mkdirSync(path.join(job, "generated"), { recursive: true });
    mkdirSync(path.join(job, "src/client"), { recursive: true });
    writeFileSync(path.join(job, "package.json"), JSON.stringify({ name: "job-client", private: true, type: "module" }));
    for (const f of ["client.ts", "client-runtime.ts", "messages.ts", "types.ts"]) cpSync(path.join(root, "generated", f), path.join(job, "generated", f));
    for (const f of ["wait-for-job.ts", "worker.ts", "outcomes.ts"]) cpSync(path.join(root, "src/client", f), path.join(job, "src/client", f));
    // The user's strict settings; Node's types from the books project (the worker names itself after the host).
    const config = JSON.parse(readFileSync(path.join(fixture, "client-only/tsconfig.json"), "utf8"));
    config.compilerOptions.types = ["node"];
    config.compilerOptions.typeRoots = [path.join(project, "node_modules/@types")];
    config.compilerOptions.rootDir = ".";
    config.include = ["src", "generated"];
    writeFileSync(path.join(job, "tsconfig.json"), JSON.stringify(config));
    sh(`node ${JSON.stringify(path.join(project, "node_modules/typescript/bin/tsc"))} -p .`, job);
    expect(existsSync(path.join(job, "node_modules"))).toBe(false);
    expect(existsSync(path.join(job, "dist/src/client/worker.js"))).toBe(true);
  });
});
