// ramlgen as a new user gets it: packed, installed from the tarball into an empty project
// (from the local npm cache where it can), run there on a spec of that project's own, its
// output type-checked under the strictest settings, served, and called through the client.
// The README's "Use ramlgen in your own project" is this test's script.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(".");
const fixture = path.join(root, "test/fixtures/own-project");
const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8")).packages as Record<string, { version: string }>;
const pinned = (name: string) => `${name}@${lock[`node_modules/${name}`]!.version}`;
const NPM_FLAGS = "--prefer-offline --no-audit --no-fund --loglevel=error";

let work: string;
let project: string;
let tarball: string;
let server: ChildProcess | undefined;
let serverUrl: string | undefined;

/** Runs a command; its standard output, or an error with both streams and the exit code. */
function sh(command: string, cwd: string): string {
  try {
    return execFileSync("bash", ["-c", command], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    throw new Error(`${command} exited ${err.status}\n${err.stdout}\n${err.stderr}`);
  }
}

/** Runs a command and returns what it printed on both streams. */
const run = (command: string, cwd: string) => sh(`${command} 2>&1`, cwd);

async function startServer(cwd: string): Promise<string> {
  const child = spawn("npx", ["tsx", "src/server.ts"], { cwd, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  server = child;
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "ramlgen-user-"));
  // generator/dist is built by npm ci (and here if a source changed since); packing without
  // its prepack build keeps other test files that run the generator from reading a half-written dist/.
  execFileSync(process.execPath, ["-e", 'import("./scripts/prepare.js").then((m) => m.build({ project: "generator" }))'], { cwd: root, stdio: "ignore" });
  run(`npm pack --ignore-scripts --pack-destination ${JSON.stringify(work)} --loglevel=error`, path.join(root, "generator"));
  const tgz = readdirSync(work).find((f) => /^ramlgen-.*\.tgz$/.test(f));
  if (!tgz) throw new Error("npm pack wrote no tarball");
  tarball = path.join(work, tgz);
  project = path.join(work, "books");
  mkdirSync(project);
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

describe("ramlgen in someone else's project", () => {
  it("installs from the packed tarball without the service's dependencies, and knows its version", () => {
    run("npm init -y >/dev/null && npm pkg set type=module", project);
    sh(`npm install -D ${NPM_FLAGS} ${JSON.stringify(tarball)} ${pinned("typescript")} ${pinned("tsx")} ${pinned("@types/node")}`, project);
    const installed = readdirSync(path.join(project, "node_modules"));
    for (const name of ["better-sqlite3", "pg", "pino", "express", "prom-client"]) expect(installed, name).not.toContain(name);
    const version = JSON.parse(readFileSync(path.join(root, "generator/package.json"), "utf8")).version;
    expect(sh("npx ramlgen --version", project).trim()).toBe(version);
    // Compiled JavaScript only: no TypeScript runner needed at run time.
    expect(existsSync(path.join(project, "node_modules/ramlgen/dist/cli/cli.js"))).toBe(true);
    expect(readdirSync(path.join(project, "node_modules/ramlgen")).filter((f) => f.endsWith(".ts"))).toEqual([]);
  }, 180_000);

  it("generates, says what its output needs, and the npm install it suggests is all that is missing", () => {
    cpSync(path.join(fixture, "api.raml"), path.join(project, "api.raml"));
    const first = run("npx ramlgen generate api.raml --out src/generated", project);
    expect(first).toMatch(/the server side \(index\.ts\) needs: ajv@\^8\S* fast-json-stringify@\S+ negotiator@\S+/);
    expect(first).toContain("the client side (client.ts) needs: nothing but fetch");
    const fixes = [...first.matchAll(/run: (npm install [^\n]+)/g)].map((m) => m[1]!);
    expect(fixes).toHaveLength(2); // run-time packages, and @types/negotiator for type-checking
    for (const fix of fixes) sh(`${fix} ${NPM_FLAGS}`, project);
    expect(first).not.toContain("parse reused");
    const second = run("npx ramlgen generate api.raml --out src/generated", project);
    expect(second).not.toContain("warning");
    // The parse of the first run, kept in the project's node_modules/.cache, is reused.
    expect(second).toContain("(0 written, 0 removed; spec unchanged, its parse reused)");
    expect(readdirSync(path.join(project, "node_modules/.cache/ramlgen"))).toHaveLength(1);
    expect(run("npx ramlgen check api.raml --out src/generated", project)).toContain("is up to date");
  }, 180_000);

  it("type-checks under strict settings, serves the handlers and answers the client", async () => {
    cpSync(path.join(fixture, "tsconfig.json"), path.join(project, "tsconfig.json"));
    cpSync(path.join(fixture, "src"), path.join(project, "src"), { recursive: true });
    const config = JSON.parse(readFileSync(path.join(project, "tsconfig.json"), "utf8")).compilerOptions;
    for (const flag of ["strict", "noUncheckedIndexedAccess", "exactOptionalPropertyTypes", "noPropertyAccessFromIndexSignature", "noImplicitOverride", "noUnusedLocals", "noUnusedParameters", "verbatimModuleSyntax", "isolatedModules"]) {
      expect(config[flag], flag).toBe(true);
    }
    sh("npx tsc -p .", project);
    const url = (serverUrl = await startServer(project));
    const out = sh(`npx tsx src/call.ts ${url}`, project);
    expect(out.trim().split("\n")).toEqual(["added /api/v1/books/b1 Dune", "found Dune", "missing no such book", "listed 1"]);
    const bad = await fetch(`${url}/api/v1/books`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"id":"x"}' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await bad.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field)).toEqual(["body/title", "body/author"]);
  }, 120_000);

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
    for (const f of ["wait-for-job.ts", "worker.ts"]) cpSync(path.join(root, "src/client", f), path.join(job, "src/client", f));
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
