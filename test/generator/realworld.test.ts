// Real-world RAML constructs, one fixture each under test/fixtures/realworld/: every fixture
// generates, its output type-checks under the strictest settings, and every operation is
// reached through the generated client and router with the right handler and parameters.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { writeOutput } from "../../generator/cli/files.js";
import { openApiDocument } from "../../generator/emit/openapi.js";
import { generate, loadModel } from "../../generator/generate.js";
import type { ApiModel, Operation, Param } from "../../generator/model/model.js";
import { listen } from "../helpers/http.js";
import { specValues } from "../helpers/spec-values.js";

const run = promisify(execFile);
const dir = "test/fixtures/realworld";
const fixtures = readdirSync(dir).filter((f) => f.endsWith(".raml")).sort();
const outRoot = path.resolve("test/.out");

/** What the router handed to a handler. */
interface Seen {
  operation: string;
  params: unknown;
  query: unknown;
}

/** A plain value for a path parameter: letters and digits only, so that mixed segments stay unambiguous. */
function pathValue(values: ReturnType<typeof specValues>, p: Param): unknown {
  const s = p.schema as { type?: unknown; pattern?: unknown; enum?: unknown; format?: unknown };
  if (s.type === "string" && !s.pattern && !s.enum && !s.format) return `${p.name.replace(/[^A-Za-z0-9]/g, "")}1`;
  return values.param(p);
}

export async function roundTrip(spec: string, name: string): Promise<{ model: ApiModel; url: string; seen: Seen[]; close(): Promise<void> }> {
  const out = path.join(outRoot, `realworld-${name}`);
  const { model, validators } = loadModel(path.resolve(spec));
  const values = specValues(model, validators);
  if (!existsSync(path.join(out, "index.ts"))) writeOutput(out, generate(path.resolve(spec), out).files);
  const mod = await import(pathToFileURL(path.join(out, "index.ts")).href);
  const seen: Seen[] = [];
  const handlers: Record<string, (req: { params: unknown; query: unknown }) => unknown> = {};
  for (const op of model.operations) {
    handlers[op.name] = (req) => {
      seen.push({ operation: op.name, params: req.params, query: req.query });
      const r = op.responses[0];
      if (!r) return { status: 200, body: { undeclared: true } };
      const headers = Object.fromEntries(r.headers.filter((h) => h.required).map((h) => [h.name, values.param(h)]));
      const b = r.bodies[0];
      return { status: r.status, headers, ...(b ? { contentType: b.mediaType, body: values.body(b) } : {}) };
    };
  }
  // Every scheme lets every caller in: these tests are about routing, not authentication.
  const security = Object.fromEntries(model.securitySchemes.map((sc) => [sc.name, () => ({ caller: "test" })]));
  const server = await listen(mod.createRouter(handlers, { security, validateResponses: true, onResponseValidationError: (f: unknown) => seen.push({ operation: "INVALID RESPONSE", params: f, query: undefined }) }));
  return { model, url: server.url, seen, close: server.close };
}

describe.each(fixtures)("real-world RAML: %s", (file) => {
  const name = file.replace(/\.raml$/, "");
  const spec = path.join(dir, file);
  const out = path.join(outRoot, `realworld-${name}`);
  let warnings: string[] = [];

  beforeAll(() => {
    rmSync(out, { recursive: true, force: true });
    const r = generate(path.resolve(spec), out);
    warnings = r.warnings.map((w) => `${w.code} ${w.message}`);
    writeOutput(out, r.files);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("generates output that type-checks under the strictest settings", async () => {
    mkdirSync(outRoot, { recursive: true });
    const config = path.join(outRoot, `tsconfig.${name}.json`);
    writeFileSync(config, JSON.stringify({ extends: path.resolve("tsconfig.generated.json"), include: [out], exclude: [] }));
    try {
      await run(process.execPath, [path.resolve("node_modules/typescript/bin/tsc"), "--noEmit", "-p", config]);
    } catch (e) {
      throw new Error(`tsc: ${(e as { stdout: string }).stdout}`);
    } finally {
      rmSync(config, { force: true });
    }
  });

  it("reaches every operation through the generated client, with its parameters", async () => {
    const { model, url, seen, close } = await roundTrip(spec, name);
    try {
      const { model: m2, validators } = loadModel(path.resolve(spec));
      const values = specValues(m2, validators);
      const mod = await import(pathToFileURL(path.join(out, "client.ts")).href);
      const client = new mod.ApiClient({ baseUrl: url });
      for (const op of model.operations as Operation[]) {
        const params = Object.fromEntries(op.uriParams.map((p) => [p.name, pathValue(values, p)]));
        const query = Object.fromEntries(op.query.filter((q) => q.required && !q.name.startsWith("/")).map((q) => [q.name, values.param(q)]));
        const headers = Object.fromEntries(op.headers.filter((h) => h.required).map((h) => [h.name.toLowerCase(), values.param(h)]));
        const b = op.bodies[0];
        const request = { params, query, headers, ...(b ? { body: values.body(b), mediaType: b.mediaType } : {}) };
        const before = seen.length;
        const reply = await client[op.name](request);
        expect(seen.slice(before), `${op.name}: ${JSON.stringify(reply)}`).toMatchObject([{ operation: op.name, params }]);
        expect(reply.status).toBe(op.responses[0]?.status ?? 200);
      }
    } finally {
      await close();
    }
  });

  it("exports a valid OpenAPI 3.1 document", async () => {
    const { model } = loadModel(path.resolve(spec));
    const v = new Validator();
    const r = await v.validate(structuredClone(openApiDocument(model)) as Parameters<Validator["validate"]>[0]);
    expect(r.errors ?? [], JSON.stringify(r.errors)).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it("warns only where it should", () => {
    expect(warnings.filter((w) => !/^NO_RESPONSES |^XML_|^DISPLAY_NAME_|^JSON_SCHEMA_/.test(w))).toEqual([]);
  });
});

afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

describe("paths.raml: segments that mix text and parameters", () => {
  it("routes each to its own handler and splits the parameters", async () => {
    const { url, seen, close } = await roundTrip(path.join(dir, "paths.raml"), "paths");
    try {
      const cases: [string, string, Record<string, unknown>][] = [
        ["/q/NYSE.IBM", "getQuote", { exchange: "NYSE", stock: "IBM" }],
        ["/q/NYSE", "getExchange", { exchange: "NYSE" }],
        ["/q/NYSE/range/1.5", "getRange", { exchange: "NYSE", from: 1, to: 5 }],
        ["/q/files/report.json", "getFile", { name: "report" }],
        ["/q/files/report.v2.json", "getFile", { name: "report.v2" }],
        ["/q/v2-13", "getVersion", { major: "2", minor: "13" }],
      ];
      for (const [p, operation, params] of cases) {
        const before = seen.length;
        const r = await fetch(`${url}${p}`);
        expect(r.status, p).toBe(200);
        expect(seen.slice(before), p).toEqual([{ operation, params, query: {} }]);
      }
      expect((await fetch(`${url}/q/files/report.txt`)).status).toBe(404);
      // Methods without responses: implementable, answered as the handler gives it, and warned about.
      const ping = await fetch(`${url}/q/ping`);
      expect([ping.status, await ping.json()]).toEqual([200, { undeclared: true }]);
      const w = generate(path.resolve(dir, "paths.raml"), path.join(outRoot, "unused")).warnings.map((x) => x.message);
      expect(w).toEqual([
        "GET /ping declares no responses: its handler may answer any status and body, sent unchecked",
        "POST /ping declares no responses: its handler may answer any status and body, sent unchecked",
      ]);
      expect((await fetch(`${url}/q/NYSE/range/1.x`)).status).toBe(400);
    } finally {
      await close();
    }
  });
});

describe("base-and-names.raml: a baseUri without a scheme, a baseUri parameter without a default, repeated displayNames", () => {
  it("routes under the baseUri's path with the parameter, and names the repeated operations from their paths", async () => {
    const spec = path.join(dir, "base-and-names.raml");
    const { model, warnings } = generate(path.resolve(spec), path.join(outRoot, "unused"));
    expect(model.operations.map((o) => [o.name, o.path])).toEqual([
      ["list", "/v3/{tenant}/users"],
      ["get", "/v3/{tenant}/users/{userId}"],
      ["getGroups", "/v3/{tenant}/groups"],
      ["getGroupsByGroupId", "/v3/{tenant}/groups/{groupId}"],
    ]);
    expect(warnings.map((w) => `${w.code} ${w.message}`)).toEqual([
      "DISPLAY_NAME_REPEATED GET /groups: displayName 'list' is also GET /users's; its handler is named getGroups",
      "DISPLAY_NAME_REPEATED GET /groups/{groupId}: displayName 'get' is also GET /users/{userId}'s; its handler is named getGroupsByGroupId",
    ]);
    const { url, seen, close } = await roundTrip(spec, "base-and-names");
    try {
      const before = seen.length;
      expect((await fetch(`${url}/v3/acme/users/u1`)).status).toBe(200);
      expect(seen.slice(before)).toEqual([{ operation: "get", params: { tenant: "acme", userId: "u1" }, query: {} }]);
      const bad = await fetch(`${url}/v3/ACME/users`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe("path/tenant");
    } finally {
      await close();
    }
  });
});

describe("query.raml: queryString types and query parameters named by patterns", () => {
  it("validates and types the whole query, defaults included, and takes pattern-named parameters", async () => {
    const { url, seen, close } = await roundTrip(path.join(dir, "query.raml"), "query");
    const get = async (p: string) => {
      const before = seen.length;
      const r = await fetch(`${url}${p}`);
      const body = (await r.json()) as { errors?: { field: string }[] };
      return { status: r.status, seen: seen.slice(before), fields: body.errors?.map((e) => e.field) };
    };
    try {
      expect(await get("/books?year=1999&author=Le%20Guin&tag[sf]=yes")).toMatchObject({
        status: 200,
        seen: [{ operation: "getBooks", query: { page: 1, year: 1999, author: "Le Guin", "tag[sf]": "yes" } }],
      });
      expect(await get("/books?author=x")).toMatchObject({ status: 400, fields: ["query/year"] });
      expect(await get("/books?year=1999&page=0")).toMatchObject({ status: 400, fields: ["query/page"] });
      expect(await get("/search?q=dune")).toMatchObject({ status: 200, seen: [{ operation: "getSearch", query: { q: "dune" } }] });
      expect(await get("/search?q=")).toMatchObject({ status: 400, fields: ["query/q"] });
      expect(await get("/authors?author[bob]=Bob&limit=5")).toMatchObject({ status: 200, seen: [{ query: { "author[bob]": "Bob", limit: 5 } }] });
      expect(await get("/authors")).toMatchObject({ status: 200, seen: [{ query: {} }] });
      expect(await get(`/authors?author[bob]=${"b".repeat(21)}`)).toMatchObject({ status: 400, fields: ["query/author[bob]"] });
    } finally {
      await close();
    }
  });
});

describe("xml.raml and union-inheritance.raml", () => {
  it("passes XML bodies through unvalidated, with a warning, and checks the JSON ones", async () => {
    const spec = path.join(dir, "xml.raml");
    expect(generate(path.resolve(spec), path.join(outRoot, "unused")).warnings.map((w) => `${w.code} ${w.message}`)).toEqual([
      "XML_SCHEMA type 'Order' is an XML schema: XML bodies pass through unvalidated",
    ]);
    const { url, close } = await roundTrip(spec, "xml");
    try {
      const xml = await fetch(`${url}/orders`, { method: "POST", headers: { "content-type": "application/xml" }, body: "<order>anything</order>" });
      expect(xml.status).toBe(200);
      const json = await fetch(`${url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: "[1]" });
      expect(json.status).toBe(400);
    } finally {
      await close();
    }
  });

  it("takes either member of a union inherited beside another parent", async () => {
    const { url, close } = await roundTrip(path.join(dir, "union-inheritance.raml"), "union-inheritance");
    try {
      const post = (body: unknown) => fetch(`${url}/pets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      expect((await post({ home: "h", kind: "dog", barks: true })).status).toBe(201);
      expect((await post({ home: "h", kind: "cat", meows: false })).status).toBe(201);
      expect((await post({ kind: "cat", meows: false })).status).toBe(400);
      expect((await post({ home: "h", kind: "cow" })).status).toBe(400);
    } finally {
      await close();
    }
  });
});

describe("json-schemas.raml: JSON Schema as real specs write it", () => {
  it("keeps properties named id and $schema, honours draft-03 required, $refs to files and #/definitions, and warns about vendor keywords", async () => {
    const spec = path.join(dir, "json-schemas.raml");
    const { model, warnings } = generate(path.resolve(spec), path.join(outRoot, "unused"));
    const customer = model.types.find((t) => t.name === "Customer")!.schema as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(customer.properties)).toEqual(["id", "$schema", "name", "phone", "address", "orders"]);
    expect(customer.required).toEqual(["id", "name"]);
    expect(warnings.map((w) => `${w.code} ${w.message}`)).toEqual(["JSON_SCHEMA_KEYWORDS type 'Customer': ignored keywords JSON Schema does not define: javaName, javaType"]);
    const { url, close } = await roundTrip(spec, "json-schemas");
    const post = async (p: string, body: unknown) => {
      const r = await fetch(`${url}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: r.status, fields: r.status === 400 ? ((await r.json()) as { errors: { field: string }[] }).errors.map((e) => e.field) : [] };
    };
    try {
      const ok = { id: 1, name: "Ann", phone: "+33 1 23", address: { street: "rue", city: "Lyon" }, orders: [{ total: 3 }] };
      expect(await post("/customers", ok)).toEqual({ status: 201, fields: [] });
      expect(await post("/customers", { ...ok, id: "1" })).toEqual({ status: 400, fields: ["body/id"] });
      expect(await post("/customers", { ...ok, address: { city: "Lyon" } })).toEqual({ status: 400, fields: ["body/address/street"] });
      expect(await post("/customers", { ...ok, phone: "call me" })).toEqual({ status: 400, fields: ["body/phone"] });
      expect(await post("/customers", { ...ok, orders: [{}] })).toEqual({ status: 400, fields: ["body/orders/0/total"] });
      const tree = { label: "root", point: [1, 2], weight: 1, children: [{ label: "leaf", children: [] }] };
      expect(await post("/trees", tree)).toEqual({ status: 200, fields: [] });
      expect(await post("/trees", { ...tree, children: [{ children: [] }] })).toEqual({ status: 400, fields: ["body/children/0/label"] });
      expect(await post("/trees", { ...tree, point: [1, 2, 3] })).toMatchObject({ status: 400 });
      expect(await post("/trees", { ...tree, weight: 0 })).toEqual({ status: 400, fields: ["body/weight"] });
      expect(await post("/notes", { text: "hi" })).toEqual({ status: 204, fields: [] });
      expect(await post("/notes", {})).toEqual({ status: 400, fields: ["body/text"] });
    } finally {
      await close();
    }
  });
});

describe("extended.raml and overlaid.raml: an extension or overlay given as the root", () => {
  it("generates the merged API", () => {
    const ext = generate(path.resolve(dir, "extended.raml"), path.join(outRoot, "unused")).model;
    expect(ext.operations.map((o) => `${o.method} ${o.path}`).sort()).toEqual(["get /books", "get /books/{bookId}", "get /books/{bookId}/reviews", "post /books/{bookId}/reviews"]);
    expect(ext.types.map((t) => t.name).sort()).toEqual(["Book", "Review"]);
    const over = generate(path.resolve(dir, "overlaid.raml"), path.join(outRoot, "unused")).model;
    expect(over.title).toBe("Books (documented by an overlay)");
    expect(over.operations.find((o) => o.path === "/books")!.description).toBe("Every book, oldest first.");
  });

  it("watches the file it extends", async () => {
    const { specFiles } = await import("../../generator/read/deps.js");
    expect(specFiles(path.resolve(dir, "extended.raml")).map((f) => path.basename(f))).toEqual(["extended-base.raml", "extended.raml"]);
  });
});

describe("RAML 0.8 (legacy-08.raml, vendor-08.raml)", () => {
  it("generates a vendor-sized 0.8 API: 100+ methods from resource types, traits with parameters and schemas by name", () => {
    const { model } = generate(path.resolve(dir, "vendor-08.raml"), path.join(outRoot, "unused"));
    expect(model.operations.length).toBeGreaterThanOrEqual(100);
    const list = model.operations.find((o) => o.path === "/api/v1/customers" && o.method === "get")!;
    expect(list.query.map((q) => q.name)).toEqual(["offset", "limit", "q", "tag", "since"]);
    expect(list.query.find((q) => q.name === "limit")!.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 100 });
    expect(list.query.find((q) => q.name === "tag")!.schema).toMatchObject({ type: "array", items: { type: "string" } });
    expect(list.headers.map((h) => h.name)).toEqual(["X-Request-Id"]);
    expect(list.security?.alternatives.map((a) => a.scheme)).toEqual(["basic"]);
    const orders = model.operations.find((o) => o.path === "/api/v1/orders" && o.method === "get")!;
    expect(orders.headers.map((h) => h.name)).toEqual(["X-Request-Id", "Authorization"]);
    expect(orders.security?.alternatives.map((a) => a.scheme)).toEqual(["oauth_2_0"]);
    expect(orders.responses.map((r) => r.status)).toEqual([200, 401]);
    const customer = model.types.find((t) => t.name === "customer")!.schema as { properties: Record<string, unknown>; required: string[] };
    expect(customer.required).toEqual(["id", "name"]);
    expect(customer.properties["price"]).toEqual({ $ref: "#/$defs/money" });
  });

  it("validates as the 0.8 spec says: named parameter facets, repeat, date, schemas that refer to each other", async () => {
    const { url, seen, close } = await roundTrip(path.join(dir, "vendor-08.raml"), "vendor-08");
    const call = async (method: string, p: string, body?: unknown) => {
      const before = seen.length;
      const r = await fetch(`${url}${p}`, { method, headers: { authorization: "Basic dTpw", ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await r.text();
      return { status: r.status, seen: seen.slice(before), fields: r.status === 400 ? (JSON.parse(text) as { errors: { field: string }[] }).errors.map((e) => e.field) : [] };
    };
    try {
      expect(await call("GET", "/api/v1/customers?tag=a&tag=b&since=Sun,%2006%20Nov%201994%2008:49:37%20GMT")).toMatchObject({
        status: 200,
        seen: [{ operation: "getCustomers", query: { offset: 0, limit: 20, tag: ["a", "b"], since: "Sun, 06 Nov 1994 08:49:37 GMT" } }],
      });
      expect(await call("GET", "/api/v1/customers?limit=101")).toMatchObject({ status: 400, fields: ["query/limit"] });
      expect(await call("GET", "/api/v1/customers?since=yesterday")).toMatchObject({ status: 400, fields: ["query/since"] });
      expect(await call("GET", "/api/v1/customers/ab")).toMatchObject({ status: 400, fields: ["path/customerId"] });
      const order = { id: "o-1", name: "First", price: { amount: 3, currency: "EUR" } };
      expect(await call("POST", "/api/v1/orders", order)).toMatchObject({ status: 201 });
      expect(await call("POST", "/api/v1/orders", { ...order, price: { amount: -1, currency: "EUR" } })).toMatchObject({ status: 400, fields: ["body/price/amount"] });
      expect(await call("POST", "/api/v1/orders", { id: "o-1" })).toMatchObject({ status: 400, fields: ["body/name"] });
    } finally {
      await close();
    }
  });
});

describe("facets.raml: a pattern without the u flag and a decimal multipleOf, through the router", () => {
  it("takes 12-ab and 1.15, refuses ab-12 and 1.155", async () => {
    const { url, close } = await roundTrip(path.join(dir, "facets.raml"), "facets");
    const put = async (ref: string, amount: number) => (await fetch(`${url}/entries/${ref}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ ref, amount }) })).status;
    try {
      expect(await put("12-ab", 1.15)).toBe(200);
      expect(await put("12-ab", 0.07)).toBe(200);
      expect(await put("ab-12", 1.15)).toBe(400);
      expect(await put("12-ab", 1.155)).toBe(400);
    } finally {
      await close();
    }
  });
});
