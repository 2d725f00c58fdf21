// The HTML reference says what the server does: for every query and header parameter of the
// project's specs, whether it is required (declared so and without a default), its default and
// its facets, as the docs show them, as the OpenAPI export says, and as the router (served by
// ramlgen mock, on the same validators as generated code) accepts: absent, and just outside
// each bound.
import path from "node:path";
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderDocs } from "../../generator/emit/docs.js";
import { openApiDocument } from "../../generator/emit/openapi.js";
import { loadModel } from "../../generator/generate.js";
import { startMock } from "../../generator/mock/mock.js";
import { namePattern, type ApiModel, type Operation, type Param } from "../../generator/model/model.js";
import { DEFS_PREFIX, type JsonSchema } from "../../generator/model/schema.js";
import { isJsonMedia } from "../../generator/model/media.js";
import type { ValidatorSet } from "../../generator/schema/validators.js";
import { call } from "../helpers/http.js";
import { specValues } from "../helpers/spec-values.js";

const SPECS = ["spec/api.raml", "test/fixtures/full/api.raml", ...readdirSync("test/fixtures/realworld").filter((f) => f.endsWith(".raml")).map((f) => `test/fixtures/realworld/${f}`)];

/** The docs' rows by field (`query/limit`): required, default, constraints. */
function docsRows(html: string, operation: string): Map<string, { required: boolean; dflt: string; facets: string }> {
  const start = html.indexOf(`data-operation="${operation}"`);
  const article = html.slice(start, html.indexOf("</article>", start));
  const rows = new Map<string, { required: boolean; dflt: string; facets: string }>();
  for (const m of article.matchAll(/<tr data-field="([^"]+)" data-required="(yes|no)">([\s\S]*?)<\/tr>/g)) {
    const cells = [...m[3]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!.replace(/<[^>]+>/g, "").replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#x3D;/g, "="));
    rows.set(m[1]!, { required: m[2] === "yes", dflt: cells[3]!, facets: cells[4]! });
  }
  return rows;
}

const resolve = (s: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema =>
  typeof s.$ref === "string" && s.$ref.startsWith(DEFS_PREFIX) ? resolve(defs[s.$ref.slice(DEFS_PREFIX.length)] ?? {}, defs) : s;

describe.each(SPECS)("the docs of %s agree with the OpenAPI export and the router", (spec) => {
  let model: ApiModel;
  let validators: ValidatorSet;
  let html: string;
  let openapi: { paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string; required: boolean; schema: JsonSchema }[] }>> };
  let mock: { url: string; close(): Promise<void> };
  let defs: Record<string, JsonSchema>;

  beforeAll(async () => {
    ({ model, validators } = loadModel(path.resolve(spec)));
    html = renderDocs(model, "test");
    openapi = openApiDocument(model) as typeof openapi;
    mock = await startMock(model, validators, { port: 0, log: () => {} });
    defs = Object.fromEntries(model.types.map((t) => [t.name, t.schema]));
  });
  afterAll(() => mock.close());

  const openapiParams = (op: Operation) => {
    for (const item of Object.values(openapi.paths)) for (const o of Object.values(item)) if (o.operationId === op.name) return o.parameters ?? [];
    return [];
  };

  /** A request the spec accepts, with `change` applied to one parameter (undefined: left out). */
  function request(op: Operation, changed?: { p: Param; location: "query" | "headers"; value: unknown }) {
    const values = specValues(model, validators);
    let url = op.path;
    for (const u of op.uriParams) url = url.replace(`{${u.name}}`, encodeURIComponent(String(values.param(u))));
    const q = new URLSearchParams();
    const headers: Record<string, string> = { authorization: "Bearer any" };
    const set = (p: Param, location: "query" | "headers", v: unknown) => {
      for (const x of Array.isArray(v) ? v : [v]) (location === "query" ? q.append(p.name, String(x)) : (headers[p.name] = String(x)));
    };
    for (const [list, location] of [[op.query, "query"], [op.headers, "headers"]] as const) {
      for (const p of list) {
        if (namePattern(p.name) !== undefined) continue;
        if (changed?.p === p) {
          if (changed.value !== undefined) set(p, location, changed.value);
        } else if (p.required && p.default === undefined) set(p, location, values.param(p));
      }
    }
    const b = op.bodies.find((x) => isJsonMedia(x.mediaType));
    const init = b ? { body: values.body(b), headers: { ...headers, "content-type": b.mediaType } } : { headers };
    return call(op.method.toUpperCase(), `${mock.url}${url}${q.size ? `?${q}` : ""}`, init);
  }

  const faults = (r: { status: number; json: { errors?: { field: string }[] } }, field: string) => r.status === 400 && (r.json?.errors ?? []).some((e) => e.field === field);

  it("on every parameter: required or not, its default, its facets, and the router's answer", async () => {
    let checked = 0;
    for (const op of model.operations) {
      if (op.bodies.length && !op.bodies.some((b) => isJsonMedia(b.mediaType))) continue;
      const baseline = await request(op);
      // Operations the mock cannot reach with a plain request (credentials of another scheme): not this test's subject.
      if (baseline.status === 401 || baseline.status === 403 || baseline.status === 400) continue;
      const rows = docsRows(html, op.name);
      const exported = openapiParams(op);
      for (const [list, location] of [[op.query, "query"], [op.headers, "headers"]] as const) {
        for (const p of list) {
          if (namePattern(p.name) !== undefined) continue;
          const field = `${location}/${location === "headers" ? p.name.toLowerCase() : p.name}`;
          const row = rows.get(field);
          expect(row, `${op.name} ${field} in the docs`).toBeDefined();
          const inOpenapi = exported.find((x) => x.name === p.name && x.in === (location === "headers" ? "header" : "query"));
          const absent = await request(op, { p, location, value: undefined });
          const routerRequires = faults(absent, field);
          expect([row!.required, inOpenapi?.required ?? false], `${op.name} ${field}: docs, OpenAPI, router (${absent.status})`).toEqual([routerRequires, routerRequires]);
          expect(row!.dflt, `${op.name} ${field} default`).toBe(p.default === undefined ? "" : JSON.stringify(p.default));
          // Each bound the schema has: in the docs, and refused just outside.
          const s = resolve(p.schema, defs);
          const outside: [string, unknown][] = [];
          if (typeof s.minimum === "number") outside.push([String(s.minimum), s.minimum - 1]);
          if (typeof s.maximum === "number") outside.push([String(s.maximum), s.maximum + 1]);
          if (typeof s["maxLength"] === "number") outside.push([String(s["maxLength"]), "x".repeat((s["maxLength"] as number) + 1)]);
          if (typeof s["minLength"] === "number" && (s["minLength"] as number) > 0) outside.push([String(s["minLength"]), ""]);
          if (Array.isArray(s.enum)) outside.push([JSON.stringify(s.enum[0]), "not-one-of-them"]);
          if (typeof s["pattern"] === "string") expect(row!.facets).toContain(`pattern ${s["pattern"]}`);
          for (const [shown, value] of outside) {
            expect(row!.facets, `${op.name} ${field} facets`).toContain(shown);
            expect(faults(await request(op, { p, location, value }), field), `${op.name} ${field}=${JSON.stringify(value)} refused`).toBe(true);
          }
          checked++;
        }
      }
    }
    console.log(`${spec}: ${checked} parameters checked`);
    if (spec === "spec/api.raml" || spec.includes("full")) expect(checked).toBeGreaterThan(5);
  }, 60_000);
});
