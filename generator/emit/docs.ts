// A static HTML reference of the API, rendered from the model with a handlebars template
// (HTML-escaped, unlike the code templates).
import { readFileSync } from "node:fs";
import Handlebars from "handlebars";
import { jsonExampleValue } from "../schema/examples.js";
import { packageFile } from "../home.js";
import type { ApiModel, Body, Example, Param } from "../model/model.js";
import { DEFS_PREFIX, type JsonSchema } from "../model/schema.js";
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
const params = (ps: Param[]) => ps.map((p) => ({ name: p.name, type: typeLabel(p.schema), required: p.required, default: p.default === undefined ? undefined : JSON.stringify(p.default), description: p.description }));
const bodies = (bs: Body[]) => bs.map((b) => ({ mediaType: b.mediaType, type: typeLabel(b.schema), schema: pretty(b.schema), examples: examples(b.examples, isJsonMedia(b.mediaType)) }));

export function renderDocs(model: ApiModel, banner: string): string {
  template ??= Handlebars.create().compile(readFileSync(packageFile("emit/templates/docs.html.hbs"), "utf8"), { strict: false });
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
        { label: "Path parameters", params: params(op.uriParams) },
        { label: "Query parameters", params: params(op.query) },
        { label: "Headers", params: params(op.headers) },
      ].filter((g) => g.params.length),
      security: op.security
        ? [...op.security.alternatives.map((a) => ({ scheme: a.scheme, scopes: a.scopes.join(" ") })), ...(op.security.anonymous ? [{ scheme: "anonymous (no credentials)", scopes: "" }] : [])]
        : undefined,
      bodies: bodies(op.bodies),
      bodyOptional: op.bodies.length > 0 && op.bodies.every((b) => JSON.stringify(b.schema).includes('"type":"null"')),
      responses: op.responses.map((r) => ({
        status: r.status,
        description: r.description,
        headers: r.headers.map((h) => ({ name: h.name, required: h.required, type: typeLabel(h.schema) })),
        bodies: bodies(r.bodies),
      })),
    })),
    types: model.types.map((t) => ({ name: t.name, description: t.description, schema: pretty(t.schema), examples: examples(t.examples, true) })),
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
