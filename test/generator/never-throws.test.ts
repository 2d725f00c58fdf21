// The generator never throws at a user: for any RAML file the parser accepts it generates, and
// for any it rejects it reports file:line:column diagnostics (the CLI's exit 2), never a stack
// trace. fast-check mutates the project's own fixtures: deleted and duplicated lines, shifted
// indentation, renamed words. RAML_FUZZ_RUNS sets the number of runs (default 100),
// RAML_FUZZ_SEED the seed (default fixed; `random` for a fresh one, as `npm run soak` does).
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import { SpecError } from "../../generator/diagnostics.js";
import { generate } from "../../generator/generate.js";

const work = mkdtempSync(path.join(os.tmpdir(), "ramlgen-mutants-"));
cpSync("test/fixtures", path.join(work, "fixtures"), { recursive: true, filter: (src) => !src.includes(`${path.sep}golden`) });
const roots = [
  "fixtures/full/api.raml",
  "fixtures/secured/api.raml",
  ...readdirSync("test/fixtures/realworld").filter((f) => f.endsWith(".raml")).map((f) => `fixtures/realworld/${f}`),
  ...readdirSync("test/fixtures/mock").filter((f) => f.endsWith(".raml")).map((f) => `fixtures/mock/${f}`),
];
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Mutation = { kind: "delete" | "duplicate" | "indent" | "dedent" | "rename" | "swap"; at: number };

function mutate(text: string, mutations: Mutation[]): string {
  const lines = text.split("\n");
  for (const m of mutations) {
    // Line 0 is the #%RAML header: mutants keep it, or they are not RAML at all.
    const i = 1 + (m.at % Math.max(1, lines.length - 1));
    const line = lines[i] ?? "";
    if (m.kind === "delete") lines.splice(i, 1);
    else if (m.kind === "duplicate") lines.splice(i, 0, line);
    else if (m.kind === "indent") lines[i] = `  ${line}`;
    else if (m.kind === "dedent") lines[i] = line.replace(/^ {1,2}/, "");
    else if (m.kind === "swap" && i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, line];
    else if (m.kind === "rename") lines[i] = line.replace(/[A-Za-z][A-Za-z0-9]*/, (w) => `${w}x`);
  }
  return lines.join("\n");
}

const mutation = fc.record({ kind: fc.constantFrom("delete", "duplicate", "indent", "dedent", "rename", "swap"), at: fc.nat() }) as fc.Arbitrary<Mutation>;

describe("the generator on mutated specs", () => {
  it("generates, or reports every problem at file:line:column; never throws anything else", () => {
    const originals = new Map(roots.map((r) => [r, readFileSync(path.join(work, r), "utf8")]));
    let n = 0;
    fc.assert(
      fc.property(fc.constantFrom(...roots), fc.array(mutation, { minLength: 1, maxLength: 3 }), (root, mutations) => {
        const file = path.join(work, root);
        const mutant = mutate(originals.get(root)!, mutations);
        writeFileSync(file, mutant);
        try {
          generate(file, path.join(work, "out", String(n++)));
        } catch (e) {
          if (!(e instanceof SpecError)) throw new Error(`not a SpecError on a mutant of ${root} (${JSON.stringify(mutations)}): ${(e as Error).stack}`);
          // Thrown as plain errors, so that fast-check's report shows the diagnostic and the mutant.
          for (const d of e.diagnostics) {
            if (d.path === "" || !(d.line > 0) || !(d.column > 0) || /\n\s+at /.test(d.message)) {
              throw new Error(`not at file:line:column, or with a stack: ${JSON.stringify(d)}\n--- mutant of ${root}:\n${mutant}`);
            }
          }
        } finally {
          writeFileSync(file, originals.get(root)!);
        }
      }),
      // A fixed seed by default, so that CI is reproducible; `npm run soak` explores fresh ones.
      { numRuns: Number(process.env["RAML_FUZZ_RUNS"] ?? 100), ...(process.env["RAML_FUZZ_SEED"] === "random" ? {} : { seed: Number(process.env["RAML_FUZZ_SEED"] ?? 20261130) }) },
    );
  }, 600_000);
});
