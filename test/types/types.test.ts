// Runs the TypeScript compiler on handler code that disagrees with the spec, with and
// without its `@ts-expect-error` markers: with them it must compile, without them every
// marked line must fail to compile.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
    expect(marked.length).toBe(13);
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
    } finally {
      (await import("node:fs")).rmSync(stripped, { force: true });
    }
  });
});
