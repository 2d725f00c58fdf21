// What the generated code needs from npm, read from the generated files themselves (their
// imports and requires), split by side: the server (index.ts, router.ts) and the client
// (client.ts). Versions are the ranges this generator was built and tested with.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { packageManifest } from "../home.js";

export interface Needs {
  /** Packages the server side loads at run time, with the range each needs. */
  server: Map<string, string>;
  /** Packages the client side loads at run time (none: it needs only fetch). */
  client: Map<string, string>;
  /** Type packages the generated TypeScript needs to type-check. */
  types: Map<string, string>;
}

const SPECIFIER = /\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)|\brequire\(\s*"([^"]+)"\s*\)/g;
/** Packages without their own type declarations, and where theirs are. */
const TYPES_OF: Record<string, string> = { negotiator: "@types/negotiator", busboy: "@types/busboy" };

const packageOf = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

/** The modules `entry` loads, transitively, among the generated files: relative and bare specifiers. */
function closure(files: Map<string, string>, entry: string): { bare: Set<string>; builtins: boolean } {
  const bare = new Set<string>();
  let builtins = false;
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const candidate of [file, file.replace(/\.js$/, ".ts")]) {
      const text = files.get(candidate);
      if (text === undefined) continue;
      for (const m of text.matchAll(SPECIFIER)) {
        const spec = (m[1] ?? m[2] ?? m[3])!;
        if (spec.startsWith(".")) visit(path.posix.join(path.posix.dirname(candidate), spec));
        else if (spec.startsWith("node:")) builtins = true;
        else bare.add(packageOf(spec));
      }
    }
  };
  visit(entry);
  return { bare, builtins };
}

export function runtimeNeeds(files: Map<string, string>): Needs {
  const manifest = packageManifest() as { dependencies: Record<string, string>; devDependencies?: Record<string, string> };
  const range = (name: string) => manifest.dependencies[name] ?? manifest.devDependencies?.[name] ?? "*";
  const side = (entry: string) => {
    const { bare, builtins } = closure(files, entry);
    return { packages: new Map([...bare].sort().map((n) => [n, range(n)])), builtins };
  };
  const server = side("index.ts");
  const client = side("client.ts");
  const types = new Map<string, string>();
  // Any @types/node fits: it is whatever the user's Node is.
  if (server.builtins || client.builtins) types.set("@types/node", "*");
  for (const name of [...server.packages.keys(), ...client.packages.keys()]) {
    const t = TYPES_OF[name];
    if (t) types.set(t, range(t));
  }
  return { server: server.packages, client: client.packages, types };
}

const list = (m: Map<string, string>) => [...m].map(([n, r]) => (r === "*" ? n : `${n}@${r}`)).join(" ");

/** The lines `generate` prints about what its output needs. */
export function describeNeeds(needs: Needs): string[] {
  return [
    `ramlgen: the server side (index.ts) needs: ${needs.server.size ? list(needs.server) : "nothing from npm"}`,
    `ramlgen: the client side (client.ts) needs: ${needs.client.size ? list(needs.client) : "nothing but fetch"}`,
    ...(needs.types.size ? [`ramlgen: to type-check it: ${list(needs.types)}`] : []),
  ];
}

/** The nearest package.json at or above `dir`. */
function nearestManifest(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, "package.json");
    if (existsSync(candidate)) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

const majorOf = (range: string) => /(\d+)/.exec(range)?.[1];

/**
 * Warnings about the project that will use the output: a needed package its package.json does
 * not declare, or declares with another major version, each with the command that fixes it.
 */
export function checkNeeds(needs: Needs, outDir: string): string[] {
  const file = nearestManifest(outDir);
  if (!file) return [];
  let pkg: { dependencies?: Record<string, string>; devDependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
  try {
    pkg = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return [];
  }
  const declared = (name: string) => pkg.dependencies?.[name] ?? pkg.devDependencies?.[name] ?? pkg.peerDependencies?.[name];
  const problems = (wanted: Map<string, string>) => {
    const missing: string[] = [];
    const wrong: string[] = [];
    for (const [name, range] of wanted) {
      const have = declared(name);
      if (have === undefined) missing.push(name);
      else if (range !== "*" && majorOf(range) !== undefined && majorOf(have) !== undefined && majorOf(have) !== majorOf(range) && !/^(file|link|workspace|git|https?):/.test(have)) {
        wrong.push(`${name} ${have} (needs ${range})`);
      }
    }
    return { missing, wrong, fix: [...missing, ...wrong.map((w) => w.split(" ")[0]!)].map((n) => (wanted.get(n) === "*" ? n : `${n}@${wanted.get(n)}`)) };
  };
  const label = path.relative(process.cwd(), file) || "package.json";
  const out: string[] = [];
  const report = (what: string, wanted: Map<string, string>, flag: string) => {
    const p = problems(wanted);
    if (!p.fix.length) return;
    const parts = [...(p.missing.length ? [`lacks ${p.missing.join(", ")}`] : []), ...(p.wrong.length ? [`has ${p.wrong.join(", ")}`] : [])];
    out.push(`ramlgen: warning: ${label} ${parts.join("; ")}, which ${what}; run: npm install ${flag}${p.fix.join(" ")}`);
  };
  report("the generated code needs at run time", new Map([...needs.server, ...needs.client]), "");
  report("type-checking the generated code needs", needs.types, "-D ");
  return out;
}
