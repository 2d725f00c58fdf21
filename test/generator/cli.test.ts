// The ramlgen command line, run as a user runs it: exit codes and error messages.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const bin = path.resolve("bin/ramlgen.js");

async function ramlgen(args: string[], cwd = process.cwd()): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd, timeout: 60_000, killSignal: "SIGKILL" });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), "ramlgen-cli-"));

describe("ramlgen CLI", () => {
  it.each([
    ["bad-yaml.raml", /^test\/fixtures\/cli\/bad-yaml\.raml:6:1 YAML_ERROR /m],
    ["unknown-type.raml", /^test\/fixtures\/cli\/unknown-type\.raml:6:7 UNKNOWN_IN_PROPERTY_DEFINITION Property 'owner' refers to unknown type 'Nobody'$/m],
    ["bad-example.raml", /^test\/fixtures\/cli\/bad-example\.raml:8:7 INTEGER_EXPECTED /m],
    ["missing-include.raml", /^test\/fixtures\/cli\/missing-include\.raml:4:3 INCLUDE_ERROR Can not resolve does-not-exist\.raml$/m],
    // Messages a user can act on: the unknown type named (and not again for the type that uses
    // the broken one), a YAML cascade by its first error, a tab called a tab, nothing twice.
    // One mistake, one message: the example that cannot be checked against the unknown type is not another.
    ["typo-with-example.raml", /^test\/fixtures\/cli\/typo-with-example\.raml:7:7 UNKNOWN_IN_PROPERTY_DEFINITION Property 'author' refers to unknown type 'Autor'\n$/],
    ["unknown-parent.raml", /^test\/fixtures\/cli\/unknown-parent\.raml:8:5 INHERITING_UNKNOWN_TYPE Inheriting from unknown type 'Bok'\n$/],
    ["bad-indent.raml", /^test\/fixtures\/cli\/bad-indent\.raml:7:6 YAML_ERROR bad indentation of a mapping entry \(\d+ more errors in this file probably follow from it: fix this one first\)\n$/],
    ["tab-indent.raml", /^test\/fixtures\/cli\/tab-indent\.raml:6:2 YAML_TAB a tab in the indentation: YAML indents with spaces only\n$/],
    ["unknown-trait.raml", /^test\/fixtures\/cli\/unknown-trait\.raml:10:12 UNRECOGNIZED_ELEMENT Unrecognized trait: 'pagd'\.\n$/],
    // Invalid files that once gave a stack trace (issue 11, item 14).
    ["undefined-anchor.raml", /^test\/fixtures\/cli\/undefined-anchor\.raml:3:13 YAML_ERROR unidentified alias "v1" \(1 more error in this file probably follows from it: fix this one first\)\n$/],
    // The parser printed a stack trace of its own on this one before reporting it.
    ["version-map.raml", /^test\/fixtures\/cli\/version-map\.raml:4:1 INVALID_PROPERTY_RANGE Property 'version' must be a string\n$/],
    ["bad-version.raml", /^test\/fixtures\/cli\/bad-version\.raml:3:1 INVALID_PROPERTY_RANGE Property 'version' must be a string\n$/],
    ["bad-xml-example.raml", /^test\/fixtures\/cli\/bad-xml-example\.raml:12:9 CONTENT_DOES_NOT_MATCH_THE_SCHEMA .*Element 'order': 'not a number' is not a valid value of the atomic type 'xs:integer'/m],
  ])("rejects %s with file:line:column and exit 2", async (file, message) => {
    const out = tmp();
    const r = await ramlgen(["generate", `test/fixtures/cli/${file}`, "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr + r.stdout).not.toMatch(/^\s+at /m);
    expect(existsSync(path.join(out, "router.ts"))).toBe(false);
  });

  it.each([["dotted-scheme.raml"], ["baseuri-map.raml"]])("generates %s, which the parser accepts (it once gave a stack trace)", async (file) => {
    const out = tmp();
    const r = await ramlgen(["generate", `test/fixtures/cli/${file}`, "--out", out]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    expect(existsSync(path.join(out, "router.ts"))).toBe(true);
  });

  it("warns of an example the parser accepted and the generated schema refuses, and refuses it only with --strict", async () => {
    const out = tmp();
    const lenient = await ramlgen(["generate", "test/fixtures/cli/int8-example.raml", "--out", out]);
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toMatch(/^test\/fixtures\/cli\/int8-example\.raml:7:5 EXAMPLE_INVALID example \(type Small\) does not match its schema: \/ must be <= 127 \(warning\)$/m);
    const strict = await ramlgen(["generate", "test/fixtures/cli/int8-example.raml", "--out", tmp(), "--strict"]);
    expect(strict.code).toBe(2);
  });

  it("reports a missing spec file with exit 2", async () => {
    const r = await ramlgen(["generate", "nope.raml", "--out", tmp()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nope\.raml FILE_NOT_FOUND no such file: nope\.raml$/m);
  });

  it("says in one line, exit 2, when --out cannot be written (a file in the way; a folder under /proc, where Node's recursive mkdir never returns)", async () => {
    const file = path.join(tmp(), "a-file");
    writeFileSync(file, "");
    const blocked = await ramlgen(["generate", "spec/api.raml", "--out", `${file}/out`]);
    expect([blocked.code, blocked.stderr.trim()]).toEqual([2, `ramlgen: --out ${file}/out: cannot write there (ENOTDIR on ${file}/out); choose a folder this user may write`]);
    if (process.platform === "linux") {
      for (const args of [["generate", "spec/api.raml", "--out", "/proc/ramlgen-x"], ["docs", "spec/api.raml", "--out", "/proc/ramlgen-x"]]) {
        const r = await ramlgen(args);
        expect([r.code, r.stderr.trim()]).toEqual([2, "ramlgen: --out /proc/ramlgen-x: cannot write there (ENOENT on /proc/ramlgen-x); choose a folder this user may write"]);
      }
    }
  });

  it("prints warnings, and fails on them only with --strict", async () => {
    const out = tmp();
    const lenient = await ramlgen(["generate", "test/fixtures/cli/warning.raml", "--out", out]);
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toMatch(/warning\.raml:8:39 UNUSED_PARAMETER Unused parameter: 'unused' \(warning\)/);
    const strict = await ramlgen(["generate", "test/fixtures/cli/warning.raml", "--out", out, "--strict"]);
    expect(strict.code).toBe(2);
  });

  it("check: exit 0 when up to date, 1 listing stale, missing and extra files", async () => {
    const out = tmp();
    expect((await ramlgen(["generate", "spec/api.raml", "--out", out])).code).toBe(0);
    expect((await ramlgen(["check", "spec/api.raml", "--out", out])).code).toBe(0);
    writeFileSync(path.join(out, "types.ts"), readFileSync(path.join(out, "types.ts"), "utf8") + "// edited\n");
    cpSync(path.join(out, "router.ts"), path.join(out, "old-router.ts"));
    writeFileSync(path.join(out, "notes.md"), "user file, not generated\n");
    const { rmSync } = await import("node:fs");
    rmSync(path.join(out, "index.ts"));
    const r = await ramlgen(["check", "spec/api.raml", "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stale: +\S*types\.ts/);
    expect(r.stderr).toMatch(/missing: +\S*index\.ts/);
    expect(r.stderr).toMatch(/extra: +\S*old-router\.ts/);
    expect(r.stderr).not.toMatch(/notes\.md/);
    // generate repairs it, removes what it no longer generates and leaves user files alone.
    expect((await ramlgen(["generate", "spec/api.raml", "--out", out])).code).toBe(0);
    expect(existsSync(path.join(out, "old-router.ts"))).toBe(false);
    expect(existsSync(path.join(out, "notes.md"))).toBe(true);
    expect((await ramlgen(["check", "spec/api.raml", "--out", out])).code).toBe(0);
  });

  it("the committed generated/ folder is up to date with spec/api.raml", async () => {
    const r = await ramlgen(["check"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("documents exit codes in --help, and exits 2 on a usage error", async () => {
    const help = await ramlgen(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:\n  0  success\n  1  generated files are out of date \(check\)\n  2  invalid spec or usage/);
    const bad = await ramlgen(["generate", "--no-such-flag"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option/);
    const unknown = await ramlgen(["frobnicate"]);
    expect(unknown.code).toBe(2);
  });

  it("docs writes the same bytes as generate, so check stays green after it", async () => {
    const out = tmp();
    const spec = "test/fixtures/full/api.raml";
    expect((await ramlgen(["generate", spec, "--out", out])).code).toBe(0);
    const before = readFileSync(path.join(out, "docs/index.html"), "utf8");
    const docs = await ramlgen(["docs", spec, "--out", path.join(out, "docs")]);
    expect(docs.code).toBe(0);
    expect(readFileSync(path.join(out, "docs/index.html"), "utf8")).toBe(before);
    const check = await ramlgen(["check", spec, "--out", out]);
    expect(check.stderr).toBe("");
    expect(check.code).toBe(0);
  });

  it("--version prints the generator package's version", async () => {
    const { version } = JSON.parse(readFileSync("generator/package.json", "utf8"));
    for (const flag of ["--version", "-V"]) {
      const r = await ramlgen([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it("says what the output needs, and warns about a package.json that lacks it or has another major", async () => {
    const project = tmp();
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ dependencies: { ajv: "^6.12.0", negotiator: "^1.0.0" }, devDependencies: { "@types/node": "^22.0.0" } }));
    const r = await ramlgen(["generate", path.resolve("test/fixtures/full/api.raml"), "--out", "src/generated"], project);
    expect(r.code).toBe(0);
    // busboy: the fixture has multipart bodies, which stream through it on node:http.
    expect(r.stdout).toMatch(/^ramlgen: the server side \(index\.ts\) needs: ajv@\^8\.\S+ ajv-formats@\^3\.\S+ busboy@\^1\.\S+ fast-json-stringify@\^6\.\S+ negotiator@\^1\.\S+$/m);
    expect(r.stdout).toMatch(/^ramlgen: the client side \(client\.ts\) needs: nothing but fetch$/m);
    const warnings = r.stderr.split("\n").filter((l) => l.includes("warning"));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^ramlgen: warning: package\.json lacks ajv-formats, busboy, fast-json-stringify; has ajv \^6\.12\.0 \(needs \^8\.\S+\), which the generated code needs at run time; run: npm install ajv-formats@\^3\.\S+ busboy@\^1\.\S+ fast-json-stringify@\^6\.\S+ ajv@\^8\.\S+$/);
    expect(warnings[1]).toMatch(/^ramlgen: warning: package\.json lacks @types\/busboy, @types\/negotiator, which type-checking the generated code needs; run: npm install -D @types\/busboy@\^1\.5\.\S+ @types\/negotiator@\^0\.6\.\S+$/);
  });
});

describe("ramlgen generate --watch", () => {
  /** `ramlgen generate --watch` on `files` (name -> text) in a new folder. */
  async function watching(files: Record<string, string>) {
    const { spawn } = await import("node:child_process");
    const dir = tmp();
    const out = path.join(dir, "out");
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    const child = spawn(process.execPath, [bin, "generate", path.join(dir, "api.raml"), "--out", out, "--watch"], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (c) => (log += c));
    child.stderr.on("data", (c) => (log += c));
    // Patient: under a loaded CI machine one regeneration can take several seconds.
    const waitFor = async (check: () => boolean, what: string) => {
      for (let i = 0; i < 600 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(check(), `${what}\n${log}`).toBe(true);
    };
    const types = () => (existsSync(path.join(out, "types.ts")) ? readFileSync(path.join(out, "types.ts"), "utf8") : "");
    return { dir, child, output: () => log, types, waitFor };
  }

  it("regenerates when the spec or a file it includes changes", async () => {
    const { dir, child, output, types, waitFor } = await watching({
      "api.raml": "#%RAML 1.0\ntitle: Watched\ntypes:\n  Thing: !include thing.raml\n/things:\n  get:\n    responses:\n      200:\n        body:\n          application/json:\n            type: Thing\n",
      "thing.raml": "#%RAML 1.0 DataType\ntype: object\nproperties:\n  first: string\n",
    });
    try {
      await waitFor(() => /watching/.test(output()) && types().includes("first: string"), "first generation");
      writeFileSync(path.join(dir, "thing.raml"), "#%RAML 1.0 DataType\ntype: object\nproperties:\n  second: integer\n");
      await waitFor(() => types().includes("second: number"), "regenerated after the included file changed");
      writeFileSync(path.join(dir, "api.raml"), readFileSync(path.join(dir, "api.raml"), "utf8").replace("title: Watched", "title: Watched\ndescription: changed"));
      writeFileSync(path.join(dir, "thing.raml"), "#%RAML 1.0 DataType\ntype: object\nproperties:\n  third: boolean\n");
      await waitFor(() => types().includes("third: boolean"), "regenerated after the spec changed");
      // A broken edit is reported and the watcher keeps going.
      writeFileSync(path.join(dir, "thing.raml"), "#%RAML 1.0 DataType\ntype: object\nproperties:\n  bad: Nope\n");
      await waitFor(() => /thing\.raml:\d+:\d+ /.test(output()), "error reported with file:line:column");
      writeFileSync(path.join(dir, "thing.raml"), "#%RAML 1.0 DataType\ntype: object\nproperties:\n  fourth: string\n");
      await waitFor(() => types().includes("fourth: string"), "recovered after the error");
    } finally {
      child.kill();
    }
  }, 180_000);

  it("regenerates when a JSON Schema file the spec reaches only by $ref changes", async () => {
    const { dir, child, output, types, waitFor } = await watching({
      "api.raml": "#%RAML 1.0\ntitle: Watched\ntypes:\n  Customer: !include customer.json\n/customers:\n  get:\n    responses:\n      200:\n        body:\n          application/json:\n            type: Customer\n",
      "customer.json": JSON.stringify({ type: "object", properties: { address: { $ref: "address.json" } } }),
      "address.json": JSON.stringify({ type: "object", properties: { city: { type: "string" } } }),
    });
    try {
      await waitFor(() => /watching 3 file/.test(output()) && types().includes("city?: string"), "first generation, watching the spec and both schema files");
      writeFileSync(path.join(dir, "address.json"), JSON.stringify({ type: "object", properties: { street: { type: "string" } } }));
      await waitFor(() => types().includes("street?: string"), "regenerated after the schema file changed");
    } finally {
      child.kill();
    }
  }, 180_000);
});
