// Real-world RAML constructs, one fixture each under test/fixtures/realworld/: every fixture
// generates, its output type-checks under the strictest settings, and every operation is
// reached through the generated client and router with the right handler and parameters.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { writeOutput } from "../../generator/cli/files.js";
import { openApiDocument } from "../../generator/emit/openapi.js";
import { generate, loadModel } from "../../generator/generate.js";
import { callEveryOperation, serve, typecheck } from "../helpers/round-trip.js";

const dir = "test/fixtures/realworld";
const fixtures = readdirSync(dir).filter((f) => f.endsWith(".raml")).sort();
const outRoot = path.resolve("test/.out");

/** The real-world tests' served fixtures (paths.raml's own test uses it too). */
export async function roundTrip(spec: string, name: string) {
  const out = path.join(outRoot, `realworld-${name}`);
  if (!existsSync(path.join(out, "index.ts"))) writeOutput(out, generate(path.resolve(spec), out).files);
  return serve(spec, out);
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
    expect(await typecheck(out)).toBe("");
  });

  it("reaches every operation through the generated client, with its parameters", async () => {
    const { failures } = await callEveryOperation(spec, out);
    expect(failures).toEqual([]);
  });

  it("exports a valid OpenAPI 3.1 document", async () => {
    const { model } = loadModel(path.resolve(spec));
    const v = new Validator();
    const r = await v.validate(structuredClone(openApiDocument(model)) as Parameters<Validator["validate"]>[0]);
    expect(r.errors ?? [], JSON.stringify(r.errors)).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it("warns only where it should", () => {
    // The parser's own words about the JSON Schemas the repairs fixture holds on purpose.
    const also = file === "json-schema-repairs.raml" ? /^INVALID_JSON_SCHEMA_DETAILS / : /^$/;
    expect(warnings.filter((w) => !/^NO_RESPONSES |^XML_|^DISPLAY_NAME_|^JSON_SCHEMA_/.test(w) && !also.test(w))).toEqual([]);
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
    expect(warnings.map((w) => `${w.code} ${w.message}`)).toEqual(["JSON_SCHEMA_KEYWORDS type 'Customer' (test/fixtures/realworld/schemas/customer.json): ignored keywords JSON Schema does not define: javaName, javaType"]);
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

describe("query-facets.raml: the query checked as the object its queryString declares", () => {
  it("holds the query to the type's facets: at least one, at most three, none unknown, pattern-named ones, a union of shapes", async () => {
    const { url, seen, close } = await roundTrip(path.join(dir, "query-facets.raml"), "query-facets");
    const get = async (p: string) => {
      const before = seen.length;
      const r = await fetch(`${url}${p}`);
      const body = r.status === 204 ? {} : ((await r.json()) as { errors?: { field: string; detail: string }[] });
      return { status: r.status, seen: seen.slice(before).map((s) => s.query), errors: body.errors?.map((e) => `${e.field}: ${e.detail}`) };
    };
    try {
      expect(await get("/search?q=dune&f.color=red")).toEqual({ status: 200, seen: [{ q: "dune", "f.color": "red" }], errors: undefined });
      expect(await get("/search")).toMatchObject({ status: 400, seen: [], errors: ["query: must have at least 1 parameter"] });
      expect(await get("/search?q=a&sort=asc&f.a=1&f.b=2")).toMatchObject({ status: 400, errors: ["query: must have at most 3 parameters"] });
      expect(await get("/search?q=dune&color=red")).toMatchObject({ status: 400, errors: [expect.stringMatching(/^query\/color: /)] });
      expect(await get("/search?sort=up")).toMatchObject({ status: 400, errors: ["query/sort: must be one of asc, desc"] });
      expect(await get("/search?f.lang=fr")).toMatchObject({ status: 200, seen: [{ "f.lang": "fr" }] });
      expect(await get("/search?f.lang=de")).toMatchObject({ status: 400, errors: ["query/f.lang: must be one of en, fr"] });
      expect(await get("/locations?lat=45.7&long=4.8&page-size=10")).toEqual({ status: 200, seen: [{ lat: 45.7, long: 4.8, "page-size": 10 }], errors: undefined });
      expect(await get("/locations?location=Lyon")).toMatchObject({ status: 200, seen: [{ location: "Lyon" }] });
      expect(await get("/locations?start=1")).toMatchObject({ status: 400, seen: [] });
      expect(await get("/locations?location=Lyon&page-size=101")).toMatchObject({ status: 400, errors: [expect.stringMatching(/^query\/page-size: /)] });
      // `queryString:` with no type: any query is let through (what it does not declare is not handed on, as elsewhere).
      expect(await get("/untyped?anything=1")).toMatchObject({ status: 204, seen: [{}] });
    } finally {
      await close();
    }
  });
});

describe("query-facets.raml's named examples (a NamedExample fragment)", () => {
  it("checks each against the query type and points into the fragment at one that does not match", () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "ramlgen-named-"));
    try {
      cpSync(dir, tmp, { recursive: true });
      expect(generate(path.join(tmp, "query-facets.raml"), path.join(tmp, "out")).warnings).toEqual([]);
      const fragment = path.join(tmp, "examples/locations.raml");
      writeFileSync(fragment, readFileSync(fragment, "utf8").replace("lat: 45.76", "lat: north"));
      const invalid = generate(path.join(tmp, "query-facets.raml"), path.join(tmp, "out")).warnings.filter((w) => w.code === "EXAMPLE_INVALID");
      expect(invalid.map((w) => [path.relative(tmp, path.resolve(w.path)), w.line])).toEqual([["examples/locations.raml", 3]]);
      expect(invalid[0]!.message).toMatch(/^example 'nearLyon' \(GET \/locations nearLyon\) does not match its schema: \/lat must be number/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("list-headers.raml: headers typed as arrays", () => {
  it("splits a comma-separated header, and a repeated one, into the items it checks one by one", async () => {
    const { url, seen, close } = await roundTrip(path.join(dir, "list-headers.raml"), "list-headers");
    try {
      const ok = await fetch(`${url}/users`, { headers: { "x-dept": "230-OCTO, 231-OCTO", "x-tags": "red" } });
      expect(ok.status).toBe(200);
      const bad = await fetch(`${url}/users`, { headers: { "x-dept": "230-OCTO, OCTO" } });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(["headers/x-dept/1"]);
      expect((await fetch(`${url}/users`)).status).toBe(400);
      expect(seen.length).toBe(1);
    } finally {
      await close();
    }
  });
});

describe("json-schema-repairs.raml and legacy-08-schema-names.raml: JSON Schemas as people wrote them", () => {
  it("reads what was meant, says what it made of each, and validates by it", async () => {
    const spec = path.join(dir, "json-schema-repairs.raml");
    const ours = generate(path.resolve(spec), path.join(outRoot, "unused")).warnings.filter((w) => w.code.startsWith("JSON_SCHEMA_"));
    expect(ours.map((w) => `${w.code} ${w.message}`)).toEqual([
      `JSON_SCHEMA_REPAIRED type 'task' at #/properties/action/type: type "review" is none of JSON Schema's; left out, so any type is accepted there`,
      `JSON_SCHEMA_REPAIRED type 'task' at #/properties/due_at/type: type "timestamp" read as "string"`,
      `JSON_SCHEMA_REPAIRED type 'task' at #/properties/count/type: type "int" read as "integer"`,
      `JSON_SCHEMA_REPAIRED type 'media' at #/properties/data/items/oneOf/0/properties/type: a schema written as "string" read as {"type": "string"}`,
      `JSON_SCHEMA_REPAIRED type 'fees' at #/properties/currency/enum: enum "USD" read as ["USD"]`,
      "JSON_SCHEMA_REPAIRED type 'fees' at #/properties/amount/format: format 5 is not text; left out",
      `JSON_SCHEMA_REPAIRED type 'fees' at #/properties/code/minLength: minLength "2" read as 2`,
      "JSON_SCHEMA_EMPTY type 'empty': the schema is empty; anything is accepted there",
      "JSON_SCHEMA_INVALID type 'selfNamed': holds only the name 'selfNamed', not a JSON Schema (its own); anything is accepted there",
    ]);
    const { url, close } = await roundTrip(spec, "json-schema-repairs");
    const send = async (method: string, p: string, body: unknown) => {
      const r = await fetch(`${url}${p}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: r.status, fields: r.status === 400 ? ((await r.json()) as { errors: { field: string }[] }).errors.map((e) => e.field) : [] };
    };
    try {
      expect(await send("POST", "/tasks", { id: "t1", action: "review", due_at: "tomorrow", count: 3, note: null })).toEqual({ status: 201, fields: [] });
      expect(await send("POST", "/tasks", { id: "t1", count: 3.5 })).toEqual({ status: 400, fields: ["body/count"] });
      expect(await send("POST", "/tasks", { count: 3 })).toEqual({ status: 400, fields: ["body/id"] });
      expect(await send("PUT", "/anything", [1, "two"])).toEqual({ status: 200, fields: [] });
    } finally {
      await close();
    }
    const names = path.join(dir, "legacy-08-schema-names.raml");
    expect(generate(path.resolve(names), path.join(outRoot, "unused")).warnings).toEqual([]);
    const served = await roundTrip(names, "legacy-08-schema-names");
    try {
      const post = (body: unknown) => fetch(`${served.url}/v1/airports-by-day`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      expect((await post({ airports: ["LYS"] })).status).toBe(201);
      const bad = await post({ airports: [1] });
      expect([bad.status, ((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)]).toEqual([400, ["body/airports/0"]]);
    } finally {
      await served.close();
    }
  });
});

describe("libraries-reuse.raml and types-only.raml", () => {
  it("follows types through libraries that use each other, and names them once", async () => {
    const spec = path.join(dir, "libraries-reuse.raml");
    const { model } = generate(path.resolve(spec), path.join(outRoot, "unused"));
    expect(model.types.map((t) => t.name).sort()).toEqual(["common.Audit", "common.Id", "orders.Order", "people.Person"]);
    const { url, close } = await roundTrip(spec, "libraries-reuse");
    const post = (body: unknown) => fetch(`${url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    try {
      const person = { id: "p1", name: "Ann", createdBy: "me", createdAt: "2026-01-01T00:00:00Z" };
      const order = { id: "o1", customer: person, createdBy: "me", createdAt: "2026-01-01T00:00:00Z" };
      expect((await post(order)).status).toBe(201);
      const bad = await post({ ...order, customer: { ...person, id: "P 1" } });
      expect([bad.status, ((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)]).toEqual([400, ["body/customer/id"]]);
      expect((await fetch(`${url}/people/NOT-AN-ID`)).status).toBe(400);
    } finally {
      await close();
    }
  });

  it("generates the types of a spec with no resources, and a router and client with nothing to route", () => {
    const { model, files } = generate(path.resolve(dir, "types-only.raml"), path.join(outRoot, "unused"));
    expect(model.operations).toEqual([]);
    expect(model.types.map((t) => t.name)).toEqual(["Money", "Invoice"]);
    const types = files.get("types.ts")!;
    expect(types).toMatch(/export type Invoice = \{/);
  });
});

describe("param-examples.raml: examples of parameters are the text sent", () => {
  it("checks each example as the wire text it stands for, a trait's substituted one too, without a false warning", () => {
    const { warnings } = generate(path.resolve(dir, "param-examples.raml"), path.join(outRoot, "unused"));
    expect(warnings).toEqual([]);
  });
});
