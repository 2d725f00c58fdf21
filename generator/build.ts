// From raml-1-parser's expanded JSON to the plain ApiModel.
import type { ApiModel, Body, Example, NamedType, Operation, Param, Response } from "./model.js";
import type { RamlJson } from "./raml.js";
import { exampleKey } from "./raml.js";
import { ConversionError, SchemaConverter, type JsonSchema } from "./schema.js";

const HANDLER_NAME_ANNOTATIONS = new Set(["operationName", "handlerName"]);

export function buildModel(spec: RamlJson): ApiModel {
  const decls = new Map<string, RamlJson>();
  for (const t of (spec.types ?? []) as RamlJson[]) decls.set(t.name, t);
  const conv = new SchemaConverter(decls);

  const tsNames = new Map<string, string>();
  const types: NamedType[] = [];
  for (const [name, decl] of decls) {
    const tsName = pascal(name);
    const clash = tsNames.get(tsName);
    if (clash) throw new ConversionError(`types '${clash}' and '${name}' both map to the TypeScript name ${tsName}`, name);
    tsNames.set(tsName, name);
    let schema: JsonSchema;
    try {
      schema = conv.named(name);
    } catch (e) {
      if (e instanceof ConversionError) throw new ConversionError(e.message, e.typeName ?? name, e.file ?? decl.sourceMap?.path);
      throw e;
    }
    types.push({
      name,
      tsName,
      schema,
      description: typeof decl.description === "string" ? decl.description : undefined,
      examples: examplesOf(decl, exampleKey({ type: name })),
      source: decl.sourceMap?.path,
    });
  }

  const version: string | undefined = spec.version;
  const basePath = basePathOf(spec.baseUri, version, spec.baseUriParameters ?? []);
  const baseParams = new Set<string>(((spec.baseUriParameters ?? []) as RamlJson[]).map((p) => p.name));

  const operations: Operation[] = [];
  const walk = (resources: RamlJson[]) => {
    for (const r of resources ?? []) {
      for (const m of r.methods ?? []) operations.push(operation(conv, r, m, basePath, baseParams));
      walk(r.resources);
    }
  };
  walk(spec.resources);

  const seen = new Map<string, Operation>();
  for (const op of operations) {
    const other = seen.get(op.name);
    if (other) {
      throw new ConversionError(
        `handler name '${op.name}' is used by ${other.method.toUpperCase()} ${other.resourcePath} and ${op.method.toUpperCase()} ${op.resourcePath}; set displayName or (operationName) on one of them`,
      );
    }
    seen.set(op.name, op);
  }

  return {
    title: spec.title,
    version,
    description: typeof spec.description === "string" ? spec.description : undefined,
    baseUri: spec.baseUri,
    basePath,
    mediaTypes: spec.mediaType ?? [],
    types,
    operations,
  };
}

function operation(conv: SchemaConverter, r: RamlJson, m: RamlJson, basePath: string, baseParams: Set<string>): Operation {
  const resourcePath: string = r.completeRelativeUri;
  const method: string = m.method;
  const ctx = { resource: resourcePath, method };
  const uriParams = ((m.uriParameters ?? r.uriParameters ?? []) as RamlJson[])
    .filter((p) => !baseParams.has(p.name))
    .map((p) => param(conv, p, exampleKey(ctx)))
    // Path parameters are always required, whatever the declaration says.
    .map((p) => ({ ...p, required: true }));
  const order = [...resourcePath.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
  uriParams.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const explicit = ((m.annotations ?? []) as RamlJson[]).find((a) => HANDLER_NAME_ANNOTATIONS.has(a.name))?.value;
  return {
    name: explicit ? identifier(String(explicit)) : m.displayName ? camel(m.displayName) : nameFromPath(method, resourcePath),
    method,
    path: basePath + resourcePath,
    resourcePath,
    displayName: m.displayName,
    description: typeof m.description === "string" ? m.description : undefined,
    uriParams,
    query: ((m.queryParameters ?? []) as RamlJson[]).map((p) => param(conv, p, exampleKey(ctx))),
    headers: ((m.headers ?? []) as RamlJson[]).map((p) => param(conv, p, exampleKey(ctx))),
    bodies: ((m.body ?? []) as RamlJson[]).map((b) => body(conv, b, exampleKey({ ...ctx, media: b.name }))),
    responses: ((m.responses ?? []) as RamlJson[])
      .map((resp): Response => {
        const code = String(resp.code);
        return {
          status: Number(code),
          description: typeof resp.description === "string" && resp.description ? resp.description : undefined,
          headers: ((resp.headers ?? []) as RamlJson[]).map((p) => param(conv, p, exampleKey({ ...ctx, code }))),
          bodies: ((resp.body ?? []) as RamlJson[]).map((b) => body(conv, b, exampleKey({ ...ctx, code, media: b.name }))),
        };
      })
      .sort((a, b) => a.status - b.status),
  };
}

function param(conv: SchemaConverter, p: RamlJson, where: string): Param {
  return {
    name: p.name,
    required: p.required !== false,
    schema: conv.convert(p),
    default: p.default,
    description: typeof p.description === "string" ? p.description : undefined,
    examples: examplesOf(p, `${where} ${p.name}`),
  };
}

function body(conv: SchemaConverter, b: RamlJson, where: string): Body {
  const schema = conv.convert(b);
  const ref = typeof schema.$ref === "string" ? schema.$ref.slice("#/$defs/".length) : undefined;
  return { mediaType: b.name, schema, typeName: ref, examples: examplesOf(b, where) };
}

function examplesOf(decl: RamlJson, where: string): Example[] {
  return ((decl.examples ?? []) as RamlJson[]).map((e) => ({
    name: e.name ?? undefined,
    value: e.value,
    strict: e.strict !== false,
    where: e.name ? `${where} ${e.name}` : where,
  }));
}

function basePathOf(baseUri: string | undefined, version: string | undefined, params: RamlJson[]): string {
  if (!baseUri) return "";
  const withoutHost = baseUri.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "");
  const path = withoutHost.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (name === "version" && version !== undefined) return version;
    const p = params.find((x) => x.name === name);
    const fixed = p?.default ?? (Array.isArray(p?.enum) && p.enum.length === 1 ? p.enum[0] : undefined);
    if (fixed === undefined) throw new ConversionError(`baseUri parameter {${name}} in the path needs a default or a single enum value`);
    return String(fixed);
  });
  return path.replace(/\/+$/, "");
}

export function pascal(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const s = words.map((w) => w[0].toUpperCase() + w.slice(1)).join("");
  return /^[0-9]/.test(s) ? `T${s}` : s || "Anonymous";
}

export function camel(name: string): string {
  const p = pascal(name);
  return p[0].toLowerCase() + p.slice(1);
}

function identifier(name: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new ConversionError(`'${name}' is not a valid handler name`);
  return name;
}

/** `get /things/{thing-id}/labels` -> `getThingsByThingIdLabels`. */
export function nameFromPath(method: string, path: string): string {
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((seg) => {
      const m = /^\{(.+)\}$/.exec(seg);
      return m ? `By${pascal(m[1])}` : pascal(seg);
    });
  return method.toLowerCase() + (parts.join("") || "Root");
}
