import { DEFS_PREFIX, FILE_KEYWORD, type JsonSchema } from "../model/schema.js";
// Form bodies (`application/x-www-form-urlencoded`, `multipart/form-data`): their fields are
// text on the wire, like query parameters, so they are validated with the parameters' options
// (coerced, defaults applied); what the router needs besides, per form, is which fields are
// files (with their media types and sizes) and which are numbers (written as plain decimals).

export interface FileFacets {
  /** An array of files. */
  many?: true;
  /** Accepted media types (`image/*` allowed); absent: any. */
  types?: string[];
  /** Bounds of its size in bytes. */
  minLength?: number;
  maxLength?: number;
}

/** What the router needs to know of a form beside its validator (the route table's `form`). */
export interface FormDef {
  files?: Record<string, FileFacets>;
  numbers?: string[];
}

const resolve = (s: unknown, defs: Record<string, JsonSchema>, seen = new Set<string>()): JsonSchema => {
  const schema = (s ?? {}) as JsonSchema;
  if (typeof schema.$ref === "string" && schema.$ref.startsWith(DEFS_PREFIX)) {
    const name = schema.$ref.slice(DEFS_PREFIX.length);
    if (seen.has(name)) return {};
    return resolve(defs[name], defs, new Set([...seen, name]));
  }
  return schema;
};

/** A schema's file facets, if it is a file (or an array of files). */
export function fileFacets(s: unknown, defs: Record<string, JsonSchema>): FileFacets | undefined {
  let schema = resolve(s, defs);
  const many = schema.type === "array";
  if (many) schema = resolve(schema.items, defs);
  const file = schema[FILE_KEYWORD] as { fileTypes?: string[]; minLength?: number; maxLength?: number } | undefined;
  if (!file) return undefined;
  const out: FileFacets = many ? { many } : {};
  if (file.fileTypes) out.types = file.fileTypes;
  if (file.minLength !== undefined) out.minLength = file.minLength;
  if (file.maxLength !== undefined) out.maxLength = file.maxLength;
  return out;
}

export function formDef(body: JsonSchema, defs: Record<string, JsonSchema>): FormDef {
  const schema = resolve(body, defs);
  const files: Record<string, FileFacets> = {};
  const numbers: string[] = [];
  for (const [name, p] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    const facets = fileFacets(p, defs);
    if (facets) {
      files[name] = facets;
      continue;
    }
    let field = resolve(p, defs);
    if (field.type === "array") field = resolve(field.items, defs);
    if (field.type === "integer" || field.type === "number") numbers.push(name);
  }
  const out: FormDef = {};
  if (Object.keys(files).length) out.files = files;
  if (numbers.length) out.numbers = numbers;
  return out;
}
