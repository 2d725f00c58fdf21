// Runs the TypeScript compiler on handler code that disagrees with the spec, with and
// without its `@ts-expect-error` markers: with them it must compile, without them every
// marked line must fail to compile.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const tsc = path.resolve("node_modules/typescript/bin/tsc");
const source = path.resolve("test/types/handlers.typecheck.ts");

async function typecheck(file: string): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(path.join(path.dirname(file), ".tscheck-"));
  const config = path.join(dir, "tsconfig.json");
  writeFileSync(
    config,
    JSON.stringify({ extends: path.resolve("tsconfig.json"), compilerOptions: { noEmit: true }, include: [], files: [file] }),
  );
  try {
    await run(process.execPath, [tsc, "-p", config]);
    return { code: 0, out: "" };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, out: err.stdout };
  } finally {
    (await import("node:fs")).rmSync(dir, { recursive: true, force: true });
  }
}

describe("handler types follow the spec", () => {
  const text = readFileSync(source, "utf8");
  const marked = text.split("\n").flatMap((l, i) => (/^\s*\/\/ @ts-expect-error/.test(l) ? [i + 2] : []));

  it("compiles with the expected errors marked", async () => {
    expect(marked.length).toBe(14);
    expect(await typecheck(source)).toEqual({ code: 0, out: "" });
  });

  it("fails to compile on every marked line once the markers are removed", async () => {
    const stripped = path.join(path.dirname(source), "handlers.unmarked.ts");
    writeFileSync(stripped, text.replace(/^(\s*)\/\/ @ts-expect-error/gm, "$1// (was expected error)"));
    try {
      const r = await typecheck(stripped);
      expect(r.code).not.toBe(0);
      const lines = [...r.out.matchAll(/handlers\.unmarked\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1]));
      for (const line of marked) expect(lines, `line ${line} should not compile`).toContain(line);
      // An undeclared status is told every declared one, by a name that says so, not one member's.
      for (const line of marked.slice(0, 2)) {
        const undeclared = r.out.split(/\n(?=\S)/).find((e) => e.includes(`(${line},`))!;
        expect(undeclared, undeclared).toMatch(/Type '418' is not assignable to type '(GetThingDeclaredStatus|200 \| 303 \| 404)'\.\s*$/);
      }
    } finally {
      (await import("node:fs")).rmSync(stripped, { force: true });
    }
  });
});

describe("the client side of the output", () => {
  it("type-checks alone with DOM types and no @types/node, binary and form bodies included", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "client-only-"));
    try {
      for (const f of ["client.ts", "client-runtime.ts", "messages.ts", "types.ts"]) copyFileSync(path.resolve("test/fixtures/full/golden", f), path.join(dir, f));
      writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
      // What a front end writes: bytes as a Blob, a form's file as a File, without Node's types.
      writeFileSync(
        path.join(dir, "use.ts"),
        [
          'import { ApiClient } from "./client.js";',
          'const client = new ApiClient({ baseUrl: "http://localhost" });',
          'export const a = client.putAttachment({ params: { "thing-id": "a-1" }, body: new Blob(["x"]) });',
          'export const b = client.putAttachment({ params: { "thing-id": "a-1" }, body: new Uint8Array([1, 2]) });',
          'export const c = client.postProfile({ params: {}, mediaType: "multipart/form-data", body: { name: "n", avatar: new File(["x"], "a.png") } });',
          'export const d = client.postProfile({ params: {}, mediaType: "application/x-www-form-urlencoded", body: { name: "n", age: 3 } });',
          "",
        ].join("\n"),
      );
      const config = JSON.parse(readFileSync(path.resolve("test/fixtures/own-project/client-only/tsconfig.json"), "utf8"));
      config.compilerOptions = { ...config.compilerOptions, lib: ["ES2023", "DOM"], types: [], noEmit: true, rootDir: "." };
      config.include = ["*.ts"];
      writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(config));
      const { stdout } = await run(process.execPath, [tsc, "-p", dir]).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
      expect(stdout).toBe("");
      for (const f of ["client.ts", "client-runtime.ts", "messages.ts", "types.ts"]) expect(readFileSync(path.join(dir, f), "utf8"), f).not.toMatch(/\bBuffer\b|from "node:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
