import type { RamlJson } from "./raml-json.js";
// RAML 0.8, read through raml-1-parser (which has already applied its traits, resource types
// and security schemes), rewritten into the shape of the parser's RAML 1.0 output, so that
// everything after it (model, schemas, code) is the same for both versions:
// - `schemas:` become named types holding JSON (or XML) schemas; a body's `schema:` naming one
//   becomes a reference to it, an inline schema stays inline;
// - named parameters (`type`, `enum`, `pattern`, `minimum`, `required`, `repeat`, `default`,
//   `example`) become RAML 1.0 parameters: `repeat: true` an array, `date` an RFC 2616 datetime;
// - `formParameters` become an object type (a form body is passed to handlers as it is);
// - `example`s become documentation examples (not checked: 0.8 examples often predate their
//   schemas).

const TYPES: Record<string, string> = { string: "string", number: "number", integer: "integer", boolean: "boolean", date: "datetime", file: "file" };

const isXml = (text: unknown) => typeof text === "string" && text.trimStart().startsWith("<");

const docExamples = (example: unknown) => (example === undefined ? {} : { examples: [{ value: example, strict: false }] });

/** A RAML 0.8 named parameter as a RAML 1.0 one. */
function param(p: RamlJson): RamlJson {
  const { type = "string", repeat, example, ...rest } = p;
  const scalar: RamlJson = { ...rest, type: [TYPES[type] ?? "string"], ...(type === "date" ? { format: "rfc2616" } : {}) };
  if (!repeat) return { ...scalar, ...docExamples(example) };
  // `repeat: true`: the parameter may be given several times, each value of its type.
  const { name, displayName, required, default: dflt, description, ...facets } = scalar;
  return {
    name,
    displayName,
    required,
    ...(description === undefined ? {} : { description }),
    ...(dflt === undefined ? {} : { default: Array.isArray(dflt) ? dflt : [dflt] }),
    type: ["array"],
    items: { ...facets, name: "items" },
    ...docExamples(example === undefined ? undefined : [example]),
  };
}

const params = (list: RamlJson[] | undefined) => (list ?? []).map(param);

export function fromRaml08(spec: RamlJson): RamlJson {
  const schemaNames = new Set<string>(((spec.schemas ?? []) as RamlJson[]).map((s) => s.name));

  const body = (b: RamlJson): RamlJson => {
    const { formParameters, schema, schemaContent, example, ...rest } = b;
    let type: RamlJson;
    if (formParameters) type = { type: ["object"], properties: params(formParameters) };
    else if (typeof schema === "string" && schemaNames.has(schema.trim())) type = { type: [schema.trim()] };
    else if (schema !== undefined) {
      const text = schemaContent ?? schema;
      type = { type: [text], typePropertyKind: isXml(text) ? "XML" : "JSON" };
    } else type = { type: ["any"] };
    return { ...rest, ...type, ...docExamples(example) };
  };
  const response = (r: RamlJson): RamlJson => ({ ...r, headers: params(r.headers), body: (r.body ?? []).map(body) });
  const method = (m: RamlJson): RamlJson => ({
    ...m,
    queryParameters: params(m.queryParameters),
    headers: params(m.headers),
    ...(m.uriParameters ? { uriParameters: params(m.uriParameters) } : {}),
    body: (m.body ?? []).map(body),
    responses: (m.responses ?? []).map(response),
  });
  const resource = (r: RamlJson): RamlJson => ({
    ...r,
    ...(r.uriParameters ? { uriParameters: params(r.uriParameters) } : {}),
    methods: (r.methods ?? []).map(method),
    resources: (r.resources ?? []).map(resource),
  });
  const scheme = (s: RamlJson): RamlJson => {
    const d = s.describedBy ?? {};
    return { ...s, describedBy: { ...d, headers: params(d.headers), queryParameters: params(d.queryParameters), responses: (d.responses ?? []).map(response) } };
  };

  return {
    ...spec,
    mediaType: spec.mediaType === undefined ? [] : Array.isArray(spec.mediaType) ? spec.mediaType : [spec.mediaType],
    types: ((spec.schemas ?? []) as RamlJson[]).map((s) => ({ name: s.name, displayName: s.name, type: [s.value], typePropertyKind: isXml(s.value) ? "XML" : "JSON" })),
    baseUriParameters: params(spec.baseUriParameters),
    securitySchemes: ((spec.securitySchemes ?? []) as RamlJson[]).map(scheme),
    resources: ((spec.resources ?? []) as RamlJson[]).map(resource),
  };
}
