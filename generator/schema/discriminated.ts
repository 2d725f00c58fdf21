// Unions whose members tell themselves apart by one property (a RAML `discriminator`, each
// member's `discriminatorValue` a `const`), rewritten for validation so that errors speak of the
// member the value says it is: an unknown tag is one error, "kind must be one of cat, dog", and a
// known one is checked against its member only (`if`/`then` per member), instead of every
// member's failures at once. Types, docs and exports keep the plain `anyOf`.
import { DEFS_PREFIX, type JsonSchema } from "../model/schema.js";

/** The property every member of a union fixes to a value of its own, and those values in order. */
export function discriminatorOf(members: unknown[], defs: Record<string, JsonSchema>): { property: string; values: string[] } | undefined {
  const resolved = members.map((m) => resolve(m as JsonSchema, defs)).filter((m): m is JsonSchema => !!m && typeof m.properties === "object");
  if (resolved.length < 2 || resolved.length !== members.length) return undefined;
  const first = resolved[0]!;
  for (const property of Object.keys(first.properties as object)) {
    const values = resolved.map((m) => {
      const p = (m.properties as Record<string, JsonSchema>)[property];
      const required = Array.isArray(m.required) && m.required.includes(property);
      return required && p && typeof p.const === "string" ? p.const : undefined;
    });
    if (values.every((v): v is string => v !== undefined) && new Set(values).size === values.length) return { property, values };
  }
  return undefined;
}

function resolve(s: JsonSchema | undefined, defs: Record<string, JsonSchema>, depth = 0): JsonSchema | undefined {
  if (!s || depth > 20) return s;
  if (typeof s.$ref === "string" && s.$ref.startsWith(DEFS_PREFIX)) return resolve(defs[s.$ref.slice(DEFS_PREFIX.length)], defs, depth + 1);
  return s;
}

/** A schema with its discriminated unions rewritten as `if`/`then` per member (see above). */
export function forValidation(schema: unknown, defs: Record<string, JsonSchema>): unknown {
  if (Array.isArray(schema)) return schema.map((s) => forValidation(s, defs));
  if (!schema || typeof schema !== "object") return schema;
  const s = schema as JsonSchema;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(s)) out[k] = forValidation(v, defs);
  const members = Array.isArray(s.anyOf) ? s.anyOf : undefined;
  const tag = members && discriminatorOf(members, defs);
  if (!members || !tag) return out;
  delete out.anyOf;
  return {
    ...out,
    type: "object",
    required: [tag.property],
    properties: { [tag.property]: { enum: tag.values } },
    allOf: members.map((m, i) => ({
      if: { properties: { [tag.property]: { const: tag.values[i] } }, required: [tag.property] },
      then: forValidation(m, defs),
    })),
  };
}
