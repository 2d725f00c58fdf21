// Generator and start-up speed, whole processes as a user runs them:
//  - `ramlgen generate` on spec/api.raml (parsing, and with the parse of an unchanged spec
//    reused; and --watch regenerating after an edit), and, parsing, on a RAML 0.8 and a RAML 1.0 spec of 128 methods
//    each, and on synthetic specs of 50/100/200 resources (4 operations each), to show growth;
//  - the service from process start, and from `npm start`, to its first answer, beside the
//    floors on this machine: Node doing nothing, npm running a script that does nothing.
// Usage: npm run bench:gen [-- --runs N]
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;
const bin = path.resolve("bin/ramlgen.js");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export function syntheticSpec(resources: number): string {
  const lines = ["#%RAML 1.0", `title: Synthetic ${resources}`, "mediaType: application/json", "types:"];
  for (let i = 0; i < resources; i++) {
    lines.push(
      `  Item${i}:`,
      "    type: object",
      "    additionalProperties: false",
      "    properties:",
      "      id: { type: string, maxLength: 36 }",
      "      name: { type: string, minLength: 1, maxLength: 64 }",
      "      count?: { type: integer, minimum: 0 }",
      "      tags?: string[]",
      "      created: datetime",
      `    example: { id: "a", name: "n${i}", created: "2024-01-01T00:00:00Z" }`,
    );
  }
  for (let i = 0; i < resources; i++) {
    lines.push(
      `/items${i}:`,
      "  get:",
      "    queryParameters:",
      "      limit: { type: integer, minimum: 1, maximum: 100, default: 20 }",
      "    responses:",
      `      200: { body: { application/json: { type: "Item${i}[]" } } }`,
      "  post:",
      `    body: { application/json: { type: Item${i} } }`,
      "    responses:",
      "      201:",
      "        headers: { Location: string }",
      `        body: { application/json: { type: Item${i} } }`,
      "  /{id}:",
      "    get:",
      "      responses:",
      `        200: { body: { application/json: { type: Item${i} } } }`,
      "        404:",
      "    delete:",
      "      responses:",
      "        204:",
    );
  }
  return lines.join("\n") + "\n";
}

/** Whole `ramlgen generate` processes: parsing every time (--no-cache), or with the parse reused (the spec unchanged since a first run). */
function generateMs(spec: string, reuse = false): number {
  const out = mkdtempSync(path.join(os.tmpdir(), "bench-gen-"));
  const args = [bin, "generate", spec, "--out", out, ...(reuse ? [] : ["--no-cache"])];
  if (reuse) execFileSync(process.execPath, args, { stdio: "ignore" });
  return median(Array.from({ length: runs }, () => time(() => execFileSync(process.execPath, args, { stdio: "ignore" }))));
}

/**
 * `ramlgen generate --watch` on a copy of spec/api.raml: from writing an edit of the spec to the
 * regenerated files' summary line, the process already running (its parser loaded and warm).
 * Includes the watcher's own wait for the write to settle (50 ms) and its debounce (30 ms).
 */
async function watchMs(): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-watch-"));
  const spec = path.join(dir, "api.raml");
  const text = readFileSync("spec/api.raml", "utf8");
  writeFileSync(spec, text);
  const child = spawn(process.execPath, [bin, "generate", spec, "--out", path.join(dir, "out"), "--watch", "--no-cache"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (c) => (out += c));
  const until = async (re: RegExp, from: number) => {
    while (!re.test(out.slice(from))) await new Promise((r) => setTimeout(r, 2));
  };
  await until(/watching/, 0);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const from = out.length;
    const t = process.hrtime.bigint();
    // A change the output shows (the docs carry the title), so that every edit regenerates.
    writeFileSync(spec, text.replace(/^title: (.*)$/m, `title: $1 (edit ${i})`));
    await until(/ramlgen: \d+ files in/, from);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  child.kill();
  return median(samples);
}

/** From spawning `cmd` to the service's first answer (/healthz), with a fresh database. */
async function startupMs(cmd: string, args: string[]): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "bench-start-"));
    const t = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATABASE_URL: `sqlite:${dir}/jobs.db` },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const url = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout!.on("data", (c) => {
        out += c;
        const m = /"url":"([^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    const res = await fetch(`${url}/healthz`);
    await res.text();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    // SIGTERM: npm hands it on to the service (SIGKILL would leave the service behind).
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  return median(samples);
}

/** The floors: Node starting and ending, and `npm start` of a script that does nothing. */
function floorsMs(): { node: number; npm: number } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-npm-"));
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "noop", private: true, scripts: { start: "exec node -e 0" } }));
  const node = median(Array.from({ length: runs }, () => time(() => execFileSync(process.execPath, ["-e", "0"]))));
  const npm = median(Array.from({ length: runs }, () => time(() => execFileSync("npm", ["start", "-s"], { cwd: dir, stdio: "ignore" }))));
  return { node, npm };
}

async function main() {
  execFileSync(process.execPath, ["scripts/prepare.js"], { stdio: "inherit" });
  const rows: [string, string][] = [];
  rows.push(["ramlgen generate spec/api.raml, parsing it (--no-cache, or the spec changed)", `${generateMs("spec/api.raml").toFixed(0)} ms`]);
  rows.push(["ramlgen generate spec/api.raml, spec unchanged (its parse reused)", `${generateMs("spec/api.raml", true).toFixed(0)} ms`]);
  rows.push(["ramlgen generate --watch, spec/api.raml edited: write to regenerated", `${(await watchMs()).toFixed(0)} ms`]);
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-specs-"));
  // A RAML 0.8 and a RAML 1.0 spec of the same size, 128 methods each.
  rows.push(["ramlgen generate, RAML 0.8 vendor-sized (test/fixtures/realworld/vendor-08.raml, 128 methods)", `${generateMs("test/fixtures/realworld/vendor-08.raml").toFixed(0)} ms`]);
  const same = path.join(dir, "synthetic-32.raml");
  writeFileSync(same, syntheticSpec(32));
  rows.push(["ramlgen generate, RAML 1.0 synthetic, 32 resources / 128 operations", `${generateMs(same).toFixed(0)} ms`]);
  const sizes: [number, number][] = [];
  for (const n of [50, 100, 200]) {
    const spec = path.join(dir, `synthetic-${n}.raml`);
    writeFileSync(spec, syntheticSpec(n));
    const ms = generateMs(spec);
    sizes.push([n, ms]);
    rows.push([`ramlgen generate, ${n} resources / ${n * 4} operations`, `${ms.toFixed(0)} ms`]);
  }
  const [[n1, t1], , [n3, t3]] = sizes as [[number, number], [number, number], [number, number]];
  rows.push([`growth 50 -> 200 resources (x4 size)`, `x${(t3 / t1).toFixed(2)} time, ${((t3 - t1) / (n3 - n1)).toFixed(1)} ms per resource`]);
  rows.push(["service: process start to first answer (/healthz)", `${(await startupMs(process.execPath, ["dist/src/main.js"])).toFixed(0)} ms`]);
  rows.push(["service: `npm start` to first answer (dist/ up to date)", `${(await startupMs("npm", ["start"])).toFixed(0)} ms`]);
  const floors = floorsMs();
  rows.push(["floor: `node -e 0`", `${floors.node.toFixed(0)} ms`]);
  rows.push(["floor: `npm start` of a script that does nothing", `${floors.npm.toFixed(0)} ms`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nmedian of ${runs} runs, node ${process.version}, ${os.cpus().length} cores`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

if (process.argv[1]?.endsWith("generator.ts")) main().catch((e) => {
  console.error(e);
  process.exit(1);
});
