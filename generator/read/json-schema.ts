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
  const where = `${ctx.name ? `type '${ctx.name}'` : "a JSON schema"}${ctx.file ? ` (${path.relative(process.cwd(), ctx.file)})` : ""}`;
  const trimmed = text.trim();
  // Specs in the wild: an empty schema file, or one that holds only a schema's name.
  if (trimmed === "") {
    ctx.warn?.("JSON_SCHEMA_EMPTY", `${where}: the schema is empty; anything is accepted there`);
    return {};
  }
  if (/^[A-Za-z_][\w.-]*$/.test(trimmed)) {
    if (trimmed !== ctx.name && ctx.isNamed?.(trimmed)) return { $ref: DEFS_PREFIX + trimmed };
    ctx.warn?.("JSON_SCHEMA_INVALID", `${where}: holds only the name '${trimmed}', not a JSON Schema${trimmed === ctx.name ? " (its own)" : ""}; anything is accepted there`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = parse(text, ctx.name, ctx.file);
  } catch (e) {
    ctx.warn?.("JSON_SCHEMA_INVALID", `${where}: ${(e as Error).message}; anything is accepted there`);
    return {};
  }
  const dropped = new Set<string>();
  const st: State = { file: ctx.file, name: ctx.name, dropped, stack: ctx.file ? [ctx.file] : [], isNamed: ctx.isNamed ?? (() => false), repaired: [], pointer: "#" };
  // Local references are inlined (types and validators then need no JSON pointers into the
  // schema); a recursive one stays a reference into the type's own definition.
  const out = inlineLocal(normalise(parsed, st), parsed, st, [], ctx.name ? DEFS_PREFIX + ctx.name : undefined);
  if (dropped.size && ctx.warn) ctx.warn("JSON_SCHEMA_KEYWORDS", `${where}: ignored keywords JSON Schema does not define: ${[...dropped].sort().join(", ")}`);
  for (const r of st.repaired) ctx.warn?.("JSON_SCHEMA_REPAIRED", `${where} at ${r}`);
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
  /** What was read another way than written, or left out: `#/pointer: what`. */
  repaired: string[];
  /** Where the schema being read is, as a JSON pointer into its document. */
  pointer: string;
}

/** Keywords whose value is a number (written as text in some specs: `"minLength": "2"`). */
const NUMBERS = new Set(["minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "minProperties", "maxProperties"]);

/** JSON Schema's types, and the names specs use for them. */
const TYPES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);
const TYPE_ALIASES: Record<string, string> = { int: "integer", long: "integer", float: "number", double: "number", bool: "boolean", timestamp: "string", datetime: "string", "date-time": "string", date: "string", text: "string" };

/**
 * A `type` as specs write it, as JSON Schema says it: a known type or a list of them; an
 * alias (`int`, `timestamp`) as its type; draft-03's schemas among the types as alternatives
 * (`anyOf`); anything else left out (any type), said in `st.repaired`.
 */
function typeOf(v: unknown, st: State, at: string): { type?: unknown; anyOf?: unknown[] } {
  const one = (t: unknown): string | undefined => {
    if (typeof t !== "string") return undefined;
    const lower = t.toLowerCase();
    return TYPES.has(lower) ? lower : TYPE_ALIASES[lower];
  };
  const list = Array.isArray(v) ? v : [v];
  if (list.some((t) => t === "any")) return {};
  const types: string[] = [];
  const schemas: unknown[] = [];
  for (const [i, t] of list.entries()) {
    const known = one(t);
    if (known) {
      if (known !== t) st.repaired.push(`${at}: type ${JSON.stringify(t)} read as ${JSON.stringify(known)}`);
      if (!types.includes(known)) types.push(known);
    } else if (t && typeof t === "object" && !Array.isArray(t)) schemas.push(normalise(t, { ...st, pointer: `${at}/${i}` }));
    else {
      st.repaired.push(`${at}: type ${JSON.stringify(t)} is none of JSON Schema's; left out, so any type is accepted there`);
      return {};
    }
  }
  if (schemas.length) return { anyOf: [...types.map((t) => ({ type: t })), ...schemas] };
  if (!types.length) return {};
  return { type: types.length === 1 ? types[0] : types };
}

function normalise(node: unknown, st: State): unknown {
  if (typeof node === "boolean") return node;
  // A property written as a type's name (`"properties": { "id": "string" }`): that type.
  if (typeof node === "string") {
    const t = typeOf(node, st, st.pointer);
    if (!t.type) st.repaired.push(`${st.pointer}: a schema written as ${JSON.stringify(node)}; anything is accepted there`);
    else st.repaired.push(`${st.pointer}: a schema written as ${JSON.stringify(node)} read as {"type": ${JSON.stringify(t.type)}}`);
    return t;
  }
  if (!node || typeof node !== "object" || Array.isArray(node)) return node;
  const src = node as JsonSchema;
  if (typeof src.$ref === "string" && !src.$ref.startsWith("#")) {
    const named = src.$ref.replace(/#$/, "");
    // Marked, so that inlineLocal turns it into a reference to the named type, not a pointer here.
    return st.isNamed(named) ? { [NAMED_REF]: named } : inlineFile(src.$ref, st);
  }
  const out: JsonSchema = {};
  // `required` as a list of names (draft-04 on); draft-03's `true` on the property itself is read below.
  const required = new Set<string>(Array.isArray(src.required) ? (src.required as unknown[]).filter((n): n is string => typeof n === "string") : []);
  const at = (...parts: (string | number)[]) => `${st.pointer}/${parts.map((p) => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`;
  const under = (child: unknown, ...parts: (string | number)[]) => normalise(child, { ...st, pointer: at(...parts) });
  for (const [k, v] of Object.entries(src)) {
    if (IDENTITY.has(k)) continue;
    if (k === "$ref") out.$ref = v; // local: inlined afterwards (inlineLocal)
    else if (k === "required") continue; // below: draft-03 booleans on the properties join it
    else if (k === "example") out.examples = [v];
    else if (k === "type") Object.assign(out, typeOf(v, st, at(k)));
    else if (k === "items" && Array.isArray(v)) {
      // draft-04 tuples; an empty one says nothing.
      if (v.length) out.prefixItems = v.map((x, i) => under(x, k, i));
    } else if (k === "additionalItems") continue; // below, with the tuple it belongs to
    else if (k === "enum" && !Array.isArray(v)) {
      st.repaired.push(`${at(k)}: enum ${JSON.stringify(v)} read as [${JSON.stringify(v)}]`);
      out.enum = [v];
    } else if ((k === "format" || k === "pattern") && typeof v !== "string") st.repaired.push(`${at(k)}: ${k} ${JSON.stringify(v)} is not text; left out`);
    else if (NUMBERS.has(k) && typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) {
      st.repaired.push(`${at(k)}: ${k} ${JSON.stringify(v)} read as ${Number(v)}`);
      out[k] = Number(v);
    }
    else if (SCHEMA_MAPS.has(k) && v && typeof v === "object") {
      const map: JsonSchema = {};
      for (const [name, child] of Object.entries(v as JsonSchema)) {
        if (k === "properties" && child && typeof child === "object" && typeof (child as JsonSchema).required === "boolean") {
          if ((child as JsonSchema).required) required.add(name);
          const { required: _draft3, ...rest } = child as JsonSchema;
          map[name] = under(rest, k, name);
        } else map[name] = under(child, k, name);
      }
      out[k] = map;
    } else if (SCHEMA_ONE.has(k)) out[k] = under(v, k);
    else if (SCHEMA_LIST.has(k) && Array.isArray(v)) out[k] = v.map((x, i) => under(x, k, i));
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

/**
 * A `$ref` to another file (`address.json`, `common.json#/definitions/phone`), read and inlined.
 * One that cannot be (a URL: no network at generation; a file that is missing, not JSON, or
 * part of a cycle) accepts anything where it stands, said in `st.repaired`.
 */
function inlineFile(ref: string, st: State): unknown {
  const giveUp = (why: string) => {
    st.repaired.push(`${st.pointer}: $ref ${ref}: ${why}; anything is accepted there`);
    return {};
  };
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return giveUp("only files beside the schema can be referenced (no network)");
  const [target = "", fragment = ""] = ref.split("#", 2);
  const file = path.resolve(st.file ? path.dirname(st.file) : process.cwd(), target);
  if (st.stack.includes(file)) return giveUp(`a cycle of schema files (${[...st.stack, file].map((f) => path.basename(f)).join(" -> ")})`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return giveUp(`cannot read ${path.relative(process.cwd(), file)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return giveUp(`${path.basename(file)} is not JSON (${(e as Error).message})`);
  }
  let target_ = doc;
  for (const part of fragment.split("/").filter(Boolean)) {
    target_ = (target_ as Record<string, unknown> | undefined)?.[decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"))];
    if (target_ === undefined) return giveUp(`no ${fragment} in ${path.basename(file)}`);
  }
  // `#` inside the included file means that file.
  const inner: State = { ...st, file, stack: [...st.stack, file], pointer: `#${fragment}` };
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
      st.repaired.push(`${ref} in ${path.basename(st.file ?? "")}: a recursive schema in an included file; anything is accepted there`);
      return {};
    }
    let t: unknown = doc;
    for (const part of ref.slice(1).split("/").filter(Boolean)) t = (t as Record<string, unknown> | undefined)?.[decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"))];
    if (t === undefined) {
      st.repaired.push(`$ref ${ref}: not found${st.file ? ` in ${path.basename(st.file)}` : ""}; anything is accepted there`);
      return {};
    }
    return inlineLocal(normalise(t, { ...st, pointer: ref }), doc, st, [...resolving, ref], selfRoot);
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
