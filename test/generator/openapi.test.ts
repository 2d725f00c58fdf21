// ramlgen openapi: the OpenAPI 3.1 export validates against the official OpenAPI 3.1 schema
// (checked with an independent validator from npm), and carries the spec's paths,
// parameters, bodies, headers and examples by the same JSON Schemas.
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { openApiDocument } from "../../generator/emit/openapi.js";

describe.each(["spec/api.raml", "test/fixtures/full/api.raml", "test/fixtures/secured/api.raml"])("OpenAPI export of %s", (spec) => {
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
    const paths = doc["paths"] as Record<string, Record<string, { operationId: string }>>;
    for (const op of model.operations) expect(paths[op.resourcePath]![op.method]!.operationId).toBe(op.name);
    const schemas = (doc["components"] as { schemas: Record<string, unknown> }).schemas;
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

describe("OpenAPI export of security", () => {
  it("declares every scheme and each operation's alternatives, scopes and anonymous access", () => {
    const doc = openApiDocument(loadModel(path.resolve("test/fixtures/secured/api.raml")).model) as any;
    const schemes = doc.components.securitySchemes;
    expect(schemes.basic).toMatchObject({ type: "http", scheme: "basic" });
    expect(schemes.digest).toMatchObject({ type: "http", scheme: "digest" });
    expect(schemes.oauth1).toMatchObject({ type: "http", scheme: "OAuth" });
    expect(schemes.passThrough).toMatchObject({ type: "apiKey", in: "header", name: "X-Api-Key" });
    expect(schemes.hmac).toMatchObject({ type: "apiKey", in: "query", name: "signature" });
    expect(schemes.oauth2).toMatchObject({
      type: "oauth2",
      flows: {
        authorizationCode: { authorizationUrl: "https://auth.example.com/authorize", tokenUrl: "https://auth.example.com/token", scopes: { "notes:read": "notes:read", "notes:write": "notes:write", admin: "admin" } },
        clientCredentials: { tokenUrl: "https://auth.example.com/token" },
      },
    });
    expect(doc.paths["/notes"].get.security).toEqual([{ oauth2: ["notes:read"] }, {}]);
    expect(doc.paths["/notes"].post.security).toEqual([{ oauth2: ["notes:write"] }, { passThrough: [] }]);
    expect(doc.paths["/notes/{noteId}"].delete.security).toEqual([{ oauth2: ["notes:write", "admin"] }]);
    expect(doc.paths["/archive"].get.security).toEqual([{ basic: [] }]);
    expect(doc.paths["/legacy"].get.security).toEqual([{ digest: [] }, { oauth1: [] }]);
    expect(doc.paths["/public"].get.security).toBeUndefined();
    expect(doc.paths["/notes"].post.responses["401"].content["application/problem+json"]).toBeDefined();
  });
});
