// The generator as a function: spec path in, files (path -> content) out. No file system writes.
import path from "node:path";
import { buildModel } from "./build.js";
import { SpecError, type Diagnostic } from "./diagnostics.js";
import { emit } from "./emit.js";
import { checkExamples } from "./examples.js";
import type { ApiModel } from "./model.js";
import { loadSpec, securedByScopes } from "./raml.js";
import { ConversionError } from "./schema.js";
import { ValidatorSet } from "./validators.js";

export interface GenerateResult {
  model: ApiModel;
  files: Map<string, string>;
  warnings: Diagnostic[];
}

export function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}

/** Parses, converts and checks the spec; throws SpecError with file:line:column diagnostics. */
export function loadModel(specPath: string): { model: ApiModel; validators: ValidatorSet; warnings: Diagnostic[] } {
  const rel = toPosix(path.relative(process.cwd(), specPath) || specPath);
  const { spec, warnings } = loadSpec(specPath);
  let model: ApiModel;
  try {
    // Scopes need a second look at the spec: only when some scheme is OAuth 2.0.
    let scopes: ReturnType<typeof securedByScopes> | undefined;
    const hasOAuth2 = ((spec.securitySchemes ?? []) as { type?: string }[]).some((s) => s.type === "OAuth 2.0");
    model = buildModel(spec, (method, resourcePath, scheme) => {
      if (!hasOAuth2) return [];
      scopes ??= securedByScopes(specPath);
      return scopes.get(`${method.toUpperCase()} ${resourcePath}`)?.get(scheme) ?? [];
    }, (code, message) => {
      if (!warnings.some((w) => w.code === code && w.message === message)) warnings.push({ path: rel, line: 0, column: 0, code, message, warning: true });
    }, path.dirname(specPath));
  } catch (e) {
    if (e instanceof ConversionError) {
      const where = e.file ? toPosix(path.relative(process.cwd(), path.resolve(path.dirname(specPath), e.file))) : rel;
      throw new SpecError([{ path: where, line: 0, column: 0, code: "CONVERSION_ERROR", message: e.typeName ? `type '${e.typeName}': ${e.message}` : e.message, warning: false }]);
    }
    throw e;
  }
  for (const op of model.operations) {
    if (op.responses.length) continue;
    // Common in real specs: the handler may answer anything, and nothing checks it.
    const message = `${op.method.toUpperCase()} ${op.resourcePath} declares no responses: its handler may answer any status and body, sent unchecked`;
    warnings.push({ path: rel, line: 0, column: 0, code: "NO_RESPONSES", message, warning: true });
  }
  const validators = new ValidatorSet(model);
  const bad = checkExamples(model, validators, specPath, rel);
  if (bad.length) throw new SpecError(bad);
  return { model, validators, warnings };
}

export function generate(specPath: string, outDir: string): GenerateResult {
  const { model, validators, warnings } = loadModel(specPath);
  const specLabel = toPosix(path.relative(process.cwd(), specPath) || specPath);
  const outLabel = toPosix(path.relative(process.cwd(), outDir) || ".");
  const files = emit(model, validators, { specLabel, command: `npx ramlgen generate ${specLabel} --out ${outLabel}` });
  return { model, files, warnings };
}
