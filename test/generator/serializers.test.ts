// The generated response serialisers (fast-json-stringify, standalone) against JSON.stringify:
// for every valid value of every serialised response, the text parses to the same value.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { serialiserEntries, serialiserModule, serialisationSchema } from "../../generator/emit/serializers.js";
import { defsOf, validatorId } from "../../generator/schema/validators.js";
import { arbitrary } from "../helpers/arbitrary.js";
import type { JsonSchema } from "../../generator/model/schema.js";

/** Writes the serialisers of these schemas as a module and imports it. */
async function compile(entries: { id: string; schema: JsonSchema }[]): Promise<Record<string, (v: unknown) => string>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "serialisers-"));
  const file = path.join(dir, "s.mjs");
  // Resolved from the project, as generated code would be from its own folder.
  writeFileSync(file, serialiserModule(entries).replace('createRequire(import.meta.url)', `createRequire(${JSON.stringify(pathToFileURL(path.resolve("package.json")).href)})`));
  return import(pathToFileURL(file).href);
}

describe.each(["spec/api.raml", "test/fixtures/full/api.raml"])("serialisers of %s", (spec) => {
  it("write every valid response body as JSON.stringify does (parsed)", async () => {
    const { model } = loadModel(path.resolve(spec));
    const defs = defsOf(model);
    const entries = serialiserEntries(model);
    expect(entries.length).toBeGreaterThan(3);
    const serialisers = await compile(entries);
    let checked = 0;
    for (const op of model.operations) {
      for (const r of op.responses) {
        for (const b of r.bodies) {
          const s = serialisers[validatorId.responseBody(op, r.status, b)];
          if (!s) continue;
          await fc.assert(
            fc.property(arbitrary(b.schema, defs), (value) => {
              expect(JSON.parse(s(value))).toEqual(JSON.parse(JSON.stringify(value)));
            }),
            { numRuns: 100 },
          );
          checked++;
        }
      }
    }
    expect(checked).toBe(entries.length);
  });
});

describe("serialisation schemas", () => {
  const defs: Record<string, JsonSchema> = {
    Cat: { type: "object", properties: { kind: { const: "cat" }, lives: { type: "integer" } }, required: ["kind"] },
    Dog: { type: "object", properties: { kind: { const: "dog" }, good: { type: "boolean" } }, required: ["kind"] },
    Tree: { type: "object", properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/Tree" } } } },
  };
  const schema: JsonSchema = {
    type: "object",
    additionalProperties: false,
    properties: {
      open: { type: "object", properties: { a: { type: "string" } } },
      closedExtra: { type: "object", additionalProperties: { type: "integer" }, properties: { b: { type: "number" } } },
      patterned: { type: "object", additionalProperties: false, patternProperties: { "^x-": { type: "string" } } },
      nullable: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }] },
      nullableNumber: { type: ["integer", "null"] },
      strings: { anyOf: [{ type: "string", format: "date-time" }, { type: "string", maxLength: 0 }] },
      pet: { anyOf: [{ $ref: "#/$defs/Cat" }, { $ref: "#/$defs/Dog" }] },
      tree: { $ref: "#/$defs/Tree" },
      any: {},
      list: { type: "array", items: { anyOf: [{ type: "integer" }, { type: "string" }] } },
    },
  };

  it("keep shapes a serialiser can rely on and leave the rest to JSON.stringify", () => {
    const s = serialisationSchema(schema, defs) as { properties: Record<string, JsonSchema> };
    expect(s.properties["open"]).toEqual({ type: "object", properties: { a: { type: "string" } }, additionalProperties: true });
    expect(s.properties["closedExtra"]!.additionalProperties).toBe(true);
    expect(s.properties["patterned"]!.additionalProperties).toBe(true);
    expect(s.properties["nullable"]).toEqual({ type: ["string", "null"] });
    expect(s.properties["nullableNumber"]).toEqual({ type: ["number", "null"] });
    expect(s.properties["strings"]).toEqual({ type: "string" });
    expect(s.properties["pet"]).toEqual({});
    expect(s.properties["list"]).toEqual({ type: "array", items: {} });
  });

  it("serialise objects with additional and pattern properties, unions, nullables and recursion exactly like JSON.stringify (valid values)", async () => {
    const only = (await compile([{ id: "only", schema: serialisationSchema(schema, defs) }]))["only"]!;
    const values = [
      { open: { a: "x", extra: [1, { deep: true }] }, closedExtra: { b: 1.5, n: 2 }, patterned: { "x-a": "1" }, nullable: null, nullableNumber: 3, strings: "", pet: { kind: "cat", lives: 9 }, tree: { name: "r", children: [{ name: "c", children: [] }] }, any: { weird: ["\u2028", null] }, list: [1, "two"] },
      { open: {}, nullable: "2030-01-01T00:00:00Z", nullableNumber: null, strings: "2030-01-01T00:00:00Z", pet: { kind: "dog", good: true }, any: "text", list: [] },
      { patterned: {}, tree: { name: "\"quoted\" \\ name" }, any: null },
    ];
    // Byte for byte when the properties come in the schema's order (as handlers build them);
    // in another order the text differs only in that order.
    for (const v of values) expect(only(v)).toBe(JSON.stringify(v));
    const reordered = { any: null, patterned: {} };
    expect(JSON.parse(only(reordered))).toEqual(reordered);
  });
});
