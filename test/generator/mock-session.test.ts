// A front-end developer's day against `ramlgen mock`, over real HTTP, on three specs of the
// project's own (test/fixtures/mock/): a collection with a patterned id (orders.raml), nested
// collections (nested.raml), examples everywhere (catalog.raml). Every answer is checked
// against the spec by the session (test/helpers/mock-session.ts), and each against the ones
// before it: what was created reads back as it was sent, the list holds it, changes show,
// a deleted item is gone. Then the state file, the reset, random bodies (fast-check) and the
// plausibility of the values themselves.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { MockValues } from "../../generator/mock/mock-values.js";
import type { JsonSchema } from "../../generator/model/schema.js";
import { arbitrary } from "../helpers/arbitrary.js";
import { call } from "../helpers/http.js";
import { mockSession, type MockSession } from "../helpers/mock-session.js";

const run = promisify(execFile);
const spec = (name: string) => `test/fixtures/mock/${name}.raml`;
const grace = {
  customer: { name: "Grace Hopper", email: "grace@example.com", city: "Arlington" },
  lines: [
    { sku: "TEA-0001", title: "Green tea", quantity: 2, price: 3.5 },
    { sku: "MUG-0002", title: "Mug", quantity: 1, price: 12.25 },
  ],
  currency: "EUR",
};

describe("orders.raml: a collection whose ids have a pattern", () => {
  let s: MockSession;
  beforeAll(async () => {
    s = await mockSession(spec("orders"));
  });
  afterAll(() => s.close());

  it("create, read back, list, update, read back, delete, read: each answer agrees with the ones before", async () => {
    const fresh = await s.send("getOrders", "/api/orders");
    expect(fresh.json.total).toBe(3);
    expect(fresh.json.items).toHaveLength(3);

    const created = await s.send("postOrders", "/api/orders", { body: grace });
    expect(created.status).toBe(201);
    const location = created.headers.get("location")!;
    expect(location).toMatch(/^\/api\/orders\/ord_[0-9A-Za-z]+$/);
    const order = created.json;
    expect(location).toBe(`/api/orders/${order.orderId}`);
    // The posted fields as they were sent; what the server adds: the default status, the time, the total of the lines.
    expect(order).toMatchObject(grace);
    expect(order.status).toBe("placed");
    expect(Math.abs(Date.parse(order.placedAt) - Date.now())).toBeLessThan(60_000);
    expect(order.total).toBe(19.25);

    expect((await s.send("getOrdersByOrderId", location)).json).toEqual(order);
    const list = await s.send("getOrders", "/api/orders");
    expect(list.json.total).toBe(4);
    expect(list.json.items.at(-1)).toEqual(order);
    expect((await s.send("getOrders", "/api/orders?offset=3&limit=1")).json).toMatchObject({ items: [order], total: 4, offset: 3, limit: 1 });
    const placed = (await s.send("getOrders", "/api/orders?status=placed")).json.items as { status: string }[];
    expect(placed).toContainEqual(order);
    expect(placed.every((o) => o.status === "placed")).toBe(true);

    const paid = await s.send("patchOrdersByOrderId", location, { body: { status: "paid", note: "Leave at the door" } });
    expect(paid.json).toEqual({ ...order, status: "paid", note: "Leave at the door", updatedAt: paid.json.updatedAt });
    expect((await s.send("getOrdersByOrderId", location)).json).toEqual(paid.json);

    expect((await s.send("deleteOrdersByOrderId", location)).status).toBe(204);
    const gone = await s.send("getOrdersByOrderId", location);
    expect(gone.status).toBe(404);
    expect(gone.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(gone.json).toMatchObject({ status: 404, title: "Not Found", detail: `There is no order ${order.orderId} (${location})` });
    expect((await s.send("getOrders", "/api/orders")).json.items).not.toContainEqual(paid.json);
    expect((await s.send("patchOrdersByOrderId", location, { body: { status: "paid" } })).status).toBe(404);
    expect((await s.send("deleteOrdersByOrderId", location)).status).toBe(404);
  });

  it("reads back the posted fields unchanged, for any valid order (fast-check)", async () => {
    const defs = Object.fromEntries(s.model.types.map((t) => [t.name, t.schema]));
    await fc.assert(
      fc.asyncProperty(arbitrary({ $ref: "#/$defs/NewOrder" }, defs), async (body) => {
        const created = await s.send("postOrders", "/api/orders", { body });
        expect(created.status).toBe(201);
        const read = await s.send("getOrdersByOrderId", created.headers.get("location")!);
        for (const [k, v] of Object.entries(body as Record<string, unknown>)) expect(read.json[k], k).toEqual(v);
      }),
      { numRuns: 40, seed: 7 },
    );
  });
});

describe("nested.raml: collections inside their parent's items", () => {
  let s: MockSession;
  beforeAll(async () => {
    s = await mockSession(spec("nested"));
  });
  afterAll(() => s.close());

  it("keeps each customer's addresses with the customer, and removes them with it", async () => {
    const customers = (await s.send("getCustomers", "/v2/customers")).json as { id: number }[];
    expect(customers.map((c) => c.id)).toEqual([1000, 1001, 1002]);
    const seeded = (await s.send("getCustomersByCustomerIdAddresses", "/v2/customers/1000/addresses")).json as unknown[];
    expect(seeded).toHaveLength(2);

    const ada = await s.send("postCustomers", "/v2/customers", { body: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.org", company: "Analytical" } });
    expect(ada.json).toMatchObject({ id: 1003, firstName: "Ada", lastName: "Lovelace", email: "ada@example.org", company: "Analytical" });
    expect(ada.headers.get("location")).toBe("/v2/customers/1003");
    expect((await s.send("getCustomersByCustomerIdAddresses", "/v2/customers/1003/addresses")).json).toEqual([]);

    const home = { street: "12 St James's Square", city: "London", postalCode: "SW1Y 4JH", country: "GB" };
    const added = await s.send("postCustomersByCustomerIdAddresses", "/v2/customers/1003/addresses", { body: home });
    expect(added.json).toMatchObject({ ...home, primary: false });
    const at = added.headers.get("location")!;
    expect(at).toBe(`/v2/customers/1003/addresses/${added.json.addressId}`);
    expect((await s.send("getCustomersByCustomerIdAddressesByAddressId", at)).json).toEqual(added.json);
    expect((await s.send("getCustomersByCustomerIdAddresses", "/v2/customers/1003/addresses")).json).toEqual([added.json]);
    expect((await s.send("getCustomersByCustomerIdAddresses", "/v2/customers/1000/addresses")).json).toEqual(seeded);

    const moved = { ...home, street: "1 Dorset Street", primary: true };
    expect((await s.send("putCustomersByCustomerIdAddressesByAddressId", at, { body: moved })).json).toEqual({ ...moved, addressId: added.json.addressId });
    expect((await s.send("getCustomersByCustomerIdAddressesByAddressId", at)).json.street).toBe("1 Dorset Street");

    const nobody = await s.send("postCustomersByCustomerIdAddresses", "/v2/customers/9999/addresses", { body: home });
    expect(nobody.status).toBe(404);
    expect(nobody.json.detail).toBe("There is no customer 9999 (/v2/customers/9999)");

    expect((await s.send("getCustomers", "/v2/customers?page=2&per_page=3")).json.map((c: { id: number }) => c.id)).toEqual([1003]);
    expect((await s.send("getCustomers", "/v2/customers?company=Analytical")).json.map((c: { id: number }) => c.id)).toEqual([1003]);

    expect((await s.send("deleteCustomersByCustomerId", "/v2/customers/1003")).status).toBe(204);
    expect((await s.send("getCustomersByCustomerIdAddressesByAddressId", at)).status).toBe(404);
    expect((await s.send("getCustomersByCustomerIdAddresses", "/v2/customers/1003/addresses")).status).toBe(404);
  });
});

describe("catalog.raml: a spec with examples everywhere", () => {
  let s: MockSession;
  beforeAll(async () => {
    s = await mockSession(spec("catalog"));
  });
  afterAll(() => s.close());

  it("starts from the designer's own data, and keeps what is done to it", async () => {
    const mug = { sku: "MU200", name: "Mug", price: 8 };
    const kettle = { sku: "KE300", name: "Kettle", price: 39.9, tags: ["kitchen", "electric"] };
    const teapot = { sku: "TE100", name: "Teapot", price: 24.5, tags: ["kitchen"] };
    expect((await s.send("getProducts", "/products")).json).toEqual([mug, kettle, teapot]);
    expect((await s.send("getProductsBySku", "/products/TE100")).json).toEqual(teapot);

    const spoon = { sku: "SP400", name: "Spoon", price: 2.5 };
    const created = await s.send("postProducts", "/products", { body: spoon });
    expect([created.status, created.headers.get("location"), created.json]).toEqual([201, "/products/SP400", spoon]);
    const dearer = { ...spoon, price: 3 };
    expect((await s.send("putProductsBySku", "/products/SP400", { body: dearer })).json).toEqual(dearer);
    expect((await s.send("getProducts", "/products")).json).toEqual([mug, kettle, teapot, dearer]);
    expect((await s.send("deleteProductsBySku", "/products/MU200")).status).toBe(204);
    const gone = await s.send("getProductsBySku", "/products/MU200");
    // The designer's own 404 example, its status the answer's.
    expect([gone.status, gone.json]).toEqual([404, { title: "No such product", status: 404, detail: "There is no product with this SKU." }]);
    expect((await s.send("getProducts", "/products")).json).toEqual([kettle, teapot, dearer]);
  });
});

describe("--state FILE and POST /__mock/reset", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ramlgen-mock-state-"));
  const file = path.join(dir, "state.json");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps what was made across a restart, and starts over from the spec on reset", async () => {
    let s = await mockSession(spec("orders"), { state: file });
    const fresh = (await s.send("getOrders", "/api/orders")).json;
    const created = await s.send("postOrders", "/api/orders", { body: grace });
    await s.close();

    s = await mockSession(spec("orders"), { state: file });
    try {
      expect((await s.send("getOrdersByOrderId", created.headers.get("location")!)).json).toEqual(created.json);
      expect((await s.send("getOrders", "/api/orders")).json.total).toBe(4);
      const reset = await call("POST", `${s.url}/__mock/reset`, { headers: { origin: "http://localhost:5173" } });
      expect(reset.status).toBe(204);
      expect(reset.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
      expect((await s.send("getOrdersByOrderId", created.headers.get("location")!)).status).toBe(404);
      // The same fresh start as the first: the same made-up orders.
      expect((await s.send("getOrders", "/api/orders")).json).toEqual(fresh);
      expect(JSON.parse(readFileSync(file, "utf8")).ramlgenMockState).toBe(1);
    } finally {
      await s.close();
    }
  });

  it("refuses a file that is not its state in one line, exit 2", async () => {
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, "{ not json");
    const r = await run(process.execPath, ["bin/ramlgen.js", "mock", spec("orders"), "--port", "0", "--state", bad], { timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(2);
    const lines = (r as { stderr: string }).stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--state .*bad\.json: not JSON/);
    const blocked = path.join(bad, "state.json"); // a file stands where its folder would be
    const w = await run(process.execPath, ["bin/ramlgen.js", "mock", spec("orders"), "--port", "0", "--state", blocked], { timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((w as { code: number }).code).toBe(2);
    expect((w as { stderr: string }).stderr.trim()).toMatch(/^ramlgen: --state .*bad\.json\/state\.json: cannot write there \(ENOTDIR\)/);
  });
});

describe("the values the mock makes up", () => {
  // Words of lorem ipsum no English text has.
  const LOREM = /\b(lorem|ipsum|dolor|consectetur|adipisicing|adipiscing|eiusmod|tempor|incididunt|aliqua|veniam|nostrud|ullamco|laboris|aliquip|consequat|reprehenderit|voluptate|cillum|fugiat|pariatur|excepteur|occaecat|cupidatat|proident|deserunt|mollit|laborum)\b/i;

  it.each(["orders", "nested", "catalog"])("%s: every type, 30 seeds: valid, readable, parseable, in human ranges", (name) => {
    const { model, validators } = loadModel(path.resolve(spec(name)));
    const values = new MockValues(model);
    const year = new Date().getUTCFullYear();
    const problems: string[] = [];
    const defs = Object.fromEntries(model.types.map((t) => [t.name, t.schema]));
    const resolve = (x: JsonSchema | undefined): JsonSchema => {
      let r = x ?? {};
      for (let i = 0; i < 8 && typeof r.$ref === "string"; i++) r = { ...defs[r.$ref.slice("#/$defs/".length)], ...Object.fromEntries(Object.entries(r).filter(([k]) => k !== "$ref")) };
      return r;
    };
    const walk = (v: unknown, key: string, where: string, schema: JsonSchema) => {
      const sch = resolve(schema);
      if (typeof v === "string") {
        if (LOREM.test(v)) problems.push(`${where}: lorem ipsum ${JSON.stringify(v)}`);
        if (/email/i.test(key) && !/^[^@\s]+@example\.(com|org)$/.test(v)) problems.push(`${where}: email ${v}`);
        if (/(url|href|link|website)$/i.test(key) && !URL.canParse(v)) problems.push(`${where}: URL ${v}`);
        if (/(At|date|time)$/.test(key)) {
          const t = Date.parse(v);
          if (!Number.isFinite(t) || Math.abs(new Date(t).getUTCFullYear() - year) > 1) problems.push(`${where}: date ${v}`);
        }
      } else if (typeof v === "number") {
        // Open facets: a number a person would expect (the validator holds closed ones).
        if (sch.minimum === undefined && sch.maximum === undefined && Math.abs(v) > 1000) problems.push(`${where}: ${v} is no human number`);
      } else if (Array.isArray(v)) {
        if (v.length > 3) problems.push(`${where}: ${v.length} items`);
        v.forEach((x, i) => walk(x, key, `${where}/${i}`, (sch.items as JsonSchema | undefined) ?? {}));
      } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k, `${where}/${k}`, ((sch.properties ?? {}) as Record<string, JsonSchema>)[k] ?? {});
    };
    for (const t of model.types) {
      const check = validators.named(t.name);
      for (let seed = 1; seed <= 30; seed++) {
        const v = values.plausible.value({ $ref: `#/$defs/${t.name}` } as JsonSchema, seed);
        if (!check(v)) problems.push(`${t.name} seed ${seed}: invalid ${JSON.stringify(check.errors)}`);
        walk(v, t.name, `${t.name}#${seed}`, t.schema);
      }
    }
    expect(problems).toEqual([]);
  });
});
