// RAML 1.0 types (raml-1-parser's JSON output) to JSON Schema draft 2020-12.
//
// Every named type becomes one `$defs` entry, referenced as `#/$defs/<Name>`. Object
// inheritance is flattened rather than expressed with `allOf`, so that
// `additionalProperties: false` on a subtype keeps accepting inherited properties.
import path from "node:path";
import { DEFS_PREFIX, FILE_KEYWORD, type JsonSchema } from "../model/schema.js";
import { ConversionError } from "./conversion-error.js";
import { jsonSchemaPassthrough } from "./json-schema.js";
import type { RamlJson } from "./raml-json.js";

// RFC 3339 partial-time and RAML datetime-only (full-date "T" partial-time, no offset).
// The ISO formats from ajv-formats check the calendar (Feb 30, leap seconds); the patterns
// forbid the time zone those formats would otherwise allow.
const TIME_ONLY = "^(?:[01]\\d|2[0-3]):[0-5]\\d:(?:[0-5]\\d|60)(?:\\.\\d+)?$";
const DATETIME_ONLY = "^\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])T(?:[01]\\d|2[0-3]):[0-5]\\d:(?:[0-5]\\d|60)(?:\\.\\d+)?$";
// RAML's `format: rfc2616`: the three HTTP-date forms of RFC 2616 section 3.3.1
// (IMF-fixdate, RFC 850, asctime).
const HMS = "(?:[01]\\d|2[0-3]):[0-5]\\d:(?:[0-5]\\d|60)";
const MON = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const RFC2616 =
  `^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?:0[1-9]|[12]\\d|3[01]) ${MON} \\d{4} ${HMS} GMT` +
  `|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (?:0[1-9]|[12]\\d|3[01])-${MON}-\\d{2} ${HMS} GMT` +
  `|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MON} (?: [1-9]|[12]\\d|3[01]) ${HMS} \\d{4})$`;

const INT_FORMATS: Record<string, [number, number] | null> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  int: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  // Beyond 2^53 JavaScript numbers are not exact; only the sign is enforced.
  int64: null,
  long: null,
  uint64: [0, Infinity],
};

const BUILTINS = new Set([
  "string", "number", "integer", "boolean", "nil", "any", "object", "array", "union",
  "date-only", "time-only", "datetime-only", "datetime", "file",
]);

// Keys of a type declaration that do not constrain values.
const META = new Set([
  "name", "displayName", "description", "required", "mediaType", "typePropertyKind", "sourceMap",
  "examples", "example", "simplifiedExamples", "structuredExample", "annotations", "default", "__METADATA__",
  "key", "repeat", "fixedFacets", "facets", "xml", "usage", "schemaPath", "type", "scalarsAnnotations",
  "allowedTargets", "uses", "parametrizedProperties", "discriminator",
]);

function isPlainRef(decl: RamlJson, named: (n: string) => boolean): string | undefined {
  if (typeof decl === "string") return named(decl) ? decl : undefined;
  const t = decl.type;
  if (!Array.isArray(t) || t.length !== 1 || typeof t[0] !== "string" || !named(t[0])) return undefined;
  if (decl.typePropertyKind === "JSON") return undefined;
  for (const k of Object.keys(decl)) if (!META.has(k)) return undefined;
  return t[0];
}

export class SchemaConverter {
  private readonly cache = new Map<string, JsonSchema>();
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly types: Map<string, RamlJson>,
    /** Told about what is accepted but not checked (XML schemas, unknown JSON Schema keywords). */
    private readonly warn: (code: string, message: string) => void = () => {},
    /** The root spec's folder: included schema files are relative to it. */
    private readonly specDir: string = process.cwd(),
  ) {}

  isNamed = (name: string): boolean => this.types.has(name);

  /** The full schema of a named type (its `$defs` entry). */
  named(name: string): JsonSchema {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const decl = this.types.get(name);
    if (decl === undefined) throw new ConversionError(`unknown type '${name}'`, name);
    if (this.inProgress.has(name)) throw new ConversionError(`type '${name}' inherits from itself`, name);
    this.inProgress.add(name);
    try {
      const s = this.declaration(decl, name);
      this.cache.set(name, s);
      return s;
    } finally {
      this.inProgress.delete(name);
    }
  }

  /** Schema for an anonymous use of a type (a property, a parameter, a body). */
  convert(decl: RamlJson): JsonSchema {
    const ref = isPlainRef(decl, this.isNamed);
    if (ref !== undefined) {
      const s: JsonSchema = { $ref: DEFS_PREFIX + ref };
      if (typeof decl === "object") annotate(s, decl);
      return s;
    }
    if (typeof decl === "string") return this.builtin(decl, {});
    return this.declaration(decl);
  }

  private declaration(decl: RamlJson, ownName?: string): JsonSchema {
    if (typeof decl === "string") return this.convert(decl);
    if (decl.typePropertyKind === "JSON") {
      const file = typeof decl.schemaPath === "string" ? path.resolve(this.specDir, decl.schemaPath) : undefined;
      return jsonSchemaPassthrough(decl.type[0], { ...(ownName ? { name: ownName } : {}), ...(file ? { file } : {}), warn: this.warn, isNamed: this.isNamed });
    }
    if (decl.typePropertyKind === "XML") {
      // XML bodies pass through as they are: nothing here can check an XML Schema.
      this.warn("XML_SCHEMA", `${ownName ? `type '${ownName}'` : "a body"} is an XML schema: XML bodies pass through unvalidated`);
      return { description: "An XML document (its XML Schema is not checked)." };
    }
    const supers: RamlJson[] = Array.isArray(decl.type) ? decl.type : [decl.type ?? (decl.properties ? "object" : "string")];
    let schema: JsonSchema;
    if (supers.length === 1 && typeof supers[0] === "string" && BUILTINS.has(supers[0])) {
      schema = this.builtin(supers[0], decl);
    } else if (supers.length === 1 && typeof supers[0] === "string" && !ownName && isPlainRef(decl, this.isNamed)) {
      schema = { $ref: DEFS_PREFIX + supers[0] };
    } else {
      // Inheritance: flatten the parents, then apply this declaration's own facets.
      const parents = supers.map((s) => this.expand(s));
      const flatten = (list: JsonSchema[]) => {
        let merged = list[0]!;
        for (const p of list.slice(1)) merged = mergeParents(merged, p, ownName);
        return this.builtin(kindOf(merged), decl, merged);
      };
      // A union among several parents (`[HasHome, Dog | Cat]`) distributes: HasHome and Dog, or
      // HasHome and Cat.
      const at = parents.length > 1 ? parents.findIndex((p) => Array.isArray(p.anyOf)) : -1;
      if (at >= 0) {
        const members = (parents[at]!.anyOf as JsonSchema[]).map((m) => (typeof m.$ref === "string" && m.$ref.startsWith(DEFS_PREFIX) ? this.expand(m.$ref.slice(DEFS_PREFIX.length)) : m));
        schema = { anyOf: members.map((m) => flatten(parents.map((p, i) => (i === at ? m : p)))) };
      } else schema = flatten(parents);
    }
    const disc = this.discriminatorOf(decl);
    if (disc && schema.type === "object") {
      const value = decl.discriminatorValue ?? (disc.inherited ? ownName : undefined);
      if (value !== undefined) {
        const props = { ...(schema.properties as Record<string, JsonSchema>) };
        props[disc.property] = { type: "string", const: value };
        schema.properties = props;
        schema.required = uniq([...((schema.required as string[]) ?? []), disc.property]);
      }
    }
    annotate(schema, decl);
    if (ownName) {
      const ex = (decl.examples ?? []).filter((e: RamlJson) => e.strict !== false).map((e: RamlJson) => e.value);
      if (ex.length) schema.examples = ex;
    }
    return schema;
  }

  /** A parent type, inlined so that it can be merged. */
  private expand(t: RamlJson): JsonSchema {
    if (typeof t === "string") {
      if (BUILTINS.has(t)) return this.builtin(t, {});
      const s = this.named(t);
      return s.$ref ? this.expand(String(s.$ref).slice(DEFS_PREFIX.length)) : structuredClone(stripAnnotations(s));
    }
    return this.declaration(t);
  }

  private discriminatorOf(decl: RamlJson): { property: string; inherited: boolean } | undefined {
    if (typeof decl !== "object" || decl === null) return undefined;
    if (decl.discriminator) return { property: decl.discriminator, inherited: false };
    for (const s of Array.isArray(decl.type) ? decl.type : []) {
      const parent = typeof s === "string" ? this.types.get(s) : s;
      const d = this.discriminatorOf(parent);
      if (d) return { property: d.property, inherited: true };
    }
    return undefined;
  }

  private builtin(kind: string, decl: RamlJson, base: JsonSchema = {}): JsonSchema {
    const s: JsonSchema = { ...base };
    const set = (k: string, v: unknown) => {
      if (v !== undefined) s[k] = v;
    };
    switch (kind) {
      case "string":
        s.type = "string";
        set("pattern", decl.pattern);
        set("minLength", decl.minLength);
        set("maxLength", decl.maxLength);
        break;
      case "number":
      case "integer": {
        const fmt = decl.format as string | undefined;
        s.type = kind === "integer" || (fmt !== undefined && fmt in INT_FORMATS) || base.type === "integer" ? "integer" : "number";
        const bounds = fmt ? INT_FORMATS[fmt] : undefined;
        if (bounds) {
          s.minimum = bounds[0];
          if (Number.isFinite(bounds[1])) s.maximum = bounds[1];
        }
        if (decl.minimum !== undefined) s.minimum = Math.max(decl.minimum, (s.minimum as number) ?? -Infinity);
        if (decl.maximum !== undefined) s.maximum = Math.min(decl.maximum, (s.maximum as number) ?? Infinity);
        set("multipleOf", decl.multipleOf);
        break;
      }
      case "boolean":
        s.type = "boolean";
        break;
      case "nil":
        s.type = "null";
        break;
      case "any":
        break;
      case "file": {
        // Any value to JSON Schema (a form's file is not JSON); its facets for the router, which
        // checks a file's media type and size itself, and for types and docs.
        const file: JsonSchema = {};
        if (Array.isArray(decl.fileTypes) && decl.fileTypes.length) file["fileTypes"] = decl.fileTypes.map(String);
        if (decl.minLength !== undefined) file["minLength"] = decl.minLength;
        if (decl.maxLength !== undefined) file["maxLength"] = decl.maxLength;
        s[FILE_KEYWORD] = file;
        break;
      }
      case "date-only":
        Object.assign(s, { type: "string", format: "date" });
        break;
      case "time-only":
        Object.assign(s, { type: "string", format: "iso-time", pattern: TIME_ONLY });
        break;
      case "datetime-only":
        Object.assign(s, { type: "string", format: "iso-date-time", pattern: DATETIME_ONLY });
        break;
      case "datetime":
        if (decl.format === "rfc2616") Object.assign(s, { type: "string", pattern: RFC2616 });
        else Object.assign(s, { type: "string", format: "date-time" });
        break;
      case "array": {
        s.type = "array";
        const items = Array.isArray(decl.items) ? decl.items[0] : decl.items;
        if (items !== undefined) s.items = this.convert(items);
        set("minItems", decl.minItems);
        set("maxItems", decl.maxItems);
        if (decl.uniqueItems) s.uniqueItems = true;
        break;
      }
      case "union":
        delete s.type;
        // An inline union used as a parent (`type: A | B` with facets) keeps its members.
        if (decl.anyOf) s.anyOf = (decl.anyOf as RamlJson[]).map((m) => this.convert(m));
        break;
      case "object":
        this.object(s, decl);
        break;
      default:
        throw new ConversionError(`unsupported type '${kind}'`);
    }
    if (decl.enum !== undefined) s.enum = decl.enum;
    return s;
  }

  private object(s: JsonSchema, decl: RamlJson): void {
    s.type = "object";
    const props: Record<string, JsonSchema> = { ...((s.properties as Record<string, JsonSchema>) ?? {}) };
    const patterns: Record<string, JsonSchema> = { ...((s.patternProperties as Record<string, JsonSchema>) ?? {}) };
    const required = new Set<string>((s.required as string[]) ?? []);
    for (const p of (decl.properties ?? []) as RamlJson[]) {
      const name: string = p.name;
      const m = /^\/(.*)\/$/.exec(name);
      if (m) {
        // Pattern properties are never required in RAML.
        patterns[m[1]!] = this.convert(p);
        continue;
      }
      props[name] = this.convert(p);
      if (p.required !== false) required.add(name);
      else required.delete(name);
    }
    if (Object.keys(props).length) s.properties = props;
    if (Object.keys(patterns).length) s.patternProperties = explicitPrevails(patterns, Object.keys(props));
    if (required.size) s.required = [...required];
    else delete s.required;
    if (decl.additionalProperties === false) s.additionalProperties = false;
    else if (decl.additionalProperties === true) delete s.additionalProperties;
    if (decl.minProperties !== undefined) s.minProperties = decl.minProperties;
    if (decl.maxProperties !== undefined) s.maxProperties = decl.maxProperties;
  }
}

/**
 * RAML: where a pattern property also matches a property declared by name, the declared one
 * prevails. JSON Schema applies both, so such a pattern is rewritten not to match those names
 * (patterns that match none of them are left as written).
 */
function explicitPrevails(patterns: Record<string, JsonSchema>, names: string[]): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [pattern, schema] of Object.entries(patterns)) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(pattern);
    } catch {
      re = undefined; // the parser has said what is wrong with it
    }
    const shadowed = re ? names.filter((n) => re.test(n)) : [];
    const key = shadowed.length ? `^(?!(?:${shadowed.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|")})$)[\\s\\S]*?(?:${pattern})` : pattern;
    out[key] = schema;
  }
  return out;
}

function kindOf(s: JsonSchema): string {
  if (s.anyOf) return "union";
  switch (s.type) {
    case "object":
    case "array":
    case "boolean":
    case "integer":
    case "number":
    case "string":
      return s.type;
    case "null":
      return "nil";
    default:
      return "any";
  }
}

function mergeParents(a: JsonSchema, b: JsonSchema, name?: string): JsonSchema {
  if (a.type === "object" && b.type === "object") {
    return {
      ...a,
      ...b,
      properties: { ...(a.properties as object), ...(b.properties as object) },
      required: uniq([...((a.required as string[]) ?? []), ...((b.required as string[]) ?? [])]),
    };
  }
  if (a.type === b.type) return { ...a, ...b };
  throw new ConversionError(`cannot inherit from both ${String(a.type)} and ${String(b.type)}`, name);
}

function annotate(s: JsonSchema, decl: RamlJson): void {
  if (typeof decl !== "object" || decl === null) return;
  if (typeof decl.description === "string") s.description = decl.description;
  if (decl.default !== undefined) s.default = decl.default;
}

function stripAnnotations(s: JsonSchema): JsonSchema {
  const { description: _d, examples: _e, ...rest } = s;
  return rest;
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
