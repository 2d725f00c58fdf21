// ramlgen mock over real HTTP: the project's job API walked through its whole lifecycle
// against nothing but the spec, and a spec that is not a job API answered from examples.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { startMock } from "../../generator/mock/mock.js";
import { call as plainCall, withHeaders } from "../helpers/http.js";

describe("mock of spec/api.raml (the async job pattern)", () => {
  // The job API is secured: the mock wants the declared credentials (any key will do).
  const call = withHeaders({ Authorization: "Bearer any-key" });
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const { model, validators } = loadModel(path.resolve("spec/api.raml"));
    ({ url, close } = await startMock(model, validators, { port: 0, log: () => {} }));
  });
  afterAll(() => close());

  it("keeps jobs: create, poll, complete through the callback, 303 to the result", async () => {
    const created = await call("POST", `${url}/resources`, { body: { name: "mocked" } });
    expect(created.status).toBe(202);
    const id = created.json.id;
    expect(created.headers.get("location")).toBe(`/resources/${id}`);
    expect(created.json.href).toBe(`/resources/${id}`);
    const running = await call("GET", `${url}/resources/${id}`);
    expect(running.status).toBe(200);
    expect(running.json).toMatchObject({ id, status: "IN PROGRESS", end: "" });
    expect((await call("PUT", `${url}/tasks/${id}`, { body: { result: { n: 1 } } })).json).toEqual({ status: "UPDATED" });
    const done = await call("GET", `${url}/resources/${id}`);
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(`/resources/${id}/result`);
    expect((await call("GET", `${url}/resources/${id}/result`)).json).toEqual({ n: 1 });
  });

  it("cancels, answers 404 for unknown ids and 409 for contradictions", async () => {
    const id = (await call("POST", `${url}/resources`)).json.id;
    const c = await call("DELETE", `${url}/resources/${id}`);
    expect(c.json).toMatchObject({ id, status: "CANCELLED" });
    expect((await call("PUT", `${url}/tasks/${id}`)).status).toBe(409);
    expect((await call("GET", `${url}/resources/nope`)).status).toBe(404);
  });

  it("answers 401 without the declared credentials", async () => {
    const r = await plainCall("POST", `${url}/resources`, { body: { name: "x" } });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="Asynchronous API"');
  });

  it("validates like the real router", async () => {
    const bad = await call("POST", `${url}/resources`, { body: { name: "" } });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].field).toBe("body/name");
    expect((await call("PATCH", `${url}/resources`)).status).toBe(405);
    expect((await call("POST", `${url}/resources`, { raw: "x", headers: { "content-type": "text/plain" } })).status).toBe(415);
    expect((await call("GET", `${url}/resources`, { headers: { accept: "text/html" } })).status).toBe(406);
  });

  it("advances jobs by itself after a delay when asked to", async () => {
    const { model, validators } = loadModel(path.resolve("spec/api.raml"));
    const timed = await startMock(model, validators, { port: 0, advanceAfterMs: 100, log: () => {} });
    try {
      const id = (await call("POST", `${timed.url}/resources`)).json.id;
      expect((await call("GET", `${timed.url}/resources/${id}`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      expect((await call("GET", `${timed.url}/resources/${id}`)).status).toBe(303);
    } finally {
      await timed.close();
    }
  });
});

describe("mock of a spec that is not a job API", () => {
  const call = plainCall;
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const { model, validators } = loadModel(path.resolve("test/fixtures/full/api.raml"));
    ({ url, close } = await startMock(model, validators, { port: 0, log: () => {} }));
  });
  afterAll(() => close());

  it("answers the first 2xx with its first example when asked for it; /things is a collection, started from the examples, so an id nobody made is 404", async () => {
    expect((await call("GET", `${url}/api/v2/things/zz-9`)).status).toBe(404);
    expect((await call("GET", `${url}/api/v2/things/a-1`)).json).toMatchObject({ id: "a-1", name: "First" });
    const r = await call("GET", `${url}/api/v2/things/zz-9`, { headers: { Prefer: "code=200" } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: "a-1", name: "First" });
    const legacy = await call("GET", `${url}/api/v2/legacy`);
    expect(legacy.status).toBe(200);
  });

  it("chooses by Prefer: example=name and Prefer: code=N", async () => {
    expect((await call("GET", `${url}/api/v2/things/a-1`, { headers: { Prefer: "example=second" } })).json).toMatchObject({ id: "b-2", name: "Second" });
    const redirect = await call("GET", `${url}/api/v2/things/a-1`, { headers: { Prefer: "code=303" } });
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get("location")).toBeTruthy();
    expect((await call("GET", `${url}/api/v2/things/a-1`, { headers: { Prefer: "code=404" } })).status).toBe(404);
  });

  it("validates requests with the generated schemas", async () => {
    expect((await call("GET", `${url}/api/v2/things?limit=0`)).status).toBe(400);
    expect((await call("POST", `${url}/api/v2/pets`, { body: { kind: "cat", name: "Tom", lives: 9 } })).status).toBe(200);
    expect((await call("POST", `${url}/api/v2/pets`, { body: { kind: "cow" } })).status).toBe(400);
  });
});

describe("mock of a secured spec", () => {
  const call = plainCall;
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const { model, validators } = loadModel(path.resolve("test/fixtures/secured/api.raml"));
    ({ url, close } = await startMock(model, validators, { port: 0, log: () => {} }));
  });
  afterAll(() => close());

  it("answers 401 with the scheme's challenge when the declared credentials are missing", async () => {
    const r = await call("POST", `${url}/v1/notes`, { body: { id: "n", text: "t" } });
    expect(r.status).toBe(401);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="Secured Fixture", ApiKey realm="Secured Fixture", header="X-Api-Key"');
    expect((await call("GET", `${url}/v1/archive`)).headers.get("www-authenticate")).toMatch(/^Basic /);
    expect((await call("POST", `${url}/v1/signed`, { body: { id: "n", text: "t" } })).status).toBe(401);
  });

  it("serves requests that carry them, and operations that need none", async () => {
    expect((await call("POST", `${url}/v1/notes`, { body: { id: "n", text: "t" }, headers: { Authorization: "Bearer anything" } })).status).toBe(201);
    expect((await call("POST", `${url}/v1/notes`, { body: { id: "n", text: "t" }, headers: { "X-Api-Key": "k".repeat(16) } })).status).toBe(201);
    expect((await call("GET", `${url}/v1/archive`, { headers: { Authorization: "Basic YTpi" } })).status).toBe(200);
    expect((await call("GET", `${url}/v1/archive`, { headers: { Authorization: "Bearer x" } })).status).toBe(401);
    expect((await call("GET", `${url}/v1/notes`)).status).toBe(200); // null: anonymous allowed
    expect((await call("GET", `${url}/v1/public`)).status).toBe(200);
    expect((await call("POST", `${url}/v1/signed?signature=${"0".repeat(64)}`, { body: { id: "n", text: "t" } })).status).toBe(204);
  });
});
