// RAML types -> JSON Schema, one table row per feature: the schema we expect, and instances
// that must pass and fail. Every instance is also checked with raml-1-parser's own type
// validation, so the converter and RAML's semantics cannot silently disagree.
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildModel } from "../../generator/read/build.js";
import { loadSpec } from "../../generator/read/raml.js";
import { ValidatorSet } from "../../generator/schema/validators.js";
import type { ApiModel } from "../../generator/model/model.js";

const require = createRequire(import.meta.url);

interface Case {
  name: string;
  raml: string;
  want: Record<string, unknown>;
  valid: unknown[];
  invalid: unknown[];
  /**
   * Values we reject although raml-1-parser's runtime check lets them through, each for a
   * reason stated in the row: where the parser is laxer than the RAML 1.0 specification.
   */
  stricterThanParser?: unknown[] | undefined;
  /** Values we accept although the parser rejects them, each for a reason stated in the row. */
  laxerThanParser?: unknown[] | undefined;
}

const cases: Case[] = [
  {
    name: "Obj",
    raml: "type: object\nproperties:\n  a: string\n  b?: integer\n  c:\n    type: number\n    required: false",
    want: { type: "object", required: ["a"], properties: { a: { type: "string" }, b: { type: "integer" }, c: { type: "number" } } },
    valid: [{ a: "x" }, { a: "x", b: 1, c: 1.5 }, { a: "x", extra: true }],
    invalid: [{}, { a: 1 }, { a: "x", b: 1.5 }, "str"],
    // nil is not an object in RAML 1.0 (`T?` exists to allow it); the parser lets null through.
    stricterThanParser: [null],
  },
  {
    name: "Closed",
    raml: "type: object\nadditionalProperties: false\nproperties:\n  a: string",
    want: { additionalProperties: false },
    valid: [{ a: "x" }],
    invalid: [{ a: "x", b: 1 }],
  },
  {
    name: "Parent",
    raml: "type: object\nproperties:\n  p: string",
    want: {},
    valid: [{ p: "x" }],
    invalid: [{}],
  },
  {
    name: "Mixin",
    raml: "type: object\nproperties:\n  m: integer",
    want: {},
    valid: [{ m: 1 }],
    invalid: [{ m: "1" }],
  },
  {
    name: "Single",
    raml: "type: Parent\nadditionalProperties: false\nproperties:\n  s: boolean",
    want: { type: "object", additionalProperties: false, required: ["p", "s"] },
    valid: [{ p: "x", s: true }],
    invalid: [{ p: "x" }, { p: "x", s: true, other: 1 }],
  },
  {
    name: "Multi",
    raml: "type: [Parent, Mixin]\nadditionalProperties: false\nproperties:\n  own?: string",
    want: { type: "object", required: ["p", "m"] },
    valid: [{ p: "x", m: 1 }, { p: "x", m: 1, own: "o" }],
    invalid: [{ p: "x" }, { p: "x", m: 1, z: 0 }],
  },
  {
    // Issue 11, item 12: a union among several parents distributes over the others.
    name: "MultiUnion",
    raml: "type: [Parent, Single | Mixin]\nproperties:\n  own?: string",
    want: { anyOf: [{ type: "object", required: ["p", "s"] }, { type: "object", required: ["p", "m"] }] },
    valid: [{ p: "x", s: true }, { p: "x", m: 1 }, { p: "x", m: 1, own: "o" }],
    invalid: [{ p: "x" }, { s: true }, { m: 1 }, { p: "x", m: 1, own: 2 }],
  },
  {
    name: "Arr",
    raml: "type: array\nitems: string\nminItems: 1\nmaxItems: 2\nuniqueItems: true",
    want: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 2, uniqueItems: true },
    valid: [["a"], ["a", "b"]],
    invalid: [[], ["a", "b", "c"], ["a", "a"], [1]],
  },
  {
    name: "ShortArr",
    raml: "type: integer[]",
    want: { type: "array", items: { type: "integer" } },
    valid: [[], [1, 2]],
    invalid: [[1.5], ["1"], {}],
  },
  {
    name: "Uni",
    raml: "type: string | integer",
    want: { anyOf: [{ type: "string" }, { type: "integer" }] },
    valid: ["x", 3],
    invalid: [1.5, true],
    stricterThanParser: [null],
  },
  {
    name: "UniArrays",
    raml: "type: string[] | integer[]",
    want: { anyOf: [{ type: "array" }, { type: "array" }] },
    valid: [["a"], [1]],
    invalid: [[true], "a"],
  },
  {
    name: "Nilable",
    raml: "type: string?",
    want: { anyOf: [{ type: "string" }, { type: "null" }] },
    valid: ["x", null],
    invalid: [1],
  },
  {
    name: "Nil",
    raml: "type: nil",
    want: { type: "null" },
    valid: [null],
    invalid: ["", 0],
  },
  {
    name: "Enum",
    raml: "enum: [a, b]",
    want: { type: "string", enum: ["a", "b"] },
    valid: ["a", "b"],
    invalid: ["c", 1],
  },
  {
    name: "Str",
    raml: "type: string\npattern: ^[a-z]+$\nminLength: 2\nmaxLength: 4",
    want: { type: "string", pattern: "^[a-z]+$", minLength: 2, maxLength: 4 },
    valid: ["ab", "abcd"],
    invalid: ["a", "abcde", "AB", 12],
  },
  {
    // RAML patterns are ECMAScript regular expressions without the `u` flag: `\-` is an
    // identity escape there (under `u` it is a syntax error, which crashed the generator).
    name: "StrPatternEscape",
    raml: "type: string\npattern: ^\\d+\\-\\w+$",
    want: { type: "string", pattern: "^\\d+\\-\\w+$" },
    valid: ["12-ab", "1-x_y"],
    invalid: ["ab", "12-", "x-1", "12ab"],
  },
  {
    // A decimal step: 1.15 / 0.01 is 114.99999999999999 in floating point, yet 1.15 is a
    // multiple of 0.01 as written.
    name: "NumDecimalStep",
    raml: "type: number\nmultipleOf: 0.01",
    want: { type: "number", multipleOf: 0.01 },
    valid: [1.15, 0.07, 2, 19.99],
    invalid: [1.155, 0.001],
  },
  {
    name: "Num",
    raml: "type: number\nminimum: 0\nmaximum: 10\nmultipleOf: 0.5",
    want: { type: "number", minimum: 0, maximum: 10, multipleOf: 0.5 },
    valid: [0, 2.5, 10],
    invalid: [-1, 10.5, 1.2, "1"],
  },
  {
    name: "Int8",
    raml: "type: number\nformat: int8",
    want: { type: "integer", minimum: -128, maximum: 127 },
    valid: [-128, 127, 0],
    invalid: ["1"],
    // RAML's int8 format means -128..127 integers; the parser does not check number formats.
    stricterThanParser: [128, -129, 1.5],
  },
  {
    name: "Bool",
    raml: "type: boolean",
    want: { type: "boolean" },
    valid: [true, false],
    invalid: ["true", 0],
  },
  {
    name: "DateOnly",
    raml: "type: date-only",
    want: { type: "string", format: "date" },
    valid: ["2024-02-29", "2023-12-31"],
    invalid: ["2023-02-29", "2024-13-01", "2024-01-01T00:00:00Z", "20240101"],
  },
  {
    name: "TimeOnly",
    raml: "type: time-only",
    want: { type: "string" },
    valid: ["12:30:00", "23:59:59.125"],
    invalid: ["24:00:00", "12:30", "12:30:00Z", "12:30:00+01:00"],
  },
  {
    name: "DateTimeOnly",
    raml: "type: datetime-only",
    want: { type: "string" },
    valid: ["2024-02-29T12:30:00", "2024-01-01T00:00:00.5"],
    invalid: ["2024-01-01T00:00:00Z", "2024-01-01 00:00:00", "2024-01-01"],
  },
  {
    name: "DateTime",
    raml: "type: datetime",
    want: { type: "string", format: "date-time" },
    valid: ["2024-01-01T10:00:00Z", "2024-01-01T10:00:00.5+02:00"],
    invalid: ["2024-01-01T10:00:00", "2024-01-01", "Sun, 06 Nov 1994 08:49:37 GMT"],
  },
  {
    name: "DateTime2616",
    raml: "type: datetime\nformat: rfc2616",
    want: { type: "string" },
    // RFC 2616 section 3.3.1: IMF-fixdate, RFC 850 and asctime forms.
    valid: ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"],
    // The parser forgets RFC 2616's third form, ANSI C asctime().
    laxerThanParser: ["Sun Nov  6 08:49:37 1994"],
    invalid: ["2024-01-01T10:00:00Z", "Sun, 06 Nov 1994 08:49:37"],
  },
  {
    name: "Animal",
    raml: "type: object\ndiscriminator: kind\nproperties:\n  kind: string",
    want: { type: "object" },
    valid: [{ kind: "Animal" }],
    invalid: [{}],
  },
  {
    name: "Cat",
    raml: "type: Animal\ndiscriminatorValue: cat\nproperties:\n  lives: integer",
    want: { properties: { kind: { const: "cat" } } },
    valid: [{ kind: "cat", lives: 9 }],
    invalid: [{ kind: "cat" }],
    // A Cat's discriminator value is "cat"; the parser checks it only inside unions.
    stricterThanParser: [{ kind: "dog", lives: 9 }],
  },
  {
    name: "Dog",
    raml: "type: Animal\nproperties:\n  good: boolean",
    want: { properties: { kind: { const: "Dog" } } },
    valid: [{ kind: "Dog", good: true }],
    invalid: [{ kind: "Dog" }],
    // discriminatorValue defaults to the type's name.
    stricterThanParser: [{ kind: "cat", good: true }],
  },
  {
    name: "Pat",
    raml: "type: object\nadditionalProperties: false\nproperties:\n  /^x-/: string",
    want: { patternProperties: { "^x-": { type: "string" } }, additionalProperties: false },
    valid: [{}, { "x-a": "1" }],
    invalid: [{ "x-a": 1 }, { y: "1" }],
  },
  {
    name: "Anything",
    raml: "type: any",
    want: {},
    valid: [1, "x", null, { a: [1] }],
    invalid: [],
  },
  {
    name: "UsesLib",
    raml: "type: lib.Money",
    want: { type: "object", required: ["amount", "currency"] },
    valid: [{ amount: 1, currency: "EUR" }],
    invalid: [{ amount: 1, currency: "eur" }, { amount: -1, currency: "EUR" }],
  },
  {
    name: "Included",
    raml: "!include included.raml",
    want: { type: "object", required: ["title"] },
    valid: [{ title: "t" }, { title: "t", children: [{ title: "c" }] }],
    invalid: [{ title: "t", children: [{}] }],
  },
  {
    name: "FromJsonSchema",
    raml: "!include legacy.schema.json",
    want: { type: "object", required: ["code"], properties: { code: { type: "integer", exclusiveMinimum: 0 } } },
    valid: [{ code: 1 }],
    invalid: [{ code: 0 }, {}, { code: "1" }],
  },
];

const LIB = `#%RAML 1.0 Library
types:
  Money:
    type: object
    properties:
      amount: { type: number, minimum: 0 }
      currency: { type: string, pattern: "^[A-Z]{3}$" }
`;
const INCLUDED = `#%RAML 1.0 DataType
type: object
properties:
  title: string
  children?: Included[]
`;
const LEGACY = JSON.stringify({
  $schema: "http://json-schema.org/draft-04/schema#",
  type: "object",
  properties: { code: { type: "integer", minimum: 0, exclusiveMinimum: true } },
  required: ["code"],
});

let model: ApiModel;
let checker: ValidatorSet;
let oracle: Map<string, any>;

beforeAll(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ramlgen-schema-"));
  mkdirSync(dir, { recursive: true });
  const types = cases
    .map((c) => {
      if (c.raml.startsWith("!include")) return `  ${c.name}: ${c.raml}`;
      return `  ${c.name}:\n${c.raml.split("\n").map((l) => `    ${l}`).join("\n")}`;
    })
    .join("\n");
  writeFileSync(path.join(dir, "lib.raml"), LIB);
  writeFileSync(path.join(dir, "included.raml"), INCLUDED);
  writeFileSync(path.join(dir, "legacy.schema.json"), LEGACY);
  const spec = path.join(dir, "api.raml");
  writeFileSync(spec, `#%RAML 1.0\ntitle: t\nuses:\n  lib: lib.raml\ntypes:\n${types}\n`);
  model = buildModel(loadSpec(spec).spec);
  checker = new ValidatorSet(model);
  const api = require("raml-1-parser").parseSync(spec).wrapperNode();
  oracle = new Map(api.types().map((t: any) => [t.name(), t.runtimeType()]));
});

describe.each(cases)("RAML type $name", (c) => {
  it("converts to the expected JSON Schema", () => {
    const t = model.types.find((x) => x.name === c.name)!;
    expect(t.schema).toMatchObject(c.want);
  });
  it.each(c.valid.map((v) => [JSON.stringify(v), v]))("accepts %s (as RAML does)", (_label, v) => {
    const validate = checker.named(c.name);
    expect(validate(v), JSON.stringify(validate.errors)).toBe(true);
    expect(oracle.get(c.name).validate(v).filter((e: { isWarning(): boolean }) => !e.isWarning())).toEqual([]);
  });
  it.each(c.invalid.map((v) => [JSON.stringify(v), v]))("rejects %s (as RAML does)", (_label, v) => {
    expect(checker.named(c.name)(v)).toBe(false);
    expect(oracle.get(c.name).validate(v).filter((e: { isWarning(): boolean }) => !e.isWarning()).length).toBeGreaterThan(0);
  });
  it.each((c.laxerThanParser ?? []).map((v) => [JSON.stringify(v), v]))("accepts %s (laxer than raml-1-parser)", (_label, v) => {
    expect(checker.named(c.name)(v)).toBe(true);
    expect(oracle.get(c.name).validate(v).filter((e: { isWarning(): boolean }) => !e.isWarning()).length).toBeGreaterThan(0);
  });
  it.each((c.stricterThanParser ?? []).map((v) => [JSON.stringify(v), v]))("rejects %s (stricter than raml-1-parser)", (_label, v) => {
    expect(checker.named(c.name)(v)).toBe(false);
    expect(oracle.get(c.name).validate(v).filter((e: { isWarning(): boolean }) => !e.isWarning())).toEqual([]);
  });
});
