// A spec's whole path through ramlgen, as the real-world tests and `npm run fidelity` take it:
// its output type-checked under the strictest settings, then served by its generated router
// (handlers that record what they got and answer their first declared response) and every
// operation called through its generated client with values the spec accepts.
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { loadModel } from "../../generator/generate.js";
import { isFormMedia, isJsonMedia } from "../../generator/model/media.js";
import type { ApiModel, Operation, Param } from "../../generator/model/model.js";
import { listen } from "./http.js";
import { specValues } from "./spec-values.js";

const run = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** What the router handed to a handler. */
export interface Seen {
  operation: string;
  params: unknown;
  query: unknown;
}

/** The compiler's complaints about a generated folder under tsconfig.generated.json's settings; "" when none. */
export async function typecheck(out: string): Promise<string> {
  const config = path.join(out, "..", `tsconfig.${path.basename(out)}.json`);
  writeFileSync(config, JSON.stringify({ extends: path.join(root, "tsconfig.generated.json"), include: [out], exclude: [] }));
  try {
    await run(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", config], { maxBuffer: 16 << 20 });
    return "";
  } catch (e) {
    return (e as { stdout?: string; message: string }).stdout || (e as Error).message;
  } finally {
    rmSync(config, { force: true });
  }
}

/** A plain value for a path parameter: letters and digits only, so that mixed segments stay unambiguous. */
export function pathValue(values: ReturnType<typeof specValues>, p: Param): unknown {
  const s = p.schema as { type?: unknown; pattern?: unknown; enum?: unknown; format?: unknown };
  if (s.type === "string" && !s.pattern && !s.enum && !s.format) return `${p.name.replace(/[^A-Za-z0-9]/g, "")}1`;
  return values.param(p);
}

/** Serves a generated folder with recording handlers (every security scheme lets every caller in). */
export async function serve(spec: string, out: string): Promise<{ model: ApiModel; url: string; seen: Seen[]; close(): Promise<void> }> {
  const { model, validators } = loadModel(path.resolve(spec));
  const values = specValues(model, validators);
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
  const security = Object.fromEntries(model.securitySchemes.map((sc) => [sc.name, () => ({ caller: "test" })]));
  const server = await listen(mod.createRouter(handlers, { security, validateResponses: true, onResponseValidationError: (f: unknown) => seen.push({ operation: "INVALID RESPONSE", params: f, query: undefined }) }));
  return { model, url: server.url, seen, close: server.close };
}

/**
 * Every operation called through the generated client; for each, what went wrong (the wrong
 * handler or parameters, an unexpected status, a response the router found invalid), if anything.
 */
export async function callEveryOperation(spec: string, out: string): Promise<{ operations: number; failures: string[] }> {
  const { model, url, seen, close } = await serve(spec, out);
  const failures: string[] = [];
  try {
    const { validators } = loadModel(path.resolve(spec));
    const values = specValues(model, validators);
    const client = new (await import(pathToFileURL(path.join(out, "client.ts")).href)).ApiClient({ baseUrl: url });
    const shapes = new Set<string>();
    for (const op of model.operations as Operation[]) {
      // An operation whose path differs from an earlier one's only in its parameters' names is
      // never reached (ramlgen warns ROUTE_SHADOWED): not called.
      const shape = `${op.method} ${op.path.replace(/\{[^}]+\}/g, "{}")}`;
      if (shapes.has(shape)) continue;
      shapes.add(shape);
      try {
        const params = Object.fromEntries(op.uriParams.map((p) => [p.name, pathValue(values, p)]));
        const query = queryValue(values, op);
        const headers = Object.fromEntries(op.headers.filter((h) => h.required).map((h) => [h.name.toLowerCase(), values.param(h)]));
        // GET and HEAD carry no body in fetch (the router takes one, but does not need it).
        const b = op.method === "get" || op.method === "head" ? undefined : (op.bodies.find((x) => isJsonMedia(x.mediaType)) ?? op.bodies[0]);
        const request = { params, query, headers, ...(b ? { body: bodyValue(values.body(b), b.mediaType), mediaType: b.mediaType } : {}) };
        const before = seen.length;
        const reply = await client[op.name](request);
        const got = seen.slice(before);
        const expected = op.responses[0]?.status ?? 200;
        if (got.length !== 1 || got[0]!.operation !== op.name) failures.push(`${op.name}: reached ${JSON.stringify(got.map((g) => g.operation))} (answer ${reply.status})`);
        else if (JSON.stringify(got[0]!.params) !== JSON.stringify(coerced(got[0]!.params, params))) failures.push(`${op.name}: handler got params ${JSON.stringify(got[0]!.params)}, sent ${JSON.stringify(params)}`);
        else if (reply.status !== expected) failures.push(`${op.name}: answered ${reply.status}, expected ${expected}`);
      } catch (e) {
        failures.push(`${op.name}: ${(e as Error).message}`);
      }
    }
  } finally {
    await close();
  }
  return { operations: model.operations.length, failures };
}

/**
 * A query the spec accepts: its required parameters, or, under a queryString type, a whole
 * value of that type (whose facets, minProperties say, may ask for more than the required).
 */
function queryValue(values: ReturnType<typeof specValues>, op: Operation): Record<string, unknown> {
  if (op.queryString) return values.body({ mediaType: "application/json", schema: op.queryString, examples: [] }) as Record<string, unknown>;
  return Object.fromEntries(op.query.filter((q) => q.required && !q.name.startsWith("/")).map((q) => [q.name, values.param(q)]));
}

/** A body to send: bytes or text that is not empty where the media type is neither JSON nor a form. */
function bodyValue(value: unknown, mediaType: string): unknown {
  if (isJsonMedia(mediaType) || isFormMedia(mediaType)) return value;
  return typeof value === "string" && value !== "" ? value : "example";
}

/** The parameters sent, as the router hands them on (numbers as numbers). */
function coerced(got: unknown, sent: Record<string, unknown>): unknown {
  const g = got as Record<string, unknown>;
  return Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, typeof g[k] === "number" ? Number(v) : typeof g[k] === "boolean" ? v === true || v === "true" : v]));
}

