// A static HTML reference of the API, rendered from the model with a handlebars template
// (HTML-escaped, unlike the code templates).
import { readFileSync } from "node:fs";
import Handlebars from "handlebars";
import { jsonExampleValue } from "../schema/examples.js";
import { packageFile } from "../home.js";
import type { ApiModel, Body, Example, Param } from "../model/model.js";
import { DEFS_PREFIX, FILE_KEYWORD, type JsonSchema } from "../model/schema.js";
import { isJsonMedia } from "../model/media.js";

let template: Handlebars.TemplateDelegate | undefined;

function typeLabel(s: JsonSchema | undefined): string {
  if (!s) return "any";
  if (typeof s.$ref === "string" && s.$ref.startsWith(DEFS_PREFIX)) return s.$ref.slice(DEFS_PREFIX.length);
  if (Array.isArray(s.anyOf)) return s.anyOf.map((m) => typeLabel(m as JsonSchema)).join(" | ");
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.type === "array") return `${typeLabel(s.items as JsonSchema)}[]`;
  if (s.type === "null") return "nil";
  return typeof s.type === "string" ? s.type : "any";
}

const pretty = (v: unknown) => JSON.stringify(v, null, 2);
const examples = (list: Example[], json: boolean) => list.map((e) => ({ name: e.name, value: typeof e.value === "string" && !json ? e.value : pretty(json ? jsonExampleValue(e.value) : e.value) }));

/**
 * What a value must be, in words, from its schema's facets (those of a named scalar type it
 * refers to included): bounds, lengths, pattern, format, choices, items, a file's types and size.
 */
export function facetsOf(schema: JsonSchema | undefined, defs: Record<string, JsonSchema>, seen = new Set<string>()): string[] {
  if (!schema) return [];
  const out: string[] = [];
  if (typeof schema.$ref === "string" && schema.$ref.startsWith(DEFS_PREFIX)) {
    const name = schema.$ref.slice(DEFS_PREFIX.length);
    const target = defs[name];
    // A named scalar's facets are the value's; an object's are its own table's.
    if (target && !seen.has(name) && target.type !== "object" && !target.properties) out.push(...facetsOf(target, defs, new Set([...seen, name])));
    return out;
  }
  const num = (k: string) => (typeof schema[k] === "number" ? (schema[k] as number) : undefined);
  const min = num("minimum");
  const max = num("maximum");
  if (min !== undefined && max !== undefined) out.push(`${min} to ${max}`);
  else if (min !== undefined) out.push(`at least ${min}`);
  else if (max !== undefined) out.push(`at most ${max}`);
  if (num("exclusiveMinimum") !== undefined) out.push(`more than ${num("exclusiveMinimum")}`);
  if (num("exclusiveMaximum") !== undefined) out.push(`less than ${num("exclusiveMaximum")}`);
  if (num("multipleOf") !== undefined) out.push(`a multiple of ${num("multipleOf")}`);
  const lengths = (lo: number | undefined, hi: number | undefined, unit: string) => {
    if (lo !== undefined && hi !== undefined) out.push(lo === hi ? `${lo} ${unit}` : `${lo} to ${hi} ${unit}`);
    else if (lo !== undefined) out.push(`at least ${lo} ${unit}`);
    else if (hi !== undefined) out.push(`at most ${hi} ${unit}`);
  };
  lengths(num("minLength"), num("maxLength"), "characters");
  lengths(num("minItems"), num("maxItems"), "items");
  lengths(num("minProperties"), num("maxProperties"), "properties");
  if (schema.uniqueItems === true) out.push("items unique");
  if (typeof schema["pattern"] === "string") out.push(`pattern ${schema["pattern"]}`);
  if (typeof schema["format"] === "string") out.push(`format ${schema["format"]}`);
  if (Array.isArray(schema.enum)) out.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  if ("const" in schema) out.push(`exactly ${JSON.stringify(schema.const)}`);
  const file = schema[FILE_KEYWORD] as { fileTypes?: string[]; minLength?: number; maxLength?: number } | undefined;
  if (file) {
    if (file.fileTypes) out.push(`a file of ${file.fileTypes.join(", ")}`);
    lengths(file.minLength, file.maxLength, "bytes");
  }
  if (schema.type === "array" && schema.items) {
    const items = facetsOf(schema.items as JsonSchema, defs, seen);
    if (items.length) out.push(`each ${items.join(", ")}`);
  }
  return out;
}

/** One row of a parameter or property table: what the docs say of it is what the router checks. */
function row(name: string, schema: JsonSchema, required: boolean, dflt: unknown, description: unknown, defs: Record<string, JsonSchema>, where: string) {
  return {
    name,
    where,
    type: typeLabel(schema),
    required,
    default: dflt === undefined ? undefined : JSON.stringify(dflt),
    facets: facetsOf(schema, defs).join("; "),
    description: typeof description === "string" ? description : undefined,
  };
}

/** A parameter is required when it must be sent: declared required and without a default. */
const params = (ps: Param[], location: string, defs: Record<string, JsonSchema>) =>
  ps.map((p) => row(p.name, p.schema, location === "path" || (p.required && p.default === undefined), p.default, p.description, defs, `${location}/${location === "headers" ? p.name.toLowerCase() : p.name}`));

/** An object schema's properties as rows (the named type it is, resolved). */
function properties(schema: JsonSchema | undefined, defs: Record<string, JsonSchema>, where: string) {
  let s = schema;
  if (s && typeof s.$ref === "string" && s.$ref.startsWith(DEFS_PREFIX)) s = defs[s.$ref.slice(DEFS_PREFIX.length)];
  const props = (s?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s?.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, p]) => row(name, p, required.has(name), p.default, p.description, defs, `${where}/${name}`));
}

const bodies = (bs: Body[], defs: Record<string, JsonSchema>, where: string) =>
  bs.map((b) => ({ mediaType: b.mediaType, type: typeLabel(b.schema), properties: properties(b.schema, defs, where), schema: pretty(b.schema), examples: examples(b.examples, isJsonMedia(b.mediaType)) }));

export function renderDocs(model: ApiModel, banner: string): string {
  if (!template) {
    const hb = Handlebars.create();
    // A parameter or property table: name, type, required, default, what the value must be.
    hb.registerPartial(
      "rows",
      `<table><tr><th>name</th><th>type</th><th>required</th><th>default</th><th>constraints</th><th>description</th></tr>
  {{#each rows}}<tr data-field="{{where}}" data-required="{{#if required}}yes{{else}}no{{/if}}"><td><code>{{name}}</code></td><td><code>{{type}}</code></td><td>{{#if required}}yes{{else}}no{{/if}}</td><td>{{#if default}}<code>{{default}}</code>{{/if}}</td><td class="facets">{{facets}}</td><td>{{description}}</td></tr>{{/each}}
  </table>`,
    );
    template = hb.compile(readFileSync(packageFile("emit/templates/docs.html.hbs"), "utf8"), { strict: false });
  }
  const defs = Object.fromEntries(model.types.map((t) => [t.name, t.schema]));
  return template({
    banner,
    title: model.title,
    version: model.version,
    baseUri: model.baseUri,
    description: model.description,
    operations: model.operations.map((op) => ({
      name: op.name,
      method: op.method.toUpperCase(),
      methodClass: op.method,
      path: op.path,
      description: op.description,
      paramGroups: [
        { label: "Path parameters", params: params(op.uriParams, "path", defs) },
        { label: "Query parameters", params: params(op.query, "query", defs) },
        { label: "Headers", params: params(op.headers, "headers", defs) },
      ].filter((g) => g.params.length),
      security: op.security
        ? [...op.security.alternatives.map((a) => ({ scheme: a.scheme, scopes: a.scopes.join(" ") })), ...(op.security.anonymous ? [{ scheme: "anonymous (no credentials)", scopes: "" }] : [])]
        : undefined,
      bodies: bodies(op.bodies, defs, "body"),
      bodyOptional: op.bodies.length > 0 && op.bodies.every((b) => JSON.stringify(b.schema).includes('"type":"null"')),
      responses: op.responses.map((r) => ({
        status: r.status,
        description: r.description,
        headers: r.headers.map((h) => ({ name: h.name, required: h.required, type: typeLabel(h.schema), facets: facetsOf(h.schema, defs).join("; ") })),
        bodies: bodies(r.bodies, defs, "body"),
      })),
    })),
    types: model.types.map((t) => ({
      name: t.name,
      description: t.description,
      type: typeLabel(t.schema),
      facets: facetsOf(t.schema, defs).join("; "),
      properties: properties(t.schema, defs, t.name),
      schema: pretty(t.schema),
      examples: examples(t.examples, true),
    })),
    securitySchemes: model.securitySchemes.map((sc) => ({
      name: sc.name,
      type: sc.type,
      description: sc.description,
      challenge: sc.challenge,
      carries: [...sc.headers.map((h) => `header ${h.name}`), ...sc.query.map((q) => `query ${q.name}`)].join(", "),
      settings: Object.keys(sc.settings).length ? pretty(sc.settings) : undefined,
    })),
  });
}
