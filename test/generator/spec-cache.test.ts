// The parsed spec kept between runs (generator/spec-cache.ts): reused only while every file the
// parser read is unchanged, and never making the output differ from a run that parses.
// Run as a user runs it: the ramlgen command in a fresh project folder.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { generate } from "../../generator/generate.js";
import { MAX_ENTRIES } from "../../generator/read/spec-cache.js";

const run = promisify(execFile);
const bin = path.resolve("bin/ramlgen.js");
const REUSED = /spec unchanged, its parse reused/;

async function ramlgen(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd, env: { ...process.env, RAMLGEN_CACHE_DIR: "", ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Every file under `dir`, by relative path. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!name.isFile()) continue;
    const full = path.join(name.parentPath, name.name);
    out[path.relative(dir, full)] = readFileSync(full, "utf8");
  }
  return out;
}

const API = `#%RAML 1.0
title: Cached
mediaType: application/json
uses:
  lib: lib.raml
types:
  Customer: !include schemas/customer.json
  Thing: !include thing.raml
/customers:
  post:
    body:
      type: Customer
    responses:
      201:
        body:
          type: lib.Receipt
/things:
  get:
    responses:
      200:
        body:
          type: Thing
`;

/** A project with a node_modules folder (where the cache goes) and a spec of four files. */
function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ramlgen-cache-"));
  mkdirSync(path.join(dir, "node_modules"));
  mkdirSync(path.join(dir, "schemas"));
  writeFileSync(path.join(dir, "api.raml"), API);
  writeFileSync(path.join(dir, "lib.raml"), "#%RAML 1.0 Library\ntypes:\n  Receipt:\n    type: object\n    properties:\n      number: integer\n");
  writeFileSync(path.join(dir, "thing.raml"), "#%RAML 1.0 DataType\ntype: object\nproperties:\n  first: string\n");
  writeFileSync(
    path.join(dir, "schemas/customer.json"),
    JSON.stringify({ $schema: "http://json-schema.org/draft-04/schema#", type: "object", properties: { name: { type: "string" }, address: { $ref: "address.json" } }, required: ["name"] }),
  );
  writeFileSync(path.join(dir, "schemas/address.json"), JSON.stringify({ type: "object", properties: { city: { type: "string" } } }));
  return dir;
}

const types = (dir: string, out = "out") => readFileSync(path.join(dir, out, "types.ts"), "utf8");

describe("ramlgen keeps the parsed spec between runs", () => {
  it("reuses it while nothing changed, with the same output byte for byte as a run that parses", async () => {
    const dir = project();
    const first = await ramlgen(["generate", "api.raml", "--out", "out"], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).not.toMatch(REUSED);
    expect(readdirSync(path.join(dir, "node_modules/.cache/ramlgen"))).toHaveLength(1);
    const before = tree(path.join(dir, "out"));
    const second = await ramlgen(["generate", "api.raml", "--out", "out"], dir);
    expect(second.stdout).toMatch(REUSED);
    expect(second.stdout).toMatch(/\(0 written, 0 removed; /);
    expect(tree(path.join(dir, "out"))).toEqual(before);
    const parsed = await ramlgen(["generate", "api.raml", "--out", "out", "--no-cache"], dir);
    expect(parsed.stdout).not.toMatch(REUSED);
    expect(parsed.stdout).toMatch(/\(0 written, 0 removed\)/);
    expect(tree(path.join(dir, "out"))).toEqual(before);
    const check = await ramlgen(["check", "api.raml", "--out", "out"], dir);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(REUSED);
  }, 60_000);

  // Each file the parser reads, edited: the next run parses again and the output shows the edit.
  it.each([
    ["the spec", "api.raml", (t: string) => t.replace("  Thing: !include thing.raml", "  Thing: !include thing.raml\n  Extra: { type: object, properties: { added: string } }"), "added: string"],
    ["an !include", "thing.raml", (t: string) => t.replace("first: string", "first: string\n  added: string"), "added: string"],
    ["a library", "lib.raml", (t: string) => t.replace("number: integer", "number: integer\n      added: string"), "added: string"],
    ["a JSON Schema file the spec reaches only by $ref", "schemas/address.json", (t: string) => t.replace('"city"', '"added":{"type":"string"},"city"'), "added?: string"],
  ])("parses again when %s changes", async (_what, file, edit, expected) => {
    const dir = project();
    expect((await ramlgen(["generate", "api.raml", "--out", "out"], dir)).code).toBe(0);
    expect(types(dir)).not.toContain("added");
    writeFileSync(path.join(dir, file), edit(readFileSync(path.join(dir, file), "utf8")));
    const after = await ramlgen(["generate", "api.raml", "--out", "out"], dir);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).not.toMatch(REUSED);
    expect(types(dir)).toContain(expected);
    expect((await ramlgen(["generate", "api.raml", "--out", "out"], dir)).stdout).toMatch(REUSED);
  }, 60_000);

  it("never keeps a spec that fails, and reports its errors on every run", async () => {
    const dir = project();
    expect((await ramlgen(["generate", "api.raml", "--out", "out"], dir)).code).toBe(0);
    writeFileSync(path.join(dir, "thing.raml"), "#%RAML 1.0 DataType\ntype: object\nproperties:\n  bad: Nope\n");
    for (let i = 0; i < 2; i++) {
      const broken = await ramlgen(["generate", "api.raml", "--out", "out"], dir);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/^thing\.raml:4:3 /m);
    }
    writeFileSync(path.join(dir, "thing.raml"), "#%RAML 1.0 DataType\ntype: object\nproperties:\n  fixed: string\n");
    const fixed = await ramlgen(["generate", "api.raml", "--out", "out"], dir);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).not.toMatch(REUSED);
    expect(types(dir)).toContain("fixed: string");
  }, 60_000);

  it("reads a damaged entry as no entry", async () => {
    const dir = project();
    await ramlgen(["generate", "api.raml", "--out", "out"], dir);
    const cache = path.join(dir, "node_modules/.cache/ramlgen");
    for (const name of readdirSync(cache)) writeFileSync(path.join(cache, name), readFileSync(path.join(cache, name), "utf8").slice(0, 100));
    const after = await ramlgen(["generate", "api.raml", "--out", "out"], dir);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).not.toMatch(REUSED);
    expect((await ramlgen(["generate", "api.raml", "--out", "out"], dir)).stdout).toMatch(REUSED);
  }, 60_000);

  it("keeps nothing without a node_modules folder, and keeps it in RAMLGEN_CACHE_DIR when set", async () => {
    const dir = project();
    rmSync(path.join(dir, "node_modules"), { recursive: true });
    for (let i = 0; i < 2; i++) expect((await ramlgen(["generate", "api.raml", "--out", "out"], dir)).stdout).not.toMatch(REUSED);
    expect(existsSync(path.join(dir, "node_modules"))).toBe(false);
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), "ramlgen-cache-dir-"));
    expect((await ramlgen(["generate", "api.raml", "--out", "out"], dir, { RAMLGEN_CACHE_DIR: elsewhere })).stdout).not.toMatch(REUSED);
    expect((await ramlgen(["generate", "api.raml", "--out", "out"], dir, { RAMLGEN_CACHE_DIR: elsewhere })).stdout).toMatch(REUSED);
    expect(readdirSync(elsewhere)).toHaveLength(1);
  }, 60_000);

  it("names files relative to the working folder of each run, also when reused", async () => {
    const dir = project();
    cpSync("test/fixtures/cli/warning.raml", path.join(dir, "spec/warning.raml"));
    const fromRoot = [await ramlgen(["generate", "spec/warning.raml", "--out", "out"], dir), await ramlgen(["generate", "spec/warning.raml", "--out", "out"], dir)];
    const fromSpec = [await ramlgen(["generate", "warning.raml", "--out", "out"], path.join(dir, "spec")), await ramlgen(["generate", "warning.raml", "--out", "out"], path.join(dir, "spec"))];
    for (const [i, r] of [...fromRoot, ...fromSpec].entries()) expect(r.stdout).toMatch(i % 2 ? REUSED : /^(?![\s\S]*reused)/);
    for (const r of fromRoot) expect(r.stderr).toMatch(/^spec\/warning\.raml:8:39 UNUSED_PARAMETER /m);
    for (const r of fromSpec) expect(r.stderr).toMatch(/^warning\.raml:8:39 UNUSED_PARAMETER /m);
  }, 60_000);

  it(`keeps the ${MAX_ENTRIES} most recently used entries`, () => {
    const dir = project();
    const cache = mkdtempSync(path.join(os.tmpdir(), "ramlgen-cache-prune-"));
    // Entries of other specs, used one minute apart, the oldest first; and a write that died.
    for (let i = 0; i < MAX_ENTRIES + 5; i++) {
      const file = path.join(cache, `other-${String(i).padStart(3, "0")}.json`);
      writeFileSync(file, "{}");
      const used = new Date(Date.now() - (MAX_ENTRIES + 10 - i) * 60_000);
      utimesSync(file, used, used);
    }
    writeFileSync(path.join(cache, "died.json.123.tmp"), "{");
    utimesSync(path.join(cache, "died.json.123.tmp"), new Date(Date.now() - 7_200_000), new Date(Date.now() - 7_200_000));
    const saved = process.env["RAMLGEN_CACHE_DIR"];
    process.env["RAMLGEN_CACHE_DIR"] = cache;
    try {
      expect(generate(path.join(dir, "api.raml"), path.join(dir, "out"), { cache: true }).cache).toBe("miss");
    } finally {
      if (saved === undefined) delete process.env["RAMLGEN_CACHE_DIR"];
      else process.env["RAMLGEN_CACHE_DIR"] = saved;
    }
    const left = readdirSync(cache).sort();
    expect(left).toHaveLength(MAX_ENTRIES);
    // The new entry and the most recently used others; the 6 oldest and the dead write gone.
    expect(left.filter((n) => !n.startsWith("other-"))).toHaveLength(1);
    expect(left.filter((n) => n.startsWith("other-"))[0]).toBe("other-006.json");
  });

  describe("with a remote include", () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      res.setHeader("content-type", "application/raml+yaml");
      res.end("#%RAML 1.0 DataType\ntype: object\nproperties:\n  remote: string\n");
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("never keeps the parse: a URL's content cannot be checked without fetching it", async () => {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      const dir = project();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/thing.raml`;
      writeFileSync(path.join(dir, "api.raml"), API.replace("!include thing.raml", `!include ${url}`));
      for (let i = 1; i <= 2; i++) {
        const r = await ramlgen(["generate", "api.raml", "--out", "out"], dir);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).not.toMatch(REUSED);
        expect(requests).toBe(i);
      }
      expect(types(dir)).toContain("remote: string");
      expect(existsSync(path.join(dir, "node_modules/.cache/ramlgen"))).toBe(false);
    }, 60_000);
  });
});

// Every spec the project's tests generate from: a reused parse gives what a parse gives.
describe("a reused parse is the parse", () => {
  const specs = [
    "spec/api.raml",
    "test/fixtures/full/api.raml",
    "test/fixtures/secured/api.raml", // OAuth 2.0 scopes: a second parse, kept with the first
    ...readdirSync("test/fixtures/realworld").filter((f) => f.endsWith(".raml")).map((f) => `test/fixtures/realworld/${f}`),
  ];
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), "ramlgen-cache-same-"));

  it.each(specs)("%s", (spec) => {
    const saved = process.env["RAMLGEN_CACHE_DIR"];
    process.env["RAMLGEN_CACHE_DIR"] = cacheDir;
    try {
      const out = path.join(cacheDir, "unused");
      const parsed = generate(path.resolve(spec), out);
      expect(parsed.cache).toBe("off");
      expect(generate(path.resolve(spec), out, { cache: true }).cache).toBe("miss");
      const reused = generate(path.resolve(spec), out, { cache: true });
      expect(reused.cache).toBe("hit");
      expect(reused.sources).toEqual(parsed.sources);
      expect(reused.warnings).toEqual(parsed.warnings);
      expect(Object.fromEntries(reused.files)).toEqual(Object.fromEntries(parsed.files));
    } finally {
      if (saved === undefined) delete process.env["RAMLGEN_CACHE_DIR"];
      else process.env["RAMLGEN_CACHE_DIR"] = saved;
    }
  }, 60_000);
});
