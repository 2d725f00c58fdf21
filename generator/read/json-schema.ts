// JSON Schemas as real RAML specs include them (draft-03 and draft-04, vendor keywords,
// `$ref`s to sibling files), normalised to the JSON Schema 2020-12 the validators compile:
// - `"required": true` on a property (draft-03) becomes the parent's `required` list;
// - `$ref` to another file is read relative to the schema's own file and inlined; `#/…`
//   points into the including type's definition;
// - `items: [...]` (draft-04 tuples) becomes `prefixItems`, `additionalItems` then `items`;
// - boolean `exclusiveMinimum`/`exclusiveMaximum` (draft-04) become numbers;
// - `example` becomes `examples`; keywords JSON Schema does not define (`javaType`,
//   `javaName`, …) are dropped with one warning per schema; `$schema`, `id` and `$id` are
//   dropped where they are keywords, never where they name a property.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ConversionError } from "./conversion-error.js";
import { DEFS_PREFIX, type JsonSchema } from "../model/schema.js";

const KEYWORDS = new Set([
  "$ref", "$defs", "definitions", "$comment", "$anchor",
  "type", "enum", "const", "format", "title", "description", "default", "examples", "readOnly", "writeOnly", "deprecated",
  "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
  "maxLength", "minLength", "pattern", "contentMediaType", "contentEncoding",
  "items", "prefixItems", "contains", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains", "unevaluatedItems",
  "properties", "patternProperties", "additionalProperties", "propertyNames", "required", "dependentRequired", "dependentSchemas",
  "dependencies", "maxProperties", "minProperties", "unevaluatedProperties",
  "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
]);
/** Keywords whose value is a map from names to schemas. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
/** Keywords whose value is one schema. */
const SCHEMA_ONE = new Set(["additionalProperties", "propertyNames", "contains", "not", "if", "then", "else", "unevaluatedItems", "unevaluatedProperties", "items"]);
/** Keywords whose value is a list of schemas. */
const SCHEMA_LIST = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
/** A reference to another named type (RAML 0.8 schemas by name), until inlineLocal resolves it. */
const NAMED_REF = "\u0000namedRef";
/** Keywords whose value is data. */
const DATA = new Set(["enum", "const", "default", "examples"]);
/** Dropped where they are keywords: the schema's dialect and its identity mean nothing here. */
const IDENTITY = new Set(["$schema", "id", "$id"]);

export interface PassthroughContext {
  /** The named type the schema defines (its `#` is `#/$defs/<name>`), if any. */
  name?: string | undefined;
  /** The schema's file, absolute, when it was included from one: `$ref`s to files are relative to it. */
  file?: string | undefined;
  warn?: ((code: string, message: string) => void) | undefined;
  /** Whether a name is a named type: RAML 0.8 schemas refer to each other by name (`"$ref": "item"`). */
  isNamed?: ((name: string) => boolean) | undefined;
}

export function jsonSchemaPassthrough(text: string, ctx: PassthroughContext): JsonSchema {
  const parsed = parse(text, ctx.name, ctx.file);
  const dropped = new Set<string>();
  const st: State = { file: ctx.file, name: ctx.name, dropped, stack: ctx.file ? [ctx.file] : [], isNamed: ctx.isNamed ?? (() => false) };
  // Local references are inlined (types and validators then need no JSON pointers into the
  // schema); a recursive one stays a reference into the type's own definition.
  const out = inlineLocal(normalise(parsed, st), parsed, st, [], ctx.name ? DEFS_PREFIX + ctx.name : undefined);
  if (dropped.size && ctx.warn) {
    ctx.warn("JSON_SCHEMA_KEYWORDS", `${ctx.name ? `type '${ctx.name}'` : ctx.file ?? "a JSON schema"}: ignored keywords JSON Schema does not define: ${[...dropped].sort().join(", ")}`);
  }
  return out as JsonSchema;
}

function parse(text: string, name: string | undefined, file: string | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConversionError(`invalid JSON schema: ${(e as Error).message}`, name, file);
  }
}

interface State {
  file: string | undefined;
  name: string | undefined;
  dropped: Set<string>;
  /** Files being inlined, to refuse a cycle. */
  stack: string[];
  isNamed: (name: string) => boolean;
}

function normalise(node: unknown, st: State): unknown {
  if (typeof node === "boolean") return node;
  if (!node || typeof node !== "object" || Array.isArray(node)) return node;
  const src = node as JsonSchema;
  if (typeof src.$ref === "string" && !src.$ref.startsWith("#")) {
    const named = src.$ref.replace(/#$/, "");
    // Marked, so that inlineLocal turns it into a reference to the named type, not a pointer here.
    return st.isNamed(named) ? { [NAMED_REF]: named } : inlineFile(src.$ref, st);
  }
  const out: JsonSchema = {};
  const required = new Set<string>(Array.isArray(src.required) ? (src.required as string[]) : []);
  for (const [k, v] of Object.entries(src)) {
    if (IDENTITY.has(k)) continue;
    if (k === "$ref") out.$ref = v; // local: inlined afterwards (inlineLocal)
    else if (k === "required") continue; // below: draft-03 booleans on the properties join it
    else if (k === "example") out.examples = [v];
    else if (k === "type" && v === "any") continue; // draft-03
    else if (k === "items" && Array.isArray(v)) out.prefixItems = v.map((x) => normalise(x, st));
    else if (k === "additionalItems") continue; // below, with the tuple it belongs to
    else if (SCHEMA_MAPS.has(k) && v && typeof v === "object") {
      const map: JsonSchema = {};
      for (const [name, child] of Object.entries(v as JsonSchema)) {
        if (k === "properties" && child && typeof child === "object" && typeof (child as JsonSchema).required === "boolean") {
          if ((child as JsonSchema).required) required.add(name);
          const { required: _draft3, ...rest } = child as JsonSchema;
          map[name] = normalise(rest, st);
        } else map[name] = normalise(child, st);
      }
      out[k] = map;
    } else if (SCHEMA_ONE.has(k)) out[k] = normalise(v, st);
    else if (SCHEMA_LIST.has(k) && Array.isArray(v)) out[k] = v.map((x) => normalise(x, st));
    else if (k === "dependencies" && v && typeof v === "object") {
      out[k] = Object.fromEntries(Object.entries(v as JsonSchema).map(([n, d]) => [n, Array.isArray(d) ? d : normalise(d, st)]));
    } else if (KEYWORDS.has(k)) out[k] = v;
    else st.dropped.add(k);
  }
  if (Array.isArray(src.items) && src.additionalItems !== undefined) out.items = normalise(src.additionalItems, st);
  if (required.size) out.required = [...required];
  for (const [flag, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
    if (typeof out[flag] === "boolean") {
      if (out[flag] && out[bound] !== undefined) {
        out[flag] = out[bound];
        delete out[bound];
      } else delete out[flag];
    }
  }
  return out;
}

/** A `$ref` to another file (`address.json`, `common.json#/definitions/phone`), read and inlined. */
function inlineFile(ref: string, st: State): unknown {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) {
    throw new ConversionError(`$ref ${ref}: only files beside the schema can be referenced (no network)`, st.name, st.file);
  }
  const [target = "", fragment = ""] = ref.split("#", 2);
  const file = path.resolve(st.file ? path.dirname(st.file) : process.cwd(), target);
  if (st.stack.includes(file)) throw new ConversionError(`$ref ${ref}: a cycle of schema files (${[...st.stack, file].map((f) => path.basename(f)).join(" -> ")})`, st.name, st.file);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new ConversionError(`$ref ${ref}: cannot read ${path.relative(process.cwd(), file)}`, st.name, st.file);
  }
  const doc = parse(text, st.name, file);
  let target_ = doc;
  for (const part of fragment.split("/").filter(Boolean)) {
    target_ = (target_ as Record<string, unknown> | undefined)?.[decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"))];
    if (target_ === undefined) throw new ConversionError(`$ref ${ref}: no ${fragment} in ${path.basename(file)}`, st.name, st.file);
  }
  // `#` inside the included file means that file.
  const inner: State = { ...st, file, stack: [...st.stack, file] };
  return inlineLocal(normalise(target_, inner), doc, inner, [], undefined);
}

/**
 * Inlines `#/…` references against the document they were written in. A reference met again
 * while it is being inlined (a recursive schema) stays a reference, into `selfRoot` (the
 * named type's definition); without one (a schema in an included file) it is refused.
 */
function inlineLocal(node: unknown, doc: unknown, st: State, resolving: string[], selfRoot: string | undefined): unknown {
  if (Array.isArray(node)) return node.map((x) => inlineLocal(x, doc, st, resolving, selfRoot));
  if (!node || typeof node !== "object") return node;
  const n = node as JsonSchema;
  if (typeof n[NAMED_REF] === "string") return { $ref: DEFS_PREFIX + n[NAMED_REF] };
  if (typeof n.$ref === "string" && n.$ref.startsWith("#")) {
    const ref = n.$ref;
    if (ref === "#" || resolving.includes(ref)) {
      if (selfRoot) return { $ref: selfRoot + ref.slice(1) };
      throw new ConversionError(`$ref ${ref} in ${path.basename(st.file ?? "")}: a recursive schema in an included file`, st.name, st.file);
    }
    let t: unknown = doc;
    for (const part of ref.slice(1).split("/").filter(Boolean)) t = (t as Record<string, unknown> | undefined)?.[decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"))];
    if (t === undefined) throw new ConversionError(`$ref ${ref}: not found${st.file ? ` in ${path.basename(st.file)}` : ""}`, st.name, st.file);
    return inlineLocal(normalise(t, st), doc, st, [...resolving, ref], selfRoot);
  }
  const walk = (v: unknown) => inlineLocal(v, doc, st, resolving, selfRoot);
  return Object.fromEntries(
    Object.entries(n).map(([k, v]) => {
      // Maps from names to schemas: the names are not keywords (a property may be called `enum`).
      if (SCHEMA_MAPS.has(k) && v && typeof v === "object") return [k, Object.fromEntries(Object.entries(v).map(([name, child]) => [name, walk(child)]))];
      // Enum, const, default and example values are data, not schemas.
      return [k, DATA.has(k) ? v : walk(v)];
    }),
  );
}
