import { DEFS_PREFIX, FILE_KEYWORD, type JsonSchema } from "../model/schema.js";
// JSON Schema (as produced by schema.ts) to TypeScript type expressions.

export interface TsContext {
  /** RAML type name -> TypeScript name. */
  names: Map<string, string>;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function propertyKey(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

export function docComment(text: string | undefined, indent: string): string {
  if (!text) return "";
  const lines = text.trim().replace(/\*\//g, "*\\/").split("\n");
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join("\n")}\n${indent} */\n`;
}

function literal(v: unknown): string {
  return v === null ? "null" : JSON.stringify(v);
}

function wrap(t: string): string {
  return /[|&]/.test(t) && !/^[({[]/.test(t) ? `(${t})` : t;
}

function union(parts: string[]): string {
  const uniq = [...new Set(parts)];
  if (uniq.includes("unknown")) return "unknown";
  return uniq.join(" | ") || "never";
}

export function tsType(schema: unknown, ctx: TsContext, indent = ""): string {
  if (schema === true || schema === undefined) return "unknown";
  if (schema === false) return "never";
  const s = schema as JsonSchema;
  if (typeof s.$ref === "string") {
    if (s.$ref.startsWith(DEFS_PREFIX)) {
      const rest = s.$ref.slice(DEFS_PREFIX.length);
      const name = ctx.names.get(rest);
      if (name) return name;
    }
    return "unknown";
  }
  // A form's file: the Web File (Node has it too), what the router hands a handler. Named
  // through globalThis: a spec may have a type of its own called File.
  if (s[FILE_KEYWORD]) return "globalThis.File";
  if ("const" in s) return literal(s.const);
  if (Array.isArray(s.enum)) return union(s.enum.map(literal));
  if (Array.isArray(s.anyOf)) return union(s.anyOf.map((m) => tsType(m, ctx, indent)));
  if (Array.isArray(s.oneOf)) return union(s.oneOf.map((m) => tsType(m, ctx, indent)));
  if (Array.isArray(s.allOf)) return s.allOf.map((m) => wrap(tsType(m, ctx, indent))).join(" & ");
  if (Array.isArray(s.type)) return union(s.type.map((t) => tsType({ ...s, type: t }, ctx, indent)));
  switch (s.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array": {
      const item = tsType(s.items, ctx, indent);
      return /[|&\s]/.test(item) && !item.startsWith("{") ? `Array<${item}>` : `${item}[]`;
    }
    case "object":
      return objectType(s, ctx, indent);
    default:
      if (s.properties) return objectType(s, ctx, indent);
      return "unknown";
  }
}

function objectType(s: JsonSchema, ctx: TsContext, indent: string): string {
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required as string[]) ?? []);
  const inner = indent + "  ";
  const lines: string[] = [];
  const memberTypes: string[] = [];
  for (const [name, p] of Object.entries(props)) {
    const t = tsType(p, ctx, inner);
    memberTypes.push(t);
    lines.push(`${docComment(p.description as string | undefined, inner)}${inner}${propertyKey(name)}${required.has(name) ? "" : "?"}: ${t};`);
  }
  const patterns = Object.values((s.patternProperties ?? {}) as Record<string, JsonSchema>).map((p) => tsType(p, ctx, inner));
  const extra = s.additionalProperties;
  let index: string | undefined;
  if (patterns.length || (extra !== undefined && extra !== false)) {
    const extraType = extra === undefined || extra === false ? [] : [tsType(extra === true ? {} : extra, ctx, inner)];
    index = union([...patterns, ...extraType, ...memberTypes.map((t) => t), ...(required.size < Object.keys(props).length ? ["undefined"] : [])]);
  }
  if (index) lines.push(`${inner}[key: string]: ${index};`);
  if (!lines.length) return extra === false ? "Record<string, never>" : "{ [key: string]: unknown }";
  return `{\n${lines.join("\n")}\n${indent}}`;
}
