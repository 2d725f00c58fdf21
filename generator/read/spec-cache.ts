// The parsed spec kept on disk between runs. Loading raml-1-parser and parsing are most of a
// run (about 0.9 s of 1.1 s for this repository's spec), and most runs (`generate` after an
// edit to a handler, `check` before a commit) parse a spec that has not changed.
//
// Stale output from a code generator is worse than slow output, so an entry is reused only when
// everything the parse read is as it was: every file the parser asked for through its file
// resolver (the spec, its !includes, libraries, the API an overlay extends, JSON Schema files
// reached by $ref), each with a hash of its bytes or the fact that it was absent; the code
// that made the entry (a hash of this folder's modules) and the parser's version; the spec's
// path and the working folder (messages name files relative to it). A parse that fetched a
// remote include is never kept: a URL's content cannot be checked without fetching it.
// Entries live in the nearest node_modules/.cache/ramlgen (as other tools' caches do), or in
// RAMLGEN_CACHE_DIR; without either, nothing is kept. One entry per spec and working folder,
// the MAX_ENTRIES most recently used kept.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { makeDir } from "../make-dir.js";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** What a parse may read, handed to the parser so that every read is seen. */
export interface SpecInputs {
  /** A file's text, or null when it cannot be read. */
  read(file: string): string | null;
  /** A folder's entries. */
  list(dir: string): string[];
  /** Said before a URL is fetched: the parse then depends on something no hash can check. */
  remote(url: string): void;
}

interface Entry {
  format: number;
  code: string;
  spec: string;
  cwd: string;
  /** [absolute path, sha256 of its bytes (a folder: of its entries), or null when absent]. */
  inputs: [string, string | null][];
  value: unknown;
}

const FORMAT = 1;
/** Entries kept per cache folder (one per spec and working folder); the least recently used go first. */
export const MAX_ENTRIES = 64;

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

function fileHash(file: string): string | null {
  try {
    return sha(readFileSync(file));
  } catch {
    return null;
  }
}

function listHash(dir: string): string | null {
  try {
    return sha(`dir\n${readdirSync(dir).sort().join("\n")}`);
  } catch {
    return null;
  }
}

let codeHash: string | undefined;
/**
 * The reading stage's modules (this folder, which makes the parsed spec: compiled in dist/, or
 * the TypeScript sources) and the versions of the parser and of the packages it is made of
 * (its dependencies, and theirs where they are RAML packages too: raml-typesystem checks the
 * examples, for one), which a reinstall may update within their ranges while the parser's own
 * version stays.
 */
function code(): string {
  if (codeHash) return codeHash;
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const h = createHash("sha256");
  for (const name of readdirSync(dir).filter((n) => /\.(js|ts)$/.test(n) && !n.endsWith(".d.ts")).sort()) {
    h.update(`${name}\n`).update(readFileSync(path.join(dir, name))).update("\n");
  }
  const seen = new Set<string>();
  const visit = (name: string, from: NodeJS.Require) => {
    let manifest: string;
    try {
      manifest = from.resolve(`${name}/package.json`);
    } catch {
      return; // not resolvable this way (an "exports" map): its dependant's version stands for it
    }
    if (seen.has(manifest)) return;
    seen.add(manifest);
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { version: string; dependencies?: Record<string, string> };
    h.update(`${name}@${pkg.version}\n`);
    if (name === "raml-1-parser" || name.startsWith("raml-")) {
      for (const dep of Object.keys(pkg.dependencies ?? {}).sort()) visit(dep, createRequire(manifest));
    }
  };
  visit("raml-1-parser", createRequire(import.meta.url));
  return (codeHash = h.digest("hex"));
}

/** The cache folder: RAMLGEN_CACHE_DIR, else node_modules/.cache/ramlgen in the working folder or the nearest above it. */
export function cacheDir(): string | undefined {
  const env = process.env["RAMLGEN_CACHE_DIR"];
  if (env) return path.resolve(env);
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    try {
      if (statSync(path.join(dir, "node_modules")).isDirectory()) return path.join(dir, "node_modules", ".cache", "ramlgen");
    } catch {
      // none here: look higher
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

export type CacheUse = "hit" | "miss" | "off";

/**
 * `parse(inputs)`'s value for `specPath`, from the cache when every input is unchanged, else
 * parsed and kept. The value goes through JSON either way, so a run gets the same data whether
 * it parsed or not. Errors thrown by `parse` are not kept (the next run parses again).
 */
export function cachedParse<T>(specPath: string, parse: (inputs: SpecInputs) => T, options: { cache: boolean }): { value: T; use: CacheUse; files: string[] } {
  const dir = options.cache ? cacheDir() : undefined;
  const spec = path.resolve(specPath);
  const cwd = process.cwd();
  const file = dir && path.join(dir, `${sha(`${spec}\n${cwd}`).slice(0, 32)}.json`);
  if (file) {
    const kept = readEntry(file);
    if (kept && kept.format === FORMAT && kept.spec === spec && kept.cwd === cwd && kept.code === code() && kept.inputs.every(([p, h]) => (h?.startsWith("dir:") ? `dir:${listHash(p)}` : fileHash(p)) === h)) {
      touch(file);
      return { value: kept.value as T, use: "hit", files: filesOf(kept.inputs) };
    }
  }
  const inputs = new Map<string, string | null>();
  let remote = false;
  const value = parse({
    read(p) {
      const abs = path.resolve(p);
      let bytes: Buffer | null;
      try {
        bytes = readFileSync(abs);
      } catch {
        bytes = null;
      }
      if (!inputs.has(abs)) inputs.set(abs, bytes && sha(bytes));
      return bytes && bytes.toString();
    },
    list(p) {
      const abs = path.resolve(p);
      if (!inputs.has(abs)) inputs.set(abs, `dir:${listHash(abs)}`);
      return readdirSync(abs);
    },
    remote() {
      remote = true;
    },
  });
  const text = JSON.stringify(value);
  const read = [...inputs].sort(([a], [b]) => (a < b ? -1 : 1));
  if (file && !remote) {
    const entry: Entry = { format: FORMAT, code: code(), spec, cwd, inputs: read, value: null };
    writeEntry(file, JSON.stringify(entry).replace(/"value":null}$/, `"value":${text}}`));
  }
  return { value: JSON.parse(text) as T, use: file && !remote ? "miss" : "off", files: filesOf(read) };
}

/** The files a parse read (not folders it listed), present or not: what `--watch` watches. */
const filesOf = (inputs: [string, string | null][]) => inputs.filter(([, h]) => !h?.startsWith("dir:")).map(([p]) => p);

function readEntry(file: string): Entry | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Entry;
  } catch {
    // Absent, or cut short: parse as if there were none.
    return undefined;
  }
}

function writeEntry(file: string, text: string): void {
  try {
    makeDir(path.dirname(file));
    // Written beside and renamed over: a run reading at the same moment sees the old entry or the new one, whole.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    prune(path.dirname(file));
  } catch {
    // A read-only or full disk: the next run parses again, nothing worse.
  }
}

/** Marks an entry as used (its modification time is what pruning goes by). */
function touch(file: string): void {
  try {
    const now = new Date();
    utimesSync(file, now, now);
  } catch {
    // Read-only: the entry may be pruned sooner, nothing worse.
  }
}

/**
 * Keeps the MAX_ENTRIES most recently used entries (a project that generates from many specs,
 * or from many folders, would otherwise add entries for ever), and removes what a run that
 * died while writing left behind.
 */
function prune(dir: string): void {
  const entries: { file: string; used: number }[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      const used = statSync(file).mtimeMs;
      if (name.endsWith(".tmp")) {
        if (Date.now() - used > 3_600_000) unlinkSync(file);
      } else if (name.endsWith(".json")) entries.push({ file, used });
    } catch {
      // Removed meanwhile by another run.
    }
  }
  entries.sort((a, b) => b.used - a.used);
  for (const { file } of entries.slice(MAX_ENTRIES)) {
    try {
      unlinkSync(file);
    } catch {
      // Removed meanwhile by another run.
    }
  }
}
