// ramlgen openapi: the OpenAPI 3.1 export validates against the official OpenAPI 3.1 schema
// (checked with an independent validator from npm), and carries the spec's paths,
// parameters, bodies, headers and examples by the same JSON Schemas.
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { openApiDocument } from "../../generator/openapi.js";

describe.each(["spec/api.raml", "test/fixtures/full/api.raml"])("OpenAPI export of %s", (spec) => {
  const doc = openApiDocument(loadModel(path.resolve(spec)).model);

  it("is a valid OpenAPI 3.1 document", async () => {
    const v = new Validator();
    const r = await v.validate(structuredClone(doc) as Parameters<Validator["validate"]>[0]);
    expect(r.errors ?? []).toEqual([]);
    expect(r.valid).toBe(true);
    expect(v.version).toBe("3.1");
  });

  it("keeps every operation, with references resolving to components", () => {
    const { model } = loadModel(path.resolve(spec));
    const paths = doc.paths as Record<string, Record<string, { operationId: string }>>;
    for (const op of model.operations) expect(paths[op.resourcePath][op.method].operationId).toBe(op.name);
    const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
    for (const ref of JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? []) {
      expect(Object.keys(schemas)).toContain(ref.slice('"$ref":"#/components/schemas/'.length, -1).split("/")[0]);
    }
  });
});

describe("OpenAPI export of the job API", () => {
  it("declares the 202 Location and Retry-After headers, the optional body and the examples", () => {
    const doc = openApiDocument(loadModel(path.resolve("spec/api.raml")).model) as any;
    const post = doc.paths["/resources"].post;
    expect(post.requestBody.required).toBe(false);
    expect(post.parameters).toContainEqual(expect.objectContaining({ name: "Idempotency-Key", in: "header", required: false }));
    expect(post.responses["202"].headers.Location.required).toBe(true);
    expect(post.responses["202"].headers["Retry-After"].schema).toMatchObject({ type: "integer" });
    expect(doc.paths["/resources/{id}"].get.responses["303"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/job" });
    expect(doc.paths["/resources"].get.parameters).toContainEqual(expect.objectContaining({ name: "limit", in: "query", schema: expect.objectContaining({ default: 20 }) }));
  });
});
