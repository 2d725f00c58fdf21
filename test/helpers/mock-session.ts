// A front end's session against `ramlgen mock` over real HTTP: every answer is checked against
// the spec (a declared status, its headers and body valid) before the test looks at it.
import path from "node:path";
import { expect } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { startMock, type MockOptions } from "../../generator/mock/mock.js";
import { isJsonMedia } from "../../generator/model/media.js";
import type { ApiModel, Operation } from "../../generator/model/model.js";
import type { ValidatorSet } from "../../generator/schema/validators.js";
import { call, type Reply } from "./http.js";

export interface MockSession {
  url: string;
  model: ApiModel;
  validators: ValidatorSet;
  /** Calls `operation` at `path` (below the mock's origin) and checks the answer against the spec. */
  send(operation: string, path: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<Reply>;
  close(): Promise<void>;
}

export async function mockSession(spec: string, opts: MockOptions = {}): Promise<MockSession> {
  const { model, validators } = loadModel(path.resolve(spec));
  const m = await startMock(model, validators, { port: 0, log: () => {}, ...opts });
  const send: MockSession["send"] = async (operation, p, o = {}) => {
    const op = model.operations.find((x) => x.name === operation);
    if (!op) throw new Error(`no operation ${operation} in ${spec}`);
    const reply = await call(op.method.toUpperCase(), `${m.url}${p}`, o);
    expectDeclared(validators, op, reply, `${operation} ${op.method.toUpperCase()} ${p}`);
    return reply;
  };
  return { url: m.url, model, validators, send, close: m.close };
}

/** An answer of `op` as the spec declares it: a declared status, its headers valid (required ones there), its body valid. */
export function expectDeclared(validators: ValidatorSet, op: Operation, reply: Reply, label: string): void {
  const where = `${label} answered ${reply.status} ${reply.text}`;
  const r = op.responses.find((x) => x.status === reply.status);
  expect(r, `${where}: a status the spec does not declare`).toBeDefined();
  for (const h of r!.headers) {
    const v = reply.headers.get(h.name);
    if (v === null) {
      expect(h.required, `${where}: header ${h.name} missing`).toBe(false);
      continue;
    }
    const typed = h.schema.type === "integer" || h.schema.type === "number" ? Number(v) : v;
    expect(validators.exact(h.schema)(typed), `${where}: header ${h.name}=${v}`).toBe(true);
  }
  if (r!.bodies.length) {
    const mediaType = (reply.headers.get("content-type") ?? "").split(";")[0]!;
    const b = r!.bodies.find((x) => x.mediaType === mediaType);
    expect(b, `${where}: content-type ${mediaType}`).toBeDefined();
    const check = validators.exact(b!.schema);
    expect(check(isJsonMedia(mediaType) ? JSON.parse(reply.text) : reply.text), `${where}: ${JSON.stringify(check.errors)}`).toBe(true);
  } else expect(reply.text, where).toBe("");
}
