// The model as an OpenAPI 3.1 document: the same JSON Schemas (OpenAPI 3.1 is JSON Schema
// 2020-12), with named types under components/schemas.
import type { ApiModel, Body, Example, Operation, Param } from "./model.js";
import { DEFS_PREFIX, type JsonSchema } from "./schema.js";
import { jsonExampleValue } from "./examples.js";
import { isJsonMedia } from "./validators.js";

const COMPONENTS = "#/components/schemas/";

function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== "object") return schema;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith(DEFS_PREFIX) ? COMPONENTS + v.slice(DEFS_PREFIX.length) : rebase(v);
  }
  return out;
}

function examples(list: Example[], json: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  list.forEach((e, i) => {
    out[e.name ?? (list.length === 1 ? "example" : `example${i + 1}`)] = { value: json ? jsonExampleValue(e.value) : e.value };
  });
  return out;
}

function parameter(p: Param, location: "path" | "query" | "header"): JsonSchema {
  const out: JsonSchema = { name: p.name, in: location, required: location === "path" ? true : p.required && p.default === undefined, schema: rebase(p.schema) };
  if (p.description) out.description = p.description;
  if (p.examples.length) out.examples = examples(p.examples, false);
  if (location === "query" && (p.schema as JsonSchema).type === "array") Object.assign(out, { style: "form", explode: true });
  return out;
}

function content(bodies: Body[]): JsonSchema {
  const out: JsonSchema = {};
  for (const b of bodies) {
    const media: JsonSchema = { schema: rebase(b.schema) };
    if (b.examples.length) media.examples = examples(b.examples, isJsonMedia(b.mediaType));
    out[b.mediaType] = media;
  }
  return out;
}

function operation(op: Operation): JsonSchema {
  const out: JsonSchema = { operationId: op.name };
  if (op.displayName) out.summary = op.displayName;
  if (op.description) out.description = op.description;
  const params = [
    ...op.uriParams.map((p) => parameter(p, "path")),
    ...op.query.map((p) => parameter(p, "query")),
    ...op.headers.map((p) => parameter(p, "header")),
  ];
  if (params.length) out.parameters = params;
  if (op.bodies.length) {
    const optional = op.bodies.every((b) => JSON.stringify(b.schema).includes('"type":"null"'));
    out.requestBody = { required: !optional, content: content(op.bodies) };
  }
  const responses: JsonSchema = {};
  for (const r of op.responses) {
    const resp: JsonSchema = { description: r.description ?? String(r.status) };
    if (r.headers.length) {
      const headers: JsonSchema = {};
      for (const h of r.headers) {
        headers[h.name] = { required: h.required, schema: rebase(h.schema), ...(h.description ? { description: h.description } : {}) };
      }
      resp.headers = headers;
    }
    if (r.bodies.length) resp.content = content(r.bodies);
    responses[String(r.status)] = resp;
  }
  if (!op.responses.length) responses.default = { description: "not specified" };
  out.responses = responses;
  return out;
}

export function openApiDocument(model: ApiModel): JsonSchema {
  const paths: Record<string, JsonSchema> = {};
  for (const op of model.operations) {
    (paths[op.resourcePath] ??= {})[op.method] = operation(op);
  }
  const schemas: Record<string, unknown> = {};
  for (const t of model.types) schemas[t.name] = rebase(t.schema);
  const info: JsonSchema = { title: model.title, version: model.version ?? "0" };
  if (model.description) info.description = model.description;
  return {
    openapi: "3.1.0",
    info,
    ...(model.basePath || model.baseUri ? { servers: [{ url: model.basePath || "/" }] } : {}),
    paths,
    components: { schemas },
  };
}
