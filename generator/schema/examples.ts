// Every example in the spec is checked against the schema generated for it. The parser
// already checks examples against RAML's own type semantics, so a failure here means the
// converter disagrees with RAML (or the parser let a mismatch through): a warning where the
// example is, never a refusal of a spec the parser accepts (`--strict` makes it an error).
// Parameters' examples are checked as the text they stand for on the wire: `example: 2` of a
// string query parameter is the text "2".
import type { ValidateFunction } from "ajv";
import type { Diagnostic } from "../diagnostics.js";
import type { ApiModel, Example } from "../model/model.js";
import { locateExamples } from "../read/raml.js";
import { type ValidatorSet } from "./validators.js";
import type { JsonSchema } from "../model/schema.js";
import { isJsonMedia } from "../model/media.js";

interface Failure {
  example: Example;
  message: string;
  fallbackPath?: string | undefined;
}

export function checkExamples(model: ApiModel, checker: ValidatorSet, specPath: string, relSpec: string): Diagnostic[] {
  const failures: Failure[] = [];
  const check = (examples: Example[], validate: () => ValidateFunction, json: boolean, fallbackPath?: string) => {
    const strict = examples.filter((e) => e.strict);
    if (!strict.length) return;
    const v = validate();
    for (const e of strict) {
      const value = json ? jsonExampleValue(e.value) : e.value;
      if (!v(value)) {
        const message = (v.errors ?? []).map((er) => `${er.instancePath || "/"} ${er.message}`).join("; ");
        failures.push({ example: e, message, fallbackPath });
      }
    }
  };
  const schema = (s: JsonSchema) => () => checker.exact(s);
  for (const t of model.types) check(t.examples, () => checker.named(t.name), false, t.source);
  for (const op of model.operations) {
    for (const p of [...op.uriParams, ...op.query, ...op.headers]) check(p.examples.map((e) => asWireText(e, p.schema.type === "array")), () => checker.wire(p.schema), false);
    if (op.queryString && op.queryStringExamples) check(op.queryStringExamples, schema(op.queryString), false);
    for (const b of op.bodies) check(b.examples, schema(b.schema), isJsonMedia(b.mediaType));
    for (const r of op.responses) {
      for (const h of r.headers) check(h.examples, schema(h.schema), false);
      for (const b of r.bodies) check(b.examples, schema(b.schema), isJsonMedia(b.mediaType));
    }
  }
  if (!failures.length) return [];
  const where = locateExamples(specPath);
  return failures.map((f) => {
    const loc = where.get(f.example.where);
    return {
      path: loc?.path ?? f.fallbackPath ?? relSpec,
      line: loc?.line ?? 0,
      column: loc?.column ?? 0,
      code: "EXAMPLE_INVALID",
      message: `example${f.example.name ? ` '${f.example.name}'` : ""} (${f.example.where}) does not match its schema: ${f.message}`,
      warning: true,
    };
  });
}

/**
 * A parameter's example as the text it stands for: each item's, for a repeated parameter; the
 * JSON text of a structured value for a single one (the parser reads `["a", "b"]` as an array).
 */
function asWireText(e: Example, repeated: boolean): Example {
  const text = (v: unknown) => (typeof v === "string" ? v : v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  return { ...e, value: repeated && Array.isArray(e.value) ? e.value.map(text) : text(e.value) };
}

/** RAML allows a JSON body's example to be written as a JSON string. */
export function jsonExampleValue(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const t = value.trim();
  if (!t.startsWith("{") && !t.startsWith("[")) return value;
  try {
    return JSON.parse(t);
  } catch {
    return value;
  }
}
