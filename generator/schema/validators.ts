// Ajv validators, compiled at generation time to standalone code, so that the server
// compiles no schema at start-up. Three modules, because they need different ajv options:
// request parameters are strings on the wire and are coerced (with RAML defaults applied),
// request bodies get defaults but no coercion, responses are checked exactly as they are.
import { createRequire } from "node:module";
import { Ajv2020 } from "ajv/dist/2020.js";
import { _, str, type KeywordCxt, type KeywordDefinition, type Options, type ValidateFunction } from "ajv";
import { namePattern, type ApiModel, type Body, type Operation, type Param } from "../model/model.js";
import { isFormMedia } from "../model/media.js";
import { DEFS_PREFIX, FILE_KEYWORD, type JsonSchema } from "../model/schema.js";
import { isJsonMedia, isTextMedia, mediaSlug } from "../model/media.js";
import { forValidation } from "./discriminated.js";

const require = createRequire(import.meta.url);
const standaloneCode = require("ajv/dist/standalone").default as (ajv: Ajv2020, refs: Record<string, string>) => string;
const addFormatsModule = require("ajv-formats");
const addFormats = (addFormatsModule.default ?? addFormatsModule) as (ajv: Ajv2020) => void;

export type ValidatorKind = "params" | "bodies" | "responses";

const DEFS_ID = "defs.json";

const OPTIONS: Record<ValidatorKind, Options> = {
  params: { coerceTypes: "array", useDefaults: true },
  bodies: { useDefaults: true },
  responses: {},
};

export interface Entry {
  kind: ValidatorKind;
  id: string;
  schema: JsonSchema;
}

// The names of the exported validators: one place, used by the emitter and by the compiler.
export const validatorId = {
  uriParams: (op: Operation) => `${op.name}_params`,
  query: (op: Operation) => `${op.name}_query`,
  headers: (op: Operation) => `${op.name}_headers`,
  body: (op: Operation, b: Body) => `${op.name}_body_${mediaSlug(b.mediaType)}`,
  responseHeaders: (op: Operation, status: number) => `${op.name}_${status}_headers`,
  responseBody: (op: Operation, status: number, b: Body) => `${op.name}_${status}_${mediaSlug(b.mediaType)}`,
};

/** Bodies that are parsed (JSON, text, forms) and validated; bytes of other media types are not. */
export function validatesBody(b: Body): boolean {
  return isJsonMedia(b.mediaType) || isTextMedia(b.mediaType) || isFormMedia(b.mediaType);
}

/** An object schema for a group of parameters (header names folded to lower case). */
export function paramsSchema(params: Param[], lowerCase: boolean): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const patternProperties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const p of params) {
    const pattern = namePattern(p.name);
    if (pattern !== undefined) {
      patternProperties[pattern] = p.schema;
      continue;
    }
    const key = lowerCase ? p.name.toLowerCase() : p.name;
    properties[key] = p.schema;
    // A parameter with a default is filled in when absent, so it is never missing.
    if (p.required && p.default === undefined) required.push(key);
  }
  const s: JsonSchema = { type: "object", properties };
  if (Object.keys(patternProperties).length) s.patternProperties = patternProperties;
  if (required.length) s.required = required;
  return s;
}

/** The query as a whole: its queryParameters, and its queryString's type where it has one. */
export function querySchema(op: Operation): JsonSchema {
  if (!op.queryString) return paramsSchema(op.query, false);
  const others = op.query.filter((p) => !p.fromQueryString);
  return others.length ? { allOf: [paramsSchema(others, false), op.queryString] } : op.queryString;
}

export function entries(model: ApiModel): Entry[] {
  const out: Entry[] = [];
  for (const op of model.operations) {
    if (op.uriParams.length) out.push({ kind: "params", id: validatorId.uriParams(op), schema: paramsSchema(op.uriParams, false) });
    if (op.query.length || op.queryString) out.push({ kind: "params", id: validatorId.query(op), schema: querySchema(op) });
    if (op.headers.length) out.push({ kind: "params", id: validatorId.headers(op), schema: paramsSchema(op.headers, true) });
    // Form fields are text on the wire, as parameters are: coerced like them.
    for (const b of op.bodies.filter(validatesBody)) out.push({ kind: isFormMedia(b.mediaType) ? "params" : "bodies", id: validatorId.body(op, b), schema: b.schema });
    for (const r of op.responses) {
      if (r.headers.length) out.push({ kind: "responses", id: validatorId.responseHeaders(op, r.status), schema: paramsSchema(r.headers, false) });
      for (const b of r.bodies.filter(validatesBody)) {
        out.push({ kind: "responses", id: validatorId.responseBody(op, r.status, b), schema: b.schema });
      }
    }
  }
  return out;
}

/** Points references to named types at the shared definitions document. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== "object") return schema;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith(DEFS_PREFIX) ? DEFS_ID + v : rebase(v);
  }
  return out;
}

/**
 * `multipleOf` to the precision of the numbers compared, for decimal steps: 1.15 is a multiple
 * of 0.01 although 1.15 / 0.01 is 114.99999999999999, and so is 132000.24 (13200023.999999998).
 * ajv's own check (or its `multipleOfPrecision`, an absolute tolerance) refuses one or the
 * other; the quotient may be off by a few units in its last place, never by more.
 */
const multipleOf: KeywordDefinition = {
  keyword: "multipleOf",
  type: "number",
  schemaType: "number",
  error: { message: ({ schemaCode }) => str`must be multiple of ${schemaCode}`, params: ({ schemaCode }) => _`{multipleOf: ${schemaCode}}` },
  code(cxt: KeywordCxt) {
    const q = cxt.gen.let("q");
    cxt.fail(_`(${q} = ${cxt.data} / ${cxt.schemaCode}, !isFinite(${q}) || Math.abs(${q} - Math.round(${q})) > 4 * Number.EPSILON * Math.max(1, Math.abs(${q})))`);
  },
};

/**
 * One ajv instance per kind; only the first validates schemas against the 2020-12 meta-schema
 * (compiling the meta-schema is the largest fixed cost, and the schemas are the same).
 */
export function newAjv(kind: ValidatorKind, defs: Record<string, JsonSchema>, validateSchema = true): Ajv2020 {
  const ajv = new Ajv2020({
    ...OPTIONS[kind],
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    // Draft-04 tuples (`items: [...]`, now prefixItems) do not have to be complete.
    strictTuples: false,
    // A property may be declared by name and match a pattern property too (RAML allows both).
    allowMatchingProperties: true,
    allowUnionTypes: true,
    // RAML patterns are ECMAScript regular expressions without the `u` flag (`\-` is a valid
    // identity escape there, a syntax error under `u`).
    unicodeRegExp: false,
    validateSchema,
    code: { source: true, esm: true, lines: true },
  });
  addFormats(ajv);
  ajv.removeKeyword("multipleOf");
  ajv.addKeyword(multipleOf);
  // A RAML file's facets: checked by the router, an annotation to ajv.
  ajv.addKeyword({ keyword: FILE_KEYWORD, schemaType: "object" });
  ajv.addSchema({ $id: DEFS_ID, $defs: forValidation(defs, defs) as Record<string, JsonSchema> });
  return ajv;
}

export function defsOf(model: ApiModel): Record<string, JsonSchema> {
  const defs: Record<string, JsonSchema> = {};
  for (const t of model.types) defs[t.name] = t.schema;
  return defs;
}

/** The validators of a model: compiled once, used to check examples and to emit code. */
export class ValidatorSet {
  private readonly ajv: Record<ValidatorKind, Ajv2020>;
  private readonly refs: Record<ValidatorKind, Record<string, string>> = { params: {}, bodies: {}, responses: {} };
  private n = 0;

  private readonly defs: Record<string, JsonSchema>;

  constructor(model: ApiModel) {
    const defs = (this.defs = defsOf(model));
    this.ajv = { responses: newAjv("responses", defs, true), params: newAjv("params", defs, false), bodies: newAjv("bodies", defs, false) };
    for (const e of entries(model)) {
      this.ajv[e.kind].addSchema({ ...(rebase(forValidation(e.schema, defs)) as JsonSchema), $id: e.id });
      this.refs[e.kind][e.id] = e.id;
    }
  }

  /** The standalone ES module for one kind of validator. */
  module(kind: ValidatorKind): string {
    if (!Object.keys(this.refs[kind]).length) return "export {};\n";
    const code = standaloneCode(this.ajv[kind], this.refs[kind]);
    // Ajv's ESM output still calls require() for its runtime helpers and for ajv-formats.
    return `import { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\n${code.replace(/^"use strict";/, "")}\n`;
  }

  /** A validator compiled in memory (for the mock server, which runs at build time). */
  compiled(kind: ValidatorKind, id: string): ValidateFunction {
    return this.ajv[kind].getSchema(id)!;
  }

  ids(kind: ValidatorKind): string[] {
    return Object.keys(this.refs[kind]);
  }

  /** An exact (no coercion, no defaults) validator for a schema, for checking examples. */
  exact(schema: JsonSchema): ValidateFunction {
    return this.ajv.responses.compile({ ...(rebase(forValidation(schema, this.defs)) as JsonSchema), $id: `example-${this.n++}` });
  }

  /**
   * A validator for a parameter's text as it arrives (coerced as the router coerces it): the
   * value goes in as `{ value }`.
   */
  wire(schema: JsonSchema): ValidateFunction {
    const v = this.ajv.params.compile({ type: "object", properties: { value: rebase(forValidation(schema, this.defs)) }, $id: `wire-${this.n++}` });
    const wrapped = ((value: unknown) => {
      const ok = v({ value });
      wrapped.errors = v.errors ? v.errors.map((e) => ({ ...e, instancePath: e.instancePath.replace(/^\/value/, "") })) : null;
      return ok;
    }) as ValidateFunction;
    return wrapped;
  }

  named(name: string): ValidateFunction {
    return this.ajv.responses.getSchema(`${DEFS_ID}#/$defs/${name}`)!;
  }
}
