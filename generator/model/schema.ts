// JSON Schema as the model holds RAML types: the schema's shape, how a schema names another
// (`#/$defs/<Name>`), and the annotation a RAML file becomes.
/** A JSON Schema (or a fragment of one): the keywords the generator reads by name, and any other. */
export type JsonSchema = {
  [keyword: string]: unknown;
  $ref?: unknown;
  type?: unknown;
  enum?: unknown;
  const?: unknown;
  default?: unknown;
  examples?: unknown;
  description?: unknown;
  properties?: unknown;
  patternProperties?: unknown;
  additionalProperties?: unknown;
  required?: unknown;
  minProperties?: unknown;
  maxProperties?: unknown;
  items?: unknown;
  prefixItems?: unknown;
  additionalItems?: unknown;
  uniqueItems?: unknown;
  anyOf?: unknown;
  allOf?: unknown;
  oneOf?: unknown;
  not?: unknown;
  minimum?: unknown;
  maximum?: unknown;
};

export const DEFS_PREFIX = "#/$defs/";

/**
 * The annotation a RAML `file` becomes: `{ fileTypes?, minLength?, maxLength? }` (bytes). Ajv
 * knows it as an annotation only (validators.ts); TypeScript types it as a File.
 */
export const FILE_KEYWORD = "x-ramlgen-file";

/** Names of the named types a schema refers to, directly or through other types. */
export function referencedTypes(schema: unknown, defs: Map<string, JsonSchema>, seen = new Set<string>()): Set<string> {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string" && v.startsWith(DEFS_PREFIX)) {
        const name = decodeURIComponent(v.slice(DEFS_PREFIX.length).split("/")[0]!);
        if (!seen.has(name) && defs.has(name)) {
          seen.add(name);
          visit(defs.get(name));
        }
      } else visit(v);
    }
  };
  visit(schema);
  return seen;
}

/** A self-contained schema document for a named type: its definition and everything it uses. */
export function typeDocument(name: string, defs: Map<string, JsonSchema>): JsonSchema {
  const used = [...referencedTypes({ $ref: DEFS_PREFIX + name }, defs)].sort();
  const $defs: Record<string, JsonSchema> = {};
  for (const n of used) $defs[n] = defs.get(n)!;
  return { $schema: "https://json-schema.org/draft/2020-12/schema", $ref: DEFS_PREFIX + name, $defs };
}
