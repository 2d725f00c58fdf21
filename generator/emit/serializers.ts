// Response serialisers, generated from the response schemas with fast-json-stringify's
// standalone mode: JSON without JSON.stringify's walk over an unknown shape. For every value
// the response's schema admits, a serialiser gives text that parses to what JSON.stringify's
// does (property-tested): it is built from a loosened copy of the schema (serialisation needs
// the shape, never the constraints; a missing property is simply left out), and parts whose
// shape a serialiser cannot know without validating (unions of different kinds, recursion) are
// left to JSON.stringify. (A value the schema does not admit, which response validation
// catches when it is on, may come out differently: a number where a string is declared is
// written as a string.)
import { createRequire } from "node:module";
import type { ApiModel, Body } from "../model/model.js";
import { validatorId } from "../schema/validators.js";
import { DEFS_PREFIX, type JsonSchema } from "../model/schema.js";
import { isJsonMedia } from "../model/media.js";

const require = createRequire(import.meta.url);
type Fjs = (schema: JsonSchema, options: { mode: "standalone" }) => string;
let fjs: Fjs | undefined;

const PRIMITIVE = new Set(["string", "number", "boolean", "null"]);

/** The JSON type a serialiser can rely on for every value of the schema, if there is one. */
function primitiveOf(s: JsonSchema): string | undefined {
  return typeof s.type === "string" && PRIMITIVE.has(s.type) && Object.keys(s).length === 1 ? s.type : undefined;
}

/**
 * The shape of a schema for serialising: objects with their properties (no `required`: a
 * missing property is left out, as JSON.stringify does), arrays with their items, primitives by
 * JSON type (integers as numbers), everything else `{}` (JSON.stringify).
 */
export function serialisationSchema(s: unknown, defs: Record<string, JsonSchema>, seen: string[] = []): JsonSchema {
  if (!s || typeof s !== "object" || Array.isArray(s)) return {};
  const schema = s as JsonSchema;
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.startsWith(DEFS_PREFIX) ? schema.$ref.slice(DEFS_PREFIX.length) : undefined;
    if (!name || !defs[name] || seen.includes(name)) return {};
    return serialisationSchema(defs[name], defs, [...seen, name]);
  }
  const union = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
  if (Array.isArray(union)) {
    const kinds = new Set(union.map((b) => primitiveOf(serialisationSchema(b, defs, seen)) ?? "other"));
    kinds.delete("null");
    if (kinds.size === 1 && !kinds.has("other")) {
      const [kind] = kinds;
      return union.some((b) => primitiveOf(serialisationSchema(b, defs, seen)) === "null") ? { type: [kind, "null"] } : { type: kind };
    }
    return {};
  }
  if (schema.allOf || schema.not || schema["if"]) return {};
  if ("const" in schema || Array.isArray(schema.enum)) {
    const values = "const" in schema ? [schema.const] : (schema.enum as unknown[]);
    const kinds = new Set(values.map((v) => (v === null ? "null" : typeof v)));
    return kinds.size === 1 && ["string", "boolean"].includes([...kinds][0]!) ? { type: [...kinds][0] } : {};
  }
  const type = Array.isArray(schema.type) && schema.type.length === 2 && schema.type.includes("null") ? schema.type.find((t) => t !== "null") : schema.type;
  const nullable = Array.isArray(schema.type) && schema.type.includes("null");
  const withNull = (out: JsonSchema): JsonSchema => (nullable ? (PRIMITIVE.has(out.type as string) || out.type === "number" ? { ...out, type: [out.type as string, "null"] } : {}) : out);
  switch (type) {
    case "string":
    case "boolean":
      return withNull({ type });
    case "integer":
    case "number":
      return withNull({ type: "number" });
    case "null":
      return { type: "null" };
    case "array":
      return nullable ? {} : { type: "array", items: Array.isArray(schema.items) ? {} : serialisationSchema(schema.items, defs, seen) };
    case "object": {
      if (nullable) return {};
      const properties: Record<string, JsonSchema> = {};
      for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) properties[k] = serialisationSchema(v, defs, seen);
      // Anything else an object may hold (additional or pattern properties) goes through as it is.
      return { type: "object", properties, additionalProperties: schema.additionalProperties === false && !schema.patternProperties ? false : true };
    }
    default:
      return {};
  }
}

export interface SerialiserEntry {
  id: string;
  schema: JsonSchema;
}

/** One serialiser per JSON response body, named like its validator. */
export function serialiserEntries(model: ApiModel): SerialiserEntry[] {
  const defs: Record<string, JsonSchema> = {};
  for (const t of model.types) defs[t.name] = t.schema;
  const out: SerialiserEntry[] = [];
  for (const op of model.operations) {
    for (const r of op.responses) {
      for (const b of r.bodies.filter((x: Body) => isJsonMedia(x.mediaType))) {
        const schema = serialisationSchema(b.schema, defs);
        // A body whose shape is unknown (`any`, a union of objects) is best left to JSON.stringify.
        if (schema.type === "object" || schema.type === "array") out.push({ id: validatorId.responseBody(op, r.status, b), schema });
      }
    }
  }
  return out;
}

/**
 * The serialisers as one ES module. fast-json-stringify writes one CommonJS module per
 * schema; each is wrapped in a function of its own, and their shared runtime is loaded once.
 */
export function serialiserModule(entries: SerialiserEntry[]): string {
  if (!entries.length) return "export {};\n";
  fjs ??= require("fast-json-stringify") as Fjs;
  const parts = entries.map((e) => {
    const code = fjs!(e.schema, { mode: "standalone" })
      .replace(/^\s*'use strict'\s*$/m, "")
      .replace(/^\s*const Serializer = require\('fast-json-stringify\/lib\/serializer'\)\s*$/m, "");
    if (/require\(/.test(code)) throw new Error(`the serialiser of ${e.id} needs more than fast-json-stringify's serializer`);
    return `export const ${e.id} = (() => {\n  const module = { exports: {} };\n${code}\n  return module.exports;\n})();`;
  });
  return `import { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\nconst Serializer = require("fast-json-stringify/lib/serializer");\n\n${parts.join("\n\n")}\n`;
}
