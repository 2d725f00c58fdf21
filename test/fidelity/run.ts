// `npm run fidelity -- <dir> [--jobs N] [--keep]`: ramlgen over every RAML root file under a
// folder (a collection of vendor specs, the RAML TCK): for each one raml-1-parser accepts, it
// must generate, its output must type-check under the strictest settings, and every operation
// must be reached through the generated client and router. Prints the counts and each failure
// with its first message; exits 1 when there is one. Fragments (libraries, types, traits, named
// examples) are not roots; a root the parser refuses is counted, and must be refused with
// `file:line:column`, never with a stack trace. Files named invalid*.raml (the TCK's) that the
// parser accepts anyway are the parser's misses: they must not crash ramlgen, nothing more.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { writeOutput } from "../../generator/cli/files.js";
import { SpecError } from "../../generator/diagnostics.js";
import { generate } from "../../generator/generate.js";
import { parseSpec } from "../../generator/read/raml.js";
import { callEveryOperation, typecheck } from "../helpers/round-trip.js";

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith("--"));
if (!dir) {
  console.error("usage: npm run fidelity -- <dir> [--keep]   (every RAML root file under <dir>)");
  process.exit(2);
}
const keep = args.includes("--keep");

/** Root files: `#%RAML 1.0` or `0.8` (or a 1.0 Overlay or Extension), not fragments. */
function roots(d: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(d).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = path.join(d, name);
    if (statSync(p).isDirectory()) out.push(...roots(p));
    else if (name.endsWith(".raml")) {
      const first = readFileSync(p, "utf8").split(/\r?\n/, 1)[0]!.trim();
      if (/^#%RAML (1\.0|0\.8)( Overlay| Extension)?$/.test(first)) out.push(p);
    }
  }
  return out;
}

const files = roots(path.resolve(dir));
// Inside the project, so that the output finds this project's packages (ajv, negotiator, types).
mkdirSync(path.resolve("test/.out"), { recursive: true });
const work = mkdtempSync(path.resolve("test/.out/fidelity-"));
const count = { roots: files.length, rejected: 0, accepted: 0, parserMisses: 0, generated: 0, typechecked: 0, roundTripped: 0, operations: 0 };
const failures: string[] = [];
const first = (text: string) => text.split("\n").find((l) => l.trim()) ?? text;
const rel = (f: string) => path.relative(process.cwd(), f);

for (const [i, file] of files.entries()) {
  process.stderr.write(`\r${i + 1}/${files.length} ${rel(file).slice(-60).padEnd(60)}`);
  try {
    parseSpec(file);
  } catch (e) {
    if (e instanceof SpecError) {
      count.rejected++;
      if (!/:\d+:\d+ /.test(first(e.message)) && !/ [A-Z_]+ /.test(first(e.message))) failures.push(`${rel(file)}: refused without file:line:column: ${first(e.message)}`);
    } else failures.push(`${rel(file)}: internal error while parsing: ${(e as Error).message}`);
    continue;
  }
  const out = path.join(work, `spec-${i}`);
  if (path.basename(file).startsWith("invalid")) {
    count.parserMisses++;
    try {
      generate(file, out);
    } catch (e) {
      if (!(e instanceof SpecError)) failures.push(`${rel(file)}: generate (an invalid spec the parser accepts): internal error: ${(e as Error).message}`);
    }
    continue;
  }
  count.accepted++;
  try {
    writeOutput(out, generate(file, out).files);
    count.generated++;
  } catch (e) {
    failures.push(`${rel(file)}: generate: ${e instanceof SpecError ? first(e.message) : `internal error: ${(e as Error).message}`}`);
    continue;
  }
  const tsc = await typecheck(out);
  if (tsc) {
    failures.push(`${rel(file)}: type-check: ${first(tsc)}`);
    continue;
  }
  count.typechecked++;
  try {
    const { operations, failures: calls } = await callEveryOperation(file, out);
    count.operations += operations;
    if (calls.length) failures.push(`${rel(file)}: round trip: ${calls[0]}${calls.length > 1 ? ` (+${calls.length - 1} more)` : ""}`);
    else count.roundTripped++;
  } catch (e) {
    failures.push(`${rel(file)}: round trip: ${first((e as Error).message)}`);
  }
  if (!keep) rmSync(out, { recursive: true, force: true });
}
process.stderr.write("\n");
if (!keep) rmSync(work, { recursive: true, force: true });
console.log(`fidelity: ${count.roots} root files under ${dir}: ${count.rejected} refused by raml-1-parser, ${count.accepted} accepted${count.parserMisses ? ` (and ${count.parserMisses} named invalid* that it accepts anyway: generated or refused, none crashed ramlgen unless listed)` : ""}`);
console.log(`  generated ${count.generated}/${count.accepted}, type-checked ${count.typechecked}/${count.generated}, round-tripped ${count.roundTripped}/${count.typechecked} (${count.operations} operations)`);
for (const f of failures) console.log(`  FAIL ${f}`);
if (keep) console.log(`  output kept in ${work}`);
process.exit(failures.length ? 1 : 0);
