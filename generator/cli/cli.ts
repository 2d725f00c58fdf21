// ramlgen: the command line. Exit codes: 0 success, 1 drift (check), 2 invalid spec or usage,
// 3 internal error (a bug in ramlgen: no stack trace unless RAMLGEN_DEBUG is set).
import path from "node:path";
import { Command, CommanderError } from "commander";
import { formatDiagnostic, SpecError, type Diagnostic } from "../diagnostics.js";
import { compareOutput, writeOutput } from "./files.js";
import { generate } from "../generate.js";
import { specFiles } from "../read/deps.js";
import { loadModel } from "../generate.js";
import { openApiDocument } from "../emit/openapi.js";
import { packageManifest, toPosix } from "../home.js";
import { checkNeeds, describeNeeds, runtimeNeeds } from "./needs.js";
import { writeFileSync } from "node:fs";
import { makeDir } from "../make-dir.js";

export const EXIT = { ok: 0, drift: 1, invalid: 2, internal: 3 } as const;

/** A command line that cannot be carried out as given: said in one line, exit 2. */
export class UsageError extends Error {}

/** Runs a write to where an option points; a place that cannot be written is a usage error naming the option. */
function writingTo<T>(option: string, where: string, write: () => T): T {
  try {
    return write();
  } catch (e) {
    const { code, path: at } = e as { code?: string; path?: string };
    if (!code) throw e;
    throw new UsageError(`${option} ${where}: cannot write there (${code}${at ? ` on ${at}` : ""}); choose a folder this user may write`);
  }
}

/** Why a server could not listen, as the option to change. */
function listenLine(e: unknown, port: string, host: string): string | undefined {
  const code = (e as { code?: string }).code;
  if (code === "EADDRINUSE") return `--port ${port}: ${host}:${port} is already in use by another process; choose another with --port`;
  if (code === "EACCES") return `--port ${port}: this user may not listen on ${host}:${port} (ports below 1024 need privileges); choose another with --port`;
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") return `--host ${host}: this machine has no such address; use 127.0.0.1 or 0.0.0.0`;
  return undefined;
}

interface CommonOptions {
  out: string;
  strict?: boolean | undefined;
  /** false with --no-cache. */
  cache?: boolean | undefined;
}

const CACHE_HELP = "parse the spec even when nothing it is read from changed since the last run (RAMLGEN_CACHE_DIR: where the parse is kept; docs/ramlgen.md)";
const cacheNote = (use: string) => (use === "hit" ? "; spec unchanged, its parse reused" : "");

function reportWarnings(warnings: Diagnostic[], strict: boolean | undefined): void {
  for (const w of warnings) console.error(formatDiagnostic(w));
  if (strict && warnings.length) throw new SpecError(warnings.map((w) => ({ ...w, warning: false })));
}

/** Generates and writes; returns the files the spec was read from. */
function runGenerate(spec: string, opts: CommonOptions): string[] {
  const out = path.resolve(opts.out);
  const { files, warnings, cache, sources } = generate(path.resolve(spec), out, { cache: opts.cache !== false });
  reportWarnings(warnings, opts.strict);
  const { written, removed } = writingTo("--out", opts.out, () => writeOutput(out, files));
  const label = path.relative(process.cwd(), out) || ".";
  console.log(`ramlgen: ${files.size} files in ${label} (${written.length} written, ${removed.length} removed${cacheNote(cache)})`);
  const needs = runtimeNeeds(files);
  for (const line of describeNeeds(needs)) console.log(line);
  for (const line of checkNeeds(needs, out)) console.error(line);
  return sources;
}

function runCheck(spec: string, opts: CommonOptions): number {
  const out = path.resolve(opts.out);
  const { files, warnings, cache } = generate(path.resolve(spec), out, { cache: opts.cache !== false });
  reportWarnings(warnings, opts.strict);
  const drift = compareOutput(out, files);
  const label = path.relative(process.cwd(), out) || ".";
  const lines = [
    ...drift.stale.map((f) => `stale:   ${label}/${f}`),
    ...drift.missing.map((f) => `missing: ${label}/${f}`),
    ...drift.extra.map((f) => `extra:   ${label}/${f}`),
  ];
  if (lines.length) {
    console.error(`ramlgen: ${label} is out of date with ${spec}; run npx ramlgen generate ${spec} --out ${label}`);
    for (const l of lines) console.error(l);
    return EXIT.drift;
  }
  console.log(`ramlgen: ${label} is up to date (${files.size} files${cacheNote(cache)})`);
  return EXIT.ok;
}

async function watch(spec: string, opts: CommonOptions): Promise<void> {
  const { watch: chokidar } = await import("chokidar");
  // The files the parser read (JSON Schema files reached by $ref among them) and, for a spec
  // that failed before the parser read them all, its includes as a scan of its text finds them.
  // After a failure the files read last time stay watched: the fix may be in any of them.
  let read: string[] = [];
  const once = () => {
    try {
      read = runGenerate(spec, opts);
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      console.error(e.message);
    }
    return [...new Set([...read, ...specFiles(path.resolve(spec))])].sort();
  };
  let files = once();
  const watcher = chokidar(files, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 } });
  let timer: NodeJS.Timeout | undefined;
  watcher.on("all", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const next = once();
      // Includes may have been added or removed.
      watcher.unwatch(files.filter((f) => !next.includes(f)));
      watcher.add(next.filter((f) => !files.includes(f)));
      files = next;
    }, 30);
  });
  // Said only once the watcher is ready: a change made before that would not be seen, so a
  // user (or a script) who edits the spec on reading this line must be able to count on it.
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  console.log(`ramlgen: watching ${files.length} file(s); Ctrl-C to stop`);
}

export function program(): Command {
  const p = new Command("ramlgen")
    .description("Generate a typed router, client, types, validators, a mock, HTML docs and OpenAPI from a RAML 1.0 or 0.8 spec.")
    .version(packageManifest().version, "-V, --version", "print the version of ramlgen")
    .addHelpText(
      "after",
      "\nExit codes:\n  0  success\n  1  generated files are out of date (check)\n  2  invalid spec or usage\n  3  internal error (a bug in ramlgen)\n",
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  p.command("generate")
    .description("write generated code for the spec into the output folder")
    .argument("[spec]", "RAML spec", "spec/api.raml")
    .option("-o, --out <dir>", "output folder", "generated")
    .option("--strict", "treat warnings as errors")
    .option("-w, --watch", "regenerate whenever the spec or a file it includes changes")
    .option("--no-cache", CACHE_HELP)
    .action(async (spec: string, opts: CommonOptions & { watch?: boolean }) => {
      if (opts.watch) await watch(spec, opts);
      else runGenerate(spec, opts);
    });
  p.command("check")
    .description("regenerate in memory and compare with the output folder; exit 1 when it is out of date")
    .argument("[spec]", "RAML spec", "spec/api.raml")
    .option("-o, --out <dir>", "output folder", "generated")
    .option("--strict", "treat warnings as errors")
    .option("--no-cache", CACHE_HELP)
    .action((spec: string, opts: CommonOptions) => {
      process.exitCode = runCheck(spec, opts);
    });
  p.command("mock")
    .description("serve the spec before any handler exists: collections and jobs kept as the real service would, examples first, then plausible data")
    .argument("[spec]", "RAML spec", "spec/api.raml")
    .option("-p, --port <port>", "port", "4010")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--advance-after <ms>", "jobs succeed by themselves after this many ms (default: only when their callback is called)", "0")
    .option("--cors <on|off>", "answer CORS for browsers on other origins (preflights from the spec)", "on")
    .option("--quiet", "no line per request")
    .option("--state <file>", "keep the mock's state in this JSON file across restarts (POST /__mock/reset starts over)")
    .option("--no-cache", CACHE_HELP)
    .action(async (spec: string, opts: { port: string; host: string; advanceAfter: string; cors: string; quiet?: boolean; state?: string; cache: boolean }) => {
      if (!/^\d{1,5}$/.test(opts.port) || Number(opts.port) > 65535) throw new UsageError(`--port ${opts.port}: a port is a number from 0 to 65535`);
      if (opts.cors !== "on" && opts.cors !== "off") throw new UsageError(`--cors ${opts.cors}: on or off`);
      const { model, validators, warnings } = loadModel(path.resolve(spec), { cache: opts.cache });
      reportWarnings(warnings, false);
      const { startMock } = await import("../mock/mock.js");
      let mock: Awaited<ReturnType<typeof startMock>>;
      try {
        mock = await startMock(model, validators, {
          port: Number(opts.port),
          host: opts.host,
          advanceAfterMs: Number(opts.advanceAfter),
          cors: opts.cors === "on",
          log: opts.quiet ? () => {} : undefined,
          state: opts.state === undefined ? undefined : path.resolve(opts.state),
        });
      } catch (e) {
        throw new UsageError(listenLine(e, opts.port, opts.host) ?? (e instanceof Error ? e.message : String(e)));
      }
      const kept = opts.state === undefined ? "" : `, state in ${opts.state}`;
      console.log(`ramlgen: mock of ${spec} on ${mock.url}${opts.cors === "on" ? " (CORS on)" : ""}${kept}; POST ${mock.url}/__mock/reset starts over; Ctrl-C to stop`);
    });
  p.command("docs")
    .description("write a static HTML reference of the API (also written by generate, as docs/index.html)")
    .argument("[spec]", "RAML spec", "spec/api.raml")
    .option("-o, --out <dir>", "output folder", "generated/docs")
    .option("--no-cache", CACHE_HELP)
    .action(async (spec: string, opts: { out: string; cache: boolean }) => {
      const { model, warnings } = loadModel(path.resolve(spec), { cache: opts.cache });
      reportWarnings(warnings, false);
      const { renderDocs } = await import("../emit/docs.js");
      const { docsBanner } = await import("../emit/emit.js");
      const label = toPosix(path.relative(process.cwd(), path.resolve(spec)));
      writingTo("--out", opts.out, () => {
        makeDir(opts.out);
        writeFileSync(path.join(opts.out, "index.html"), renderDocs(model, docsBanner(label)));
      });
      console.error(`ramlgen: wrote ${path.join(opts.out, "index.html")}`);
    });
  p.command("openapi")
    .description("write an OpenAPI 3.1 document equivalent to the spec (JSON)")
    .argument("[spec]", "RAML spec", "spec/api.raml")
    .option("-o, --out <file>", "output file (default: standard output)")
    .option("--no-cache", CACHE_HELP)
    .action((spec: string, opts: { out?: string; cache: boolean }) => {
      const { model, warnings } = loadModel(path.resolve(spec), { cache: opts.cache });
      reportWarnings(warnings, false);
      const text = `${JSON.stringify(openApiDocument(model), null, 2)}\n`;
      if (opts.out) {
        writingTo("--out", opts.out, () => writeFileSync(opts.out!, text));
        console.error(`ramlgen: wrote ${opts.out}`);
      } else process.stdout.write(text);
    });
  return p;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof SpecError) {
      console.error(e.message);
      return EXIT.invalid;
    }
    if (e instanceof UsageError) {
      console.error(`ramlgen: ${e.message}`);
      return EXIT.invalid;
    }
    if (e instanceof CommanderError) {
      // --help and --version are not errors.
      return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    // A bug in ramlgen, not in the spec: said plainly, with the stack only when asked for.
    const message = e instanceof Error ? e.message : String(e);
    console.error(`ramlgen: internal error: ${message}`);
    console.error(process.env["RAMLGEN_DEBUG"] ? (e as Error).stack : "This is a bug in ramlgen, not in your spec; RAMLGEN_DEBUG=1 shows where. Please report it with the spec.");
    return EXIT.internal;
  }
}
