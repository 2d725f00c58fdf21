// The running service needs no RAML parser: raml-1-parser and its dependency tree (which
// carries known advisories) must not be in what `npm ci --omit=dev` installs, and nothing
// under src/ or generated/ may import build-time code.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

function runtimeTree(): Set<string> {
  const out = execFileSync("npm", ["ls", "--omit=dev", "--all", "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const names = new Set<string>();
  const walk = (deps: Record<string, { dependencies?: object }> | undefined) => {
    for (const [name, info] of Object.entries(deps ?? {})) {
      if (names.has(name)) continue;
      names.add(name);
      walk(info.dependencies as Record<string, { dependencies?: object }>);
    }
  };
  walk(JSON.parse(out).dependencies);
  return names;
}

/** raml-1-parser and everything it depends on, from the full (dev included) tree. */
function devOnly(): Set<string> {
  const out = execFileSync("npm", ["ls", "--all", "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 });
  const parser = JSON.parse(out).dependencies["raml-1-parser"];
  const names = new Set<string>(["raml-1-parser"]);
  const walk = (deps: Record<string, { dependencies?: object }> | undefined) => {
    for (const [name, info] of Object.entries(deps ?? {})) {
      if (names.has(name)) continue;
      names.add(name);
      walk(info.dependencies as Record<string, { dependencies?: object }>);
    }
  };
  walk(parser.dependencies);
  return names;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const full = path.join(dir, n);
    return statSync(full).isDirectory() ? sources(full) : /\.(ts|js)$/.test(n) ? [full] : [];
  });
}

describe("dependency hygiene", () => {
  it("the run-time dependency tree does not contain raml-1-parser or its dependencies", () => {
    const runtime = runtimeTree();
    expect(runtime.size).toBeGreaterThan(5);
    for (const name of ["better-sqlite3", "ajv", "negotiator", "pino"]) expect(runtime.has(name), name).toBe(true);
    expect(runtime.has("raml-1-parser")).toBe(false);
    // Express hosts the router in users' apps and in our tests; the service does not need it.
    for (const name of ["handlebars", "commander", "typescript", "tsx", "vitest", "express"]) expect(runtime.has(name), name).toBe(false);
    // raml-1-parser's own tree, except packages the run time shares with it for other reasons.
    const parserOnly = [...devOnly()].filter((n) => n !== "raml-1-parser" && !runtime.has(n));
    expect(parserOnly.length).toBeGreaterThan(10);
    const shared = [...devOnly()].filter((n) => runtime.has(n));
    expect(shared.filter((n) => /raml|json-ptr|xml2js|underscore|validator/.test(n))).toEqual([]);
  });

  it("run-time code never imports build-time code or the RAML parser", () => {
    for (const file of [...sources("src"), ...sources("generated")]) {
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toMatch(/from\s+["'][^"']*generator\//);
      expect(text, file).not.toMatch(/raml-1-parser|handlebars|commander/);
    }
  });

  it("the job API's client side (waitForJob, the worker SDK) reaches only the generated client side", () => {
    // What a client developer in another project copies: these files and what they import.
    const reached = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const m of readFileSync(file, "utf8").matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm)) {
        const spec = m[1]!;
        if (spec.startsWith(".")) visit(path.resolve(path.dirname(file), spec).replace(/\.js$/, ".ts"));
        else bare.add(spec);
      }
    };
    for (const f of sources("src/client")) visit(path.resolve(f));
    const generated = [...reached].filter((f) => f.includes(`${path.sep}generated${path.sep}`)).map((f) => path.basename(f)).sort();
    expect(generated).toEqual(["client-runtime.ts", "client.ts", "messages.ts", "types.ts"]);
    expect([...bare].sort()).toEqual(["node:os"]); // the worker's default name is the host name
  });
});
