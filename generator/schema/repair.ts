// The last word on JSON Schemas before ajv compiles them: a schema the 2020-12 meta-schema
// refuses (what the reader could not make sense of: a keyword with a value of the wrong kind)
// loses the keyword at fault, with a warning naming the type, its file and the pointer, so
// that anything is accepted there. One bad schema never refuses the whole spec.
import { createRequire } from "node:module";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ApiModel } from "../model/model.js";
import type { JsonSchema } from "../model/schema.js";

const require = createRequire(import.meta.url);
const addFormatsModule = require("ajv-formats");
const addFormats = (addFormatsModule.default ?? addFormatsModule) as (ajv: Ajv2020) => void;

/** Keywords whose value is a map from names to schemas, a list of schemas, or one schema. */
const MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
const LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const ONE = new Set(["items", "additionalProperties", "propertyNames", "contains", "not", "if", "then", "else", "unevaluatedItems", "unevaluatedProperties"]);

/**
 * Removes what `pointer` (an ajv error's instancePath into the schema) is about: the keyword it
 * names in the subschema it reaches, or that whole subschema when it points at one (which is
 * then `{}`). Returns what it removed, as a pointer, or undefined when it found nothing to.
 */
export function removeAt(schema: JsonSchema, pointer: string): string | undefined {
  const parts = pointer.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let node: JsonSchema = schema;
  const walked: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const keyword = parts[i]!;
    walked.push(keyword);
    const value = node[keyword];
    const child = (MAPS.has(keyword) || LISTS.has(keyword)) && i + 1 < parts.length ? (value as Record<string, unknown> | undefined)?.[parts[i + 1]!] : ONE.has(keyword) ? value : undefined;
    if (child === undefined || (MAPS.has(keyword) || LISTS.has(keyword)) !== (i + 1 < parts.length && child !== undefined && !ONE.has(keyword))) {
      // `keyword` is the one at fault here.
      if (!(keyword in node)) return undefined;
      delete node[keyword];
      return `#/${walked.join("/")}`;
    }
    if (MAPS.has(keyword) || LISTS.has(keyword)) {
      walked.push(parts[++i]!);
      if (i === parts.length - 1 || typeof child !== "object" || child === null) {
        // The subschema itself is at fault (a string where a schema belongs): anything there.
        (value as Record<string, unknown>)[parts[i]!] = {};
        return `#/${walked.join("/")}`;
      }
    } else if (typeof child !== "object" || child === null || i === parts.length - 1) {
      node[keyword] = {};
      return `#/${walked.join("/")}`;
    }
    node = child as JsonSchema;
  }
  return undefined;
}

export function repairSchemas(model: ApiModel, warn: (code: string, message: string) => void): void {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  addFormats(ajv);
  const fix = (schema: JsonSchema, what: string) => {
    for (let round = 0; round < 100 && typeof schema === "object" && schema && !ajv.validateSchema(schema); round++) {
      const e = ajv.errors?.[0];
      if (!e) return;
      const removed = removeAt(schema, e.instancePath);
      if (!removed) return;
      warn("JSON_SCHEMA_REPAIRED", `${what} at ${removed}: ${e.message ?? e.keyword}; left out, so anything is accepted there`);
    }
  };
  for (const t of model.types) fix(t.schema, `type '${t.name}'${t.source ? ` (${t.source})` : ""}`);
  for (const op of model.operations) {
    const where = `${op.method.toUpperCase()} ${op.resourcePath}`;
    for (const p of [...op.uriParams, ...op.query, ...op.headers]) fix(p.schema, `${where} parameter ${p.name}`);
    for (const b of op.bodies) fix(b.schema, `${where} body ${b.mediaType}`);
    for (const r of op.responses) {
      for (const h of r.headers) fix(h.schema, `${where} ${r.status} header ${h.name}`);
      for (const b of r.bodies) fix(b.schema, `${where} ${r.status} body ${b.mediaType}`);
    }
  }
}
