// The generator as a function: spec path in, files (path -> content) out. No file system writes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { buildModel } from "./read/build.js";
import { SpecError, type Diagnostic } from "./diagnostics.js";
import { emit } from "./emit/emit.js";
import { checkExamples } from "./schema/examples.js";
import { repairSchemas } from "./schema/repair.js";
import type { ApiModel } from "./model/model.js";
import { parseSpec } from "./read/raml.js";
import { cachedParse, type CacheUse } from "./read/spec-cache.js";
import { ValidatorSet } from "./schema/validators.js";
import { ConversionError } from "./read/conversion-error.js";
import { toPosix } from "./home.js";

export interface GenerateResult {
  model: ApiModel;
  files: Map<string, string>;
  warnings: Diagnostic[];
  /** Whether the parsed spec came from the cache (see spec-cache.ts). */
  cache: CacheUse;
  /** Every file the parser read (the spec, includes, libraries, JSON Schema files), absolute. */
  sources: string[];
}

export interface LoadOptions {
  /** Reuse (and keep) the parsed spec between runs while nothing it was read from changed. Default: off. */
  cache?: boolean | undefined;
}

/** Parses, converts and checks the spec; throws SpecError with file:line:column diagnostics. */
export function loadModel(specPath: string, options: LoadOptions = {}): { model: ApiModel; validators: ValidatorSet; warnings: Diagnostic[]; cache: CacheUse; sources: string[] } {
  const rel = toPosix(path.relative(process.cwd(), specPath) || specPath);
  const { value: parsed, use: cache, files: sources } = cachedParse(specPath, (inputs) => parseSpec(specPath, inputs), { cache: !!options.cache });
  const { spec, warnings } = parsed;
  let model: ApiModel;
  try {
    // Scopes need a second look at the spec, taken only when some scheme is OAuth 2.0
    // (RAML 1.0 only: 0.8 securedBy references carry no scopes the generator uses).
    const scopes = new Map(parsed.scopes?.map(([k, v]) => [k, new Map(v)]));
    model = buildModel(spec, (method, resourcePath, scheme) => {
      return scopes.get(`${method.toUpperCase()} ${resourcePath}`)?.get(scheme) ?? [];
    }, (code, message) => {
      if (!warnings.some((w) => w.code === code && w.message === message)) warnings.push({ path: rel, line: 0, column: 0, code, message, warning: true });
    }, path.dirname(specPath));
  } catch (e) {
    throw asSpecError(e, specPath, rel);
  }
  // Two operations whose paths differ only in their parameters' names match the same requests:
  // the first declared serves them all.
  const shapes = new Map<string, string>();
  for (const op of model.operations) {
    const shape = `${op.method.toUpperCase()} ${op.path.replace(/\{[^}]+\}/g, "{}")}`;
    const first = shapes.get(shape);
    if (first === undefined) shapes.set(shape, `${op.method.toUpperCase()} ${op.resourcePath}`);
    else warnings.push({ path: rel, line: 0, column: 0, code: "ROUTE_SHADOWED", message: `${op.method.toUpperCase()} ${op.resourcePath} matches the same requests as ${first}, which is declared first and serves them: its handler is never called`, warning: true });
  }
  for (const op of model.operations) {
    if (op.responses.length) continue;
    // Common in real specs: the handler may answer anything, and nothing checks it.
    const message = `${op.method.toUpperCase()} ${op.resourcePath} declares no responses: its handler may answer any status and body, sent unchecked`;
    warnings.push({ path: rel, line: 0, column: 0, code: "NO_RESPONSES", message, warning: true });
  }
  // A schema the meta-schema refuses loses what is at fault, with a warning; the spec still generates.
  repairSchemas(model, (code, message) => warnings.push({ path: rel, line: 0, column: 0, code, message, warning: true }));
  let validators: ValidatorSet;
  try {
    validators = new ValidatorSet(model);
  } catch (e) {
    // A JSON schema the spec includes that is not one (a property whose schema is a string,
    // say): ajv refuses it while compiling; said as the type's conversion error.
    if (e instanceof Error && /^(schema is invalid|strict mode)/.test(e.message)) {
      const typeName = /\$defs\/([^/\s]+)/.exec(e.message)?.[1];
      const first = e.message.split(", ")[0]!.replace(/^schema is invalid: /, "");
      throw asSpecError(new ConversionError(`not a valid JSON Schema: ${first}`, typeName), specPath, rel);
    }
    throw e;
  }
  // Examples that do not match: warnings (the parser accepted the spec; --strict refuses it).
  warnings.push(...checkExamples(model, validators, specPath, rel));
  return { model, validators, warnings, cache, sources };
}

/** A ConversionError as the SpecError the CLI reports (file:line:column); anything else as it is. */
function asSpecError(e: unknown, specPath: string, rel: string): unknown {
  if (!(e instanceof ConversionError)) return e;
  const file = e.file ? path.resolve(path.dirname(specPath), e.file) : specPath;
  const { line, column } = locateConversion(e, file);
  return new SpecError([{ path: toPosix(path.relative(process.cwd(), file)) || rel, line, column, code: "CONVERSION_ERROR", message: e.typeName ? `type '${e.typeName}': ${e.message}` : e.message, warning: false }]);
}

/**
 * Where a conversion error is: a JSON parse error at its position in the schema's own file,
 * else the declaration of the type it is about, else the file's first line.
 */
function locateConversion(e: ConversionError, file: string): { line: number; column: number } {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { line: 1, column: 1 };
  }
  const position = /at position (\d+)/.exec(e.message);
  if (position && e.file && !/\.raml$/i.test(file)) {
    const before = text.slice(0, Number(position[1]));
    const lines = before.split("\n");
    return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
  }
  if (e.typeName) {
    const name = e.typeName.split(".").pop()!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const lines = text.split(/\r?\n/);
    const i = lines.findIndex((l) => new RegExp(`^\\s*(?:-\\s*)?${name}\\s*:`).test(l));
    if (i >= 0) return { line: i + 1, column: lines[i]!.indexOf(e.typeName.split(".").pop()!) + 1 };
  }
  return { line: 1, column: 1 };
}

export function generate(specPath: string, outDir: string, options: LoadOptions = {}): GenerateResult {
  const { model, validators, warnings, cache, sources } = loadModel(specPath, options);
  const specLabel = toPosix(path.relative(process.cwd(), specPath) || specPath);
  const outLabel = toPosix(path.relative(process.cwd(), outDir) || ".");
  const files = emit(model, validators, { specLabel, command: `npx ramlgen generate ${specLabel} --out ${outLabel}` });
  return { model, files, warnings, cache, sources };
}
