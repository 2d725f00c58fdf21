// The mock never breaks the spec: every declared answer of every operation, on a spec with
// examples everywhere (the golden fixture), one whose examples live only on its types, and one
// with none at all, is valid against the spec; state is kept for CRUD-shaped collections; and
// a mock that cannot answer validly says why.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { startMock } from "../../generator/mock/mock.js";
import type { ApiModel, Operation, Param } from "../../generator/model/model.js";
import { type ValidatorSet } from "../../generator/schema/validators.js";
import { call } from "../helpers/http.js";
import { expectDeclared } from "../helpers/mock-session.js";
import { specValues } from "../helpers/spec-values.js";
import { isJsonMedia } from "../../generator/model/media.js";

interface Mock {
  url: string;
  model: ApiModel;
  validators: ValidatorSet;
  close(): Promise<void>;
}

async function mockOf(spec: string): Promise<Mock> {
  const { model, validators } = loadModel(path.resolve(spec));
  const m = await startMock(model, validators, { port: 0, log: () => {} });
  return { url: m.url, model, validators, close: m.close };
}

/** A body as a client sends it for its media type. */
function encode(body: unknown, mediaType: string): string | FormData {
  if (isJsonMedia(mediaType)) return JSON.stringify(body);
  const entries = Object.entries((body ?? {}) as Record<string, unknown>).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, x] as const));
  if (mediaType === "multipart/form-data") {
    const form = new FormData();
    for (const [k, v] of entries) form.append(k, v instanceof Blob ? v : String(v));
    return form;
  }
  if (mediaType === "application/x-www-form-urlencoded") return new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString();
  return String(body);
}

/** A request the spec accepts for `op`, asking for the declared answer `status`. */
function requestFor(m: Mock, op: Operation, status: number) {
  let p = op.path;
  const valueFor = (_m: Mock, p: Param) => specValues(m.model, m.validators).param(p);
  for (const u of op.uriParams) p = p.replace(`{${u.name}}`, encodeURIComponent(String(valueFor(m, u))));
  const q = new URLSearchParams();
  for (const qp of op.query.filter((x) => x.required)) q.set(qp.name, String(valueFor(m, qp)));
  const headers: Record<string, string> = { Prefer: `code=${status}`, Authorization: "Bearer any" };
  for (const h of op.headers.filter((x) => x.required)) headers[h.name] = String(valueFor(m, h));
  let body: unknown;
  const b = op.bodies[0];
  if (b) {
    body = specValues(m.model, m.validators).body(b);
    headers["content-type"] = b.mediaType;
  }
  const raw = body === undefined ? undefined : encode(body, b!.mediaType);
  return { url: `${m.url}${p}${q.size ? `?${q}` : ""}`, headers, raw };
}

/** Every declared answer of every operation, fetched and checked against the spec. */
async function everyAnswerValidates(m: Mock, prefer = ""): Promise<number> {
  let checked = 0;
  for (const op of m.model.operations) {
    for (const r of op.responses) {
      const req = requestFor(m, op, r.status);
      const reply = await call(op.method.toUpperCase(), req.url, { headers: { ...req.headers, Prefer: `${req.headers["Prefer"]}${prefer}` }, ...(req.raw === undefined ? {} : { raw: req.raw }) });
      expect(reply.status, `${op.name} ${r.status}: ${reply.text}`).toBe(r.status);
      expectDeclared(m.validators, op, reply, `${op.name} (Prefer: code=${r.status}${prefer})`);
      checked++;
    }
  }
  return checked;
}

describe.each([
  ["test/fixtures/full/api.raml"],
  ["test/fixtures/mock/type-examples.raml"],
  ["test/fixtures/mock/no-examples.raml"],
  ["test/fixtures/mock/orders.raml"],
  ["test/fixtures/mock/nested.raml"],
  ["test/fixtures/mock/catalog.raml"],
])("mock of %s", (spec) => {
  let m: Mock;
  beforeAll(async () => {
    m = await mockOf(spec);
  });
  afterAll(() => m.close());

  it("answers every declared status of every operation validly, headers included", async () => {
    const declared = m.model.operations.reduce((n, op) => n + op.responses.length, 0);
    expect(declared).toBeGreaterThanOrEqual(4);
    expect(await everyAnswerValidates(m)).toBe(declared);
  });

  it("does so with random data too (Prefer: dynamic=true)", async () => {
    for (let i = 0; i < 3; i++) await everyAnswerValidates(m, ", dynamic=true");
  });
});

describe("where answers come from", () => {
  let m: Mock;
  beforeAll(async () => {
    m = await mockOf("test/fixtures/mock/type-examples.raml");
  });
  afterAll(() => m.close());

  it("uses the type's example when the response has none, and is deterministic by default", async () => {
    const a = await call("GET", `${m.url}/lib/v1/books/anything`, { headers: { Prefer: "code=200" } });
    expect(a.json).toEqual({ id: "dune", title: "Dune", isbn: "978-0441013593", year: 1965, tags: ["sf"] });
    const p = await call("GET", `${m.url}/lib/v1/books/nothing`);
    expect(p.status).toBe(404);
    expect(p.json).toEqual({ title: "Not Found", status: 404 });
  });

  it("keeps a collection: POST stores, GET and the list answer it, PUT replaces, PATCH merges, DELETE removes", async () => {
    const book = { id: "neuromancer", title: "Neuromancer", isbn: "978-0441569595", year: 1984 };
    const created = await call("POST", `${m.url}/lib/v1/books`, { body: book });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/lib/v1/books/neuromancer");
    expect(created.json).toEqual(book);
    expect((await call("GET", `${m.url}/lib/v1/books/neuromancer`)).json).toEqual(book);
    // The list: the spec's example first (a fresh mock starts from it), then what was created.
    const dune = { id: "dune", title: "Dune", isbn: "978-0441013593", year: 1965, tags: ["sf"] };
    expect((await call("GET", `${m.url}/lib/v1/books`)).json).toEqual([dune, book]);
    const replaced = { ...book, title: "Neuromancer (1984)" };
    expect((await call("PUT", `${m.url}/lib/v1/books/neuromancer`, { body: replaced })).json).toEqual(replaced);
    expect((await call("PATCH", `${m.url}/lib/v1/books/neuromancer`, { body: { year: 1985 } })).json).toEqual({ ...replaced, year: 1985 });
    expect((await call("GET", `${m.url}/lib/v1/books/neuromancer`)).json.year).toBe(1985);
    expect((await call("DELETE", `${m.url}/lib/v1/books/neuromancer`)).status).toBe(204);
    expect((await call("GET", `${m.url}/lib/v1/books/neuromancer`)).status).toBe(404);
    expect((await call("DELETE", `${m.url}/lib/v1/books/neuromancer`)).status).toBe(404);
    expect((await call("PUT", `${m.url}/lib/v1/books/neuromancer`, { body: replaced })).status).toBe(404);
    expect((await call("GET", `${m.url}/lib/v1/books`)).json).toEqual([dune]);
  });

  it("refuses a change that would leave an item the spec does not allow, and keeps the item as it was", async () => {
    const book = { id: "solaris", title: "Solaris", isbn: "978-0156027601", year: 1961 };
    await call("POST", `${m.url}/lib/v1/books`, { body: book });
    const broken = await call("PATCH", `${m.url}/lib/v1/books/solaris`, { body: { year: "soon" } });
    expect(broken.status).toBe(400);
    expect(broken.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(broken.json.errors.map((e: { field: string }) => e.field)).toEqual(["body/year"]);
    expect((await call("GET", `${m.url}/lib/v1/books/solaris`)).json).toEqual(book);
  });
});

describe("a mock that cannot answer validly", () => {
  it("says why in a problem+json 500 naming the operation", async () => {
    const m = await mockOf("test/fixtures/mock/impossible.raml");
    try {
      const r = await call("GET", `${m.url}/codes`);
      expect(r.status).toBe(500);
      expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(r.json.type).toBe("urn:ramlgen:mock:no-valid-answer");
      expect(r.json.detail).toMatch(/^the mock of getCodes \(GET \/codes\) cannot produce a valid 200 answer: body: /);
    } finally {
      await m.close();
    }
  });
});
