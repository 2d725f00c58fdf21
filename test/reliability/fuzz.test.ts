// Property-based fuzzing over HTTP: for every operation of spec/api.raml, inputs generated
// from its schemas, valid and mutated. Invariants: the status is one the spec declares for
// the operation or a documented protocol error, the response validates against the spec
// (response validation is on and must report nothing), and the server stays up.
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import type { Operation } from "../../generator/model/model.js";
import { defsOf } from "../../generator/schema/validators.js";
import { arbitrary, mutated } from "../helpers/arbitrary.js";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const RUNS = Number(process.env["FUZZ_RUNS"] ?? 2000);
// Answers the router gives on any operation, documented in docs/ramlgen.md.
const PROTOCOL = [400, 405, 406, 413, 415];

const { model } = loadModel(path.resolve("spec/api.raml"));
const defs = defsOf(model);
let s: TestServer;
const ids: string[] = [];
// Authentication is on: requests carry the admin's key, unless the generated headers (which
// include the schemes' Authorization) replace it with something else (answered 401).
const keys = writeKeys({ root: "admin" });
const ADMIN = { Authorization: `Bearer ${keys.key["root"]}` };

beforeAll(async () => {
  s = await startTestServer({ env: { API_KEYS_FILE: keys.file } });
  for (let i = 0; i < 20; i++) ids.push((await call("POST", `${s.url}/resources`, { body: { name: `seed${i}` }, headers: ADMIN })).json.id);
});
afterAll(() => s.close());

function requestFor(op: Operation) {
  // Not `.` or `..`: a URL parser resolves those segments (even as %2E) before sending, so the
  // request would reach another route. No id the server makes, and no name or key the spec
  // allows, is one (test/api/pause-rerun.test.ts).
  const segment = fc.string({ minLength: 1, maxLength: 70 }).filter((v) => v !== "." && v !== "..");
  const idArb = fc.oneof(fc.constantFrom(...ids), segment);
  const params = fc.record(Object.fromEntries(op.uriParams.map((p) => [p.name, idArb])));
  const queryValid = fc.record(Object.fromEntries(op.query.map((p) => [p.name, arbitrary(p.schema, defs)])), { requiredKeys: [] });
  const query = fc.oneof(queryValid, fc.dictionary(fc.constantFrom(...op.query.map((p) => p.name), "x"), fc.string({ maxLength: 12 }), { maxKeys: 3 }));
  // The credentials header is generated separately: now and then something other than the key.
  const plain = op.headers.filter((p) => p.name.toLowerCase() !== "authorization");
  const credentials = op.headers.find((p) => p.name.toLowerCase() === "authorization");
  const generated = fc.record(Object.fromEntries(plain.map((p) => [p.name, arbitrary(p.schema, defs).map(String)])), { requiredKeys: [] });
  const headers = credentials
    ? fc.tuple(generated, fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arbitrary(credentials.schema, defs).map(String) })).map(([h, auth]) => (auth === null ? h : { ...h, Authorization: auth }))
    : generated;
  const validBody = op.bodies.length ? arbitrary(op.bodies[0]!.schema, defs) : fc.constant(undefined);
  const body = op.bodies.length ? fc.oneof(validBody, mutated(validBody), fc.constant(undefined)) : fc.constant(undefined);
  return fc.record({ params, query, headers, body });
}

describe("fuzzing every operation of spec/api.raml", () => {
  it(`${RUNS} generated requests get declared answers that validate`, async () => {
    const perOp = Math.ceil(RUNS / model.operations.length);
    let cases = 0;
    let unauthorized = 0;
    for (const op of model.operations) {
      const declared = op.responses.map((r) => r.status);
      await fc.assert(
        fc.asyncProperty(requestFor(op), async (req) => {
          cases++;
          let p = op.path;
          for (const [k, v] of Object.entries(req.params)) p = p.replace(`{${k}}`, encodeURIComponent(v as string));
          const qs = new URLSearchParams(Object.entries(req.query).map(([k, v]) => [k, String(v)] as [string, string])).toString();
          const headers: Record<string, string> = { ...ADMIN };
          for (const [k, v] of Object.entries(req.headers)) if (/^[\x21-\x7e]*$/.test(v as string)) headers[k] = v as string;
          const r = await call(op.method.toUpperCase(), `${s.url}${p}${qs ? `?${qs}` : ""}`, { body: req.body, headers });
          if (r.status === 401) unauthorized++;
          expect([...declared, ...PROTOCOL], `${op.method} ${p} -> ${r.status} ${r.text.slice(0, 200)}`).toContain(r.status);
          if (r.status >= 400 && !(op.name === "getJob" && r.status === 500)) {
            expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
          }
          expect(s.invalidResponses).toEqual([]);
        }),
        { numRuns: perOp },
      );
    }
    expect(cases).toBeGreaterThanOrEqual(RUNS);
    expect((await call("GET", `${s.url}/healthz`)).status).toBe(200);
    expect(unauthorized).toBeGreaterThan(0); // some generated requests carried credentials of their own
    expect(cases - unauthorized).toBeGreaterThan(RUNS / 2);
  }, 300_000);
});
