// The model as an OpenAPI 3.1 document: the same JSON Schemas (OpenAPI 3.1 is JSON Schema
// 2020-12), with named types under components/schemas.
import { namePattern, type ApiModel, type Body, type Example, type Operation, type Param, type SecurityScheme } from "../model/model.js";
import { jsonExampleValue } from "../schema/examples.js";
import { DEFS_PREFIX, FILE_KEYWORD, type JsonSchema } from "../model/schema.js";
import { isJsonMedia } from "../model/media.js";

const COMPONENTS = "#/components/schemas/";

function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== "object") return schema;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith(DEFS_PREFIX) ? COMPONENTS + v.slice(DEFS_PREFIX.length) : rebase(v);
  }
  // A RAML file, as OpenAPI tools know one (the facets stay, as an extension).
  const file = out[FILE_KEYWORD] as { fileTypes?: string[]; minLength?: number; maxLength?: number } | undefined;
  if (file) {
    Object.assign(out, { type: "string", format: "binary" });
    if (file.fileTypes?.length === 1) out["contentMediaType"] = file.fileTypes[0];
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

/** Query parameters named by patterns, as OpenAPI says free-form ones: one exploded object. */
function patternQuery(query: Param[]): JsonSchema[] {
  const patterns = query.filter((p) => namePattern(p.name) !== undefined);
  if (!patterns.length) return [];
  const patternProperties = Object.fromEntries(patterns.map((p) => [namePattern(p.name)!, rebase(p.schema)]));
  return [{ name: "patternParameters", in: "query", style: "form", explode: true, description: `Parameters named ${patterns.map((p) => p.name).join(", ")}`, schema: { type: "object", patternProperties } }];
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
  if (op.displayName) out["summary"] = op.displayName;
  if (op.description) out.description = op.description;
  const params = [
    ...op.uriParams.map((p) => parameter(p, "path")),
    ...op.query.filter((p) => namePattern(p.name) === undefined).map((p) => parameter(p, "query")),
    ...patternQuery(op.query),
    ...op.headers.map((p) => parameter(p, "header")),
  ];
  if (params.length) out["parameters"] = params;
  if (op.bodies.length) {
    const optional = op.bodies.every((b) => JSON.stringify(b.schema).includes('"type":"null"'));
    out["requestBody"] = { required: !optional, content: content(op.bodies) };
  }
  const responses: JsonSchema = {};
  for (const r of op.responses) {
    const resp: JsonSchema = { description: r.description ?? String(r.status) };
    if (r.headers.length) {
      const headers: JsonSchema = {};
      for (const h of r.headers) {
        headers[h.name] = { required: h.required, schema: rebase(h.schema), ...(h.description ? { description: h.description } : {}) };
      }
      resp["headers"] = headers;
    }
    if (r.bodies.length) resp["content"] = content(r.bodies);
    responses[String(r.status)] = resp;
  }
  if (!op.responses.length) responses.default = { description: "not specified" };
  out["responses"] = responses;
  if (op.security) {
    // OpenAPI lists alternatives as requirement objects; `{}` is RAML's `null` (anonymous).
    out["security"] = [...op.security.alternatives.map((a) => ({ [a.scheme]: a.scopes })), ...(op.security.anonymous ? [{}] : [])];
  }
  return out;
}

/** A RAML security scheme as an OpenAPI one (OpenAPI has no OAuth 1.0 or custom types: HTTP auth schemes or API keys stand in). */
function securityScheme(s: SecurityScheme): JsonSchema {
  const out: JsonSchema = {};
  const settings = s.settings as Record<string, unknown>;
  switch (s.type) {
    case "Basic Authentication":
      Object.assign(out, { type: "http", scheme: "basic" });
      break;
    case "Digest Authentication":
      Object.assign(out, { type: "http", scheme: "digest" });
      break;
    case "OAuth 1.0":
      Object.assign(out, { type: "http", scheme: "OAuth" });
      break;
    case "OAuth 2.0": {
      const scopes = Object.fromEntries(((settings["scopes"] as string[] | undefined) ?? []).map((sc) => [sc, sc]));
      const flows: JsonSchema = {};
      for (const grant of (settings["authorizationGrants"] as string[] | undefined) ?? []) {
        if (grant === "authorization_code" || grant === "code") flows["authorizationCode"] = { authorizationUrl: settings["authorizationUri"], tokenUrl: settings["accessTokenUri"], scopes };
        else if (grant === "implicit" || grant === "token") flows["implicit"] = { authorizationUrl: settings["authorizationUri"], scopes };
        else if (grant === "password") flows["password"] = { tokenUrl: settings["accessTokenUri"], scopes };
        else if (grant === "client_credentials" || grant === "credentials") flows["clientCredentials"] = { tokenUrl: settings["accessTokenUri"], scopes };
      }
      if (!Object.keys(flows).length) flows["clientCredentials"] = { tokenUrl: settings["accessTokenUri"] ?? "/", scopes };
      Object.assign(out, { type: "oauth2", flows });
      break;
    }
    default: {
      const header = s.headers.find((h) => h.name.toLowerCase() === "authorization");
      if (header) Object.assign(out, { type: "http", scheme: "bearer" });
      else if (s.headers.length) Object.assign(out, { type: "apiKey", in: "header", name: s.headers[0]!.name });
      else if (s.query.length) Object.assign(out, { type: "apiKey", in: "query", name: s.query[0]!.name });
      else Object.assign(out, { type: "http", scheme: s.type.replace(/^x-/, "") });
    }
  }
  const description = [s.description, `RAML type: ${s.type}.`].filter(Boolean).join(" ");
  return { ...out, description };
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
    components: {
      schemas,
      ...(model.securitySchemes.length ? { securitySchemes: Object.fromEntries(model.securitySchemes.map((s) => [s.name, securityScheme(s)])) } : {}),
    },
  };
}
