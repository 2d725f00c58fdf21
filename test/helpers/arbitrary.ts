// fast-check arbitraries from the JSON Schemas ramlgen generates (the subset it emits).
import fc from "fast-check";
import type { JsonSchema } from "../../generator/model/schema.js";

const DEFS = "#/$defs/";

export function arbitrary(schema: unknown, defs: Record<string, JsonSchema>, depth = 0): fc.Arbitrary<unknown> {
  if (schema === true || schema === undefined) return fc.jsonValue({ maxDepth: 2 });
  const s = schema as JsonSchema;
  if (typeof s.$ref === "string" && s.$ref.startsWith(DEFS)) return arbitrary(defs[s.$ref.slice(DEFS.length)], defs, depth);
  if ("const" in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  if (Array.isArray(s.anyOf)) return fc.oneof(...s.anyOf.map((m) => arbitrary(m, defs, depth)));
  switch (s.type) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer":
      return fc.integer({ min: (s.minimum as number) ?? -1e6, max: (s.maximum as number) ?? 1e6 });
    case "number": {
      const step = s["multipleOf"];
      // A multiple of a decimal step: k steps, rounded to the step's decimals.
      if (typeof step === "number") {
        const decimals = (String(step).split(".")[1] ?? "").length;
        return fc
          .integer({ min: Math.ceil(((s.minimum as number) ?? -1e6) / step), max: Math.floor(((s.maximum as number) ?? 1e6) / step) })
          .map((k) => Number((k * step).toFixed(decimals)));
      }
      return fc.double({ min: (s.minimum as number) ?? -1e6, max: (s.maximum as number) ?? 1e6, noNaN: true });
    }
    case "string": {
      if (s["format"] === "date-time") return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString());
      if (typeof s["pattern"] === "string") {
        return fc.stringMatching(new RegExp(s["pattern"])).filter((x) => x.length >= ((s["minLength"] as number) ?? 0) && x.length <= ((s["maxLength"] as number) ?? Infinity));
      }
      return fc.string({ minLength: (s["minLength"] as number) ?? 0, maxLength: Math.min((s["maxLength"] as number) ?? 16, 64) });
    }
    case "array":
      return fc.array(arbitrary(s.items, defs, depth + 1), { minLength: (s["minItems"] as number) ?? 0, maxLength: Math.min((s["maxItems"] as number) ?? 4, 8) });
    case "object": {
      const props = (s.properties ?? {}) as Record<string, JsonSchema>;
      const required = (s.required as string[]) ?? [];
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = arbitrary(v, defs, depth + 1);
      if (!Object.keys(model).length) return depth > 2 ? fc.constant({}) : fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
      return fc.record(model, { requiredKeys: required.filter((k) => k in model) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Values that are probably not valid: a valid one damaged, or anything at all. */
export function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.anything({ maxDepth: 2 }),
    valid.map((v) => (v && typeof v === "object" && !Array.isArray(v) ? { ...v, unexpected: true } : [v])),
    valid.chain((v) =>
      v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length
        ? fc.constantFrom(...Object.keys(v)).chain((k) => fc.anything({ maxDepth: 1 }).map((x) => ({ ...v, [k]: x })))
        : fc.anything({ maxDepth: 1 }),
    ),
  );
}
