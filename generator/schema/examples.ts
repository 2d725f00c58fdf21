// Every example in the spec must validate against the schema generated for it. The parser
// already checks examples against RAML's own type semantics, so a failure here means the
// converter disagrees with RAML: a self-check of the converter, reported where the example is.
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
    for (const p of [...op.uriParams, ...op.query, ...op.headers]) check(p.examples, schema(p.schema), false);
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
      warning: false,
    };
  });
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
