// From raml-1-parser's expanded JSON to the plain ApiModel.
import { namePattern, type ApiModel, type Body, type Example, type NamedType, type Operation, type Param, type Response, type Security, type SecurityScheme } from "../model/model.js";
import { SchemaConverter } from "./types.js";
import { exampleKey, type RamlJson } from "./raml-json.js";
import { ConversionError } from "./conversion-error.js";
import type { JsonSchema } from "../model/schema.js";

const HANDLER_NAME_ANNOTATIONS = new Set(["operationName", "handlerName"]);

/** `METHOD /path` -> scheme -> the OAuth 2.0 scopes its `securedBy` asks for (see raml.securedByScopes). */
export type ScopesOf = (method: string, resourcePath: string, scheme: string) => string[];

/** Ops whose handler name was given with (operationName) or (handlerName). */
const explicitNames = new WeakSet<Operation>();

export function buildModel(spec: RamlJson, scopesOf: ScopesOf = () => [], warn: (code: string, message: string) => void = () => {}, specDir = process.cwd()): ApiModel {
  const decls = new Map<string, RamlJson>();
  for (const t of (spec.types ?? []) as RamlJson[]) decls.set(t.name, t);
  const conv = new SchemaConverter(decls, warn, specDir);

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
  const base = basePathOf(spec.baseUri, version, spec.baseUriParameters ?? []);
  const basePath = base.path;
  const baseParams = new Set<string>(((spec.baseUriParameters ?? []) as RamlJson[]).map((p) => p.name));
  // baseUri parameters left in the path are path parameters of every operation.
  const routedBase = base.params.map((name) => {
    const declared = ((spec.baseUriParameters ?? []) as RamlJson[]).find((p) => p.name === name) ?? { name, type: ["string"] };
    return { ...param(conv, declared, "baseUri"), required: true };
  });

  const securitySchemes = ((spec.securitySchemes ?? []) as RamlJson[]).map((s) => securityScheme(conv, s, spec.title));
  const schemes = new Map(securitySchemes.map((s) => [s.name, s]));

  const operations: Operation[] = [];
  const walk = (resources: RamlJson[]) => {
    for (const r of resources ?? []) {
      for (const m of r.methods ?? []) operations.push(secure(operation(conv, r, m, basePath, baseParams, routedBase, warn), m, schemes, scopesOf));
      walk(r.resources);
    }
  };
  walk(spec.resources);

  // RAML does not require displayNames to be unique: a repeated one gives way to a name from
  // the method and path (then a number), with a warning. Explicit (operationName)s must be unique.
  const seen = new Map<string, Operation>();
  for (const op of operations) {
    const other = seen.get(op.name);
    if (other) {
      if (explicitNames.has(op)) {
        throw new ConversionError(
          `handler name '${op.name}' is used by ${other.method.toUpperCase()} ${other.resourcePath} and ${op.method.toUpperCase()} ${op.resourcePath}; set displayName or (operationName) on one of them`,
        );
      }
      const taken = op.name;
      let name = nameFromPath(op.method, op.resourcePath);
      for (let n = 2; operations.some((o) => o !== op && o.name === name); n++) name = `${nameFromPath(op.method, op.resourcePath)}${n}`;
      op.name = name;
      warn("DISPLAY_NAME_REPEATED", `${op.method.toUpperCase()} ${op.resourcePath}: displayName '${op.displayName ?? taken}' is also ${other.method.toUpperCase()} ${other.resourcePath}'s; its handler is named ${name}`);
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
    securitySchemes,
    operations,
  };
}

function operation(conv: SchemaConverter, r: RamlJson, m: RamlJson, basePath: string, baseParams: Set<string>, routedBase: Param[], warn: (code: string, message: string) => void): Operation {
  const resourcePath: string = r.completeRelativeUri;
  const method: string = m.method;
  const ctx = { resource: resourcePath, method };
  const uriParams = ((m.uriParameters ?? r.uriParameters ?? []) as RamlJson[])
    .filter((p) => !baseParams.has(p.name))
    .map((p) => param(conv, p, exampleKey(ctx)))
    // Path parameters are always required, whatever the declaration says.
    .map((p) => ({ ...p, required: true }));
  uriParams.unshift(...routedBase.filter((b) => !uriParams.some((p) => p.name === b.name)));
  const order = [...(basePath + resourcePath).matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
  // A declared parameter the path does not have could never be given: said, and left out.
  for (const p of uriParams.filter((p) => !order.includes(p.name))) warn("URI_PARAMETER_UNUSED", `${method.toUpperCase()} ${resourcePath} declares the URI parameter '${p.name}', which its path does not have: ignored`);
  uriParams.splice(0, uriParams.length, ...uriParams.filter((p) => order.includes(p.name)));
  uriParams.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const explicit = ((m.annotations ?? []) as RamlJson[]).find((a) => HANDLER_NAME_ANNOTATIONS.has(a.name))?.value;
  const op: Operation = {
    name: explicit ? identifier(String(explicit)) : m.displayName ? camel(m.displayName) : nameFromPath(method, resourcePath),
    method,
    path: basePath + resourcePath,
    resourcePath,
    displayName: m.displayName,
    description: typeof m.description === "string" ? m.description : undefined,
    uriParams,
    // A queryString's properties are query parameters like queryParameters' (both may be given).
    query: uniqueBy(
      [...((m.queryParameters ?? []) as RamlJson[]).map((p) => param(conv, p, exampleKey(ctx))), ...(m.queryString ? queryStringParams(conv, m.queryString) : [])],
      (p) => p.name,
    ),
    headers: ((m.headers ?? []) as RamlJson[]).map((p) => param(conv, p, exampleKey(ctx))),
    bodies: uniqueBy(((m.body ?? []) as RamlJson[]).map((b) => body(conv, b, exampleKey({ ...ctx, media: b.name }))), (b) => b.mediaType),
    responses: ((m.responses ?? []) as RamlJson[])
      .map((resp): Response => {
        const code = String(resp.code);
        return {
          status: Number(code),
          description: typeof resp.description === "string" && resp.description ? resp.description : undefined,
          headers: ((resp.headers ?? []) as RamlJson[]).map((p) => param(conv, p, exampleKey({ ...ctx, code }))),
          bodies: uniqueBy(((resp.body ?? []) as RamlJson[]).map((b) => body(conv, b, exampleKey({ ...ctx, code, media: b.name }))), (b) => b.mediaType),
        };
      })
      .filter((r, i, all) => all.findIndex((x) => x.status === r.status) === i)
      .sort((a, b) => a.status - b.status),
  };
  // The query as a whole is checked against the queryString's type (its facets on the object
  // too: minProperties, additionalProperties, a union of shapes).
  if (m.queryString && isObjectLike(queryStringSchema(conv, m.queryString))) {
    op.queryString = conv.convert(m.queryString);
    const examples = examplesOf(m.queryString, exampleKey(ctx));
    if (examples.length) op.queryStringExamples = examples;
  }
  if (explicit) explicitNames.add(op);
  return op;
}

function securityScheme(conv: SchemaConverter, s: RamlJson, realm: string): SecurityScheme {
  const d = s.describedBy ?? {};
  const where = `securityScheme ${s.name}`;
  const headers = ((d.headers ?? []) as RamlJson[]).map((p) => param(conv, p, where));
  const query = ((d.queryParameters ?? []) as RamlJson[]).map((p) => param(conv, p, where));
  return {
    name: s.name,
    type: s.type,
    description: typeof s.description === "string" ? s.description : undefined,
    headers,
    query,
    responses: ((d.responses ?? []) as RamlJson[])
      .map((resp): Response => ({
        status: Number(resp.code),
        description: typeof resp.description === "string" && resp.description ? resp.description : undefined,
        headers: ((resp.headers ?? []) as RamlJson[]).map((p) => param(conv, p, where)),
        bodies: ((resp.body ?? []) as RamlJson[]).map((b) => body(conv, b, `${where} ${resp.code} ${b.name}`)),
      }))
      .sort((a, b) => a.status - b.status),
    settings: (s.settings ?? {}) as Record<string, unknown>,
    challenge: challengeFor(s.type, headers, query, realm),
  };
}

/**
 * The `WWW-Authenticate` challenge for a scheme (RFC 9110 11.6.1): the scheme's own for the
 * standard types, `Bearer` for a custom one carried in `Authorization`, else `ApiKey` naming
 * where the key goes. Digest's nonce is added per answer by the runtime.
 */
export function challengeFor(type: string, headers: Param[], query: Param[], realm: string): string {
  const r = `realm=${JSON.stringify(realm)}`;
  switch (type) {
    case "Basic Authentication":
      return `Basic ${r}, charset="UTF-8"`;
    case "Digest Authentication":
      return `Digest ${r}, qop="auth", algorithm=SHA-256`;
    case "OAuth 1.0":
      return `OAuth ${r}`;
    case "OAuth 2.0":
      return `Bearer ${r}`;
    default: {
      if (headers.some((h) => h.name.toLowerCase() === "authorization")) return `Bearer ${r}`;
      if (headers.length) return `ApiKey ${r}, header=${JSON.stringify(headers[0]!.name)}`;
      if (query.length) return `ApiKey ${r}, query=${JSON.stringify(query[0]!.name)}`;
      return `ApiKey ${r}`;
    }
  }
}

/**
 * The method's `securedBy` (the parser has already resolved it from the API, resource type,
 * trait, resource and method levels, and merged each scheme's describedBy into the method).
 * The schemes' headers and query parameters become optional here: which one a request
 * carries depends on the scheme it uses, and missing credentials are a 401, not a 400.
 */
function secure(op: Operation, m: RamlJson, schemes: Map<string, SecurityScheme>, scopesOf: ScopesOf): Operation {
  const refs = (m.securedBy ?? []) as (RamlJson | null)[];
  const named = refs.filter((r): r is RamlJson => r !== null && typeof r?.name === "string");
  if (!named.length) return op;
  const used = named.map((r) => schemes.get(r.name)).filter((s): s is SecurityScheme => !!s);
  const security: Security = {
    alternatives: named.map((r) => ({ scheme: r.name, scopes: scopesOf(op.method, op.resourcePath, r.name) })),
    anonymous: refs.some((r) => r === null),
  };
  const headerNames = new Set(used.flatMap((s) => s.headers.map((h) => h.name.toLowerCase())));
  const queryNames = new Set(used.flatMap((s) => s.query.map((q) => q.name)));
  return {
    ...op,
    headers: mergeParams(op.headers.map((h) => (headerNames.has(h.name.toLowerCase()) ? { ...h, required: false } : h)), (n) => n.toLowerCase()),
    query: mergeParams(op.query.map((q) => (queryNames.has(q.name) ? { ...q, required: false } : q)), (n) => n),
    responses: mergeResponses(op.responses),
    security,
  };
}

/**
 * One parameter per name. Several schemes of one method may describe the same one (an
 * `Authorization` header for OAuth 2.0 and for Basic): any of their types is accepted.
 */
function mergeParams(params: Param[], key: (name: string) => string): Param[] {
  const out = new Map<string, Param>();
  for (const p of params) {
    const k = key(p.name);
    const prior = out.get(k);
    if (!prior) {
      out.set(k, p);
      continue;
    }
    const same = JSON.stringify(prior.schema) === JSON.stringify(p.schema);
    out.set(k, {
      ...prior,
      required: prior.required && p.required,
      schema: same ? prior.schema : { anyOf: [...((prior.schema as JsonSchema).anyOf as JsonSchema[] | undefined ?? [prior.schema]), p.schema] },
      description: prior.description ?? p.description,
      examples: [...prior.examples, ...p.examples],
    });
  }
  return [...out.values()];
}

/** One response per status: what several schemes' describedBy declare for it, together. */
function mergeResponses(responses: Response[]): Response[] {
  const out = new Map<number, Response>();
  for (const r of responses) {
    const prior = out.get(r.status);
    if (!prior) {
      out.set(r.status, r);
      continue;
    }
    out.set(r.status, {
      status: r.status,
      description: prior.description ?? r.description,
      headers: mergeParams([...prior.headers, ...r.headers], (n) => n.toLowerCase()),
      bodies: [...prior.bodies, ...r.bodies.filter((b) => !prior.bodies.some((p) => p.mediaType === b.mediaType))],
    });
  }
  return [...out.values()];
}

/**
 * RAML `queryString`: a type for the whole query (its properties are also parameters, below).
 * Its type, its named type followed.
 */
function queryStringSchema(conv: SchemaConverter, q: RamlJson): JsonSchema {
  const schema = conv.convert(q);
  const ref = typeof schema.$ref === "string" && schema.$ref.startsWith("#/$defs/") ? schema.$ref.slice("#/$defs/".length) : undefined;
  return ref ? conv.named(ref) : schema;
}

/**
 * Whether a queryString's type says anything about the query as a whole: an object, a union or
 * mix of them. One written without a type (`queryString:` and nothing, which raml-1-parser
 * reads as a string, as it reads any declaration without a type) does not.
 */
function isObjectLike(s: JsonSchema): boolean {
  return !(typeof s.type === "string" && s.type !== "object" && !s.anyOf && !s.oneOf && !s.allOf);
}

/**
 * The query parameters a queryString's type declares: its properties and pattern properties,
 * those of every member of a union or of several parents (each required only where every
 * member requires it). A queryString of no particular type declares none.
 */
function queryStringParams(conv: SchemaConverter, q: RamlJson): Param[] {
  const members = (s: JsonSchema, seen = new Set<string>()): JsonSchema[] => {
    const ref = typeof s.$ref === "string" && s.$ref.startsWith("#/$defs/") ? s.$ref.slice("#/$defs/".length) : undefined;
    if (ref) return seen.has(ref) ? [] : members(conv.named(ref), new Set([...seen, ref]));
    for (const k of ["anyOf", "oneOf", "allOf"] as const) if (Array.isArray(s[k])) return (s[k] as JsonSchema[]).flatMap((m) => members(m, seen));
    return [s];
  };
  const shapes = members(queryStringSchema(conv, q));
  const byName = new Map<string, { schema: JsonSchema; requiredIn: number }>();
  for (const shape of shapes) {
    const required = new Set(Array.isArray(shape.required) ? (shape.required as string[]) : []);
    const add = (name: string, s: JsonSchema, req: boolean) => {
      const had = byName.get(name);
      byName.set(name, { schema: had?.schema ?? s, requiredIn: (had?.requiredIn ?? 0) + (req ? 1 : 0) });
    };
    for (const [name, s] of Object.entries((shape.properties ?? {}) as Record<string, JsonSchema>)) add(name, s, required.has(name));
    for (const [re, s] of Object.entries((shape.patternProperties ?? {}) as Record<string, JsonSchema>)) add(`/${re}/`, s, false);
  }
  return [...byName].map(([name, { schema: s, requiredIn }]) => ({
    name,
    required: requiredIn === shapes.length,
    schema: s,
    ...(s.default === undefined ? {} : { default: s.default }),
    ...(typeof s.description === "string" ? { description: s.description } : {}),
    examples: [],
    fromQueryString: true,
  }));
}

function param(conv: SchemaConverter, p: RamlJson, where: string): Param {
  return {
    name: p.name,
    // A parameter declared by a pattern matches any number of names, none of them required.
    required: p.required !== false && namePattern(p.name) === undefined,
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

/**
 * The path part of the baseUri, with `{version}` and parameters that have one value (a default
 * or a single enum value) filled in; other parameters stay, and are routed like path
 * parameters. A baseUri without a scheme (`api.example.org/v1`) starts with its host.
 */
export function basePathOf(baseUri: string | undefined, version: string | undefined, params: RamlJson[]): { path: string; params: string[] } {
  if (!baseUri) return { path: "", params: [] };
  const withoutHost = /^[a-z][a-z0-9+.-]*:\/\//i.test(baseUri) ? baseUri.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "") : baseUri.startsWith("/") ? baseUri : baseUri.replace(/^[^/]*/, "");
  const routed: string[] = [];
  const path = withoutHost.replace(/[?#].*$/, "").replace(/\{([^}]+)\}/g, (whole, name: string) => {
    if (name === "version" && version !== undefined) return version;
    const p = params.find((x) => x.name === name);
    const fixed = p?.default ?? (Array.isArray(p?.enum) && p.enum.length === 1 ? p.enum[0] : undefined);
    if (fixed !== undefined) return String(fixed);
    routed.push(name);
    return whole;
  });
  return { path: path.replace(/\/+$/, ""), params: routed };
}

/**
 * The first of each key: a key repeated in the YAML (a body or status written twice) reaches
 * the model twice, and the parser does not say so.
 */
function uniqueBy<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((t) => !seen.has(key(t)) && !!seen.add(key(t)));
}

export function pascal(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const s = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return /^[0-9]/.test(s) ? `T${s}` : s || "Anonymous";
}

export function camel(name: string): string {
  const p = pascal(name);
  return p[0]!.toLowerCase() + p.slice(1);
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
      return m ? `By${pascal(m[1]!)}` : pascal(seg);
    });
  return method.toLowerCase() + (parts.join("") || "Root");
}
