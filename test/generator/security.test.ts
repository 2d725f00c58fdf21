// RAML security schemes in the generated router, over real HTTP, on the secured fixture's
// golden output: every scheme type, securedBy at each level, `null`, scopes, several schemes
// on one method, describedBy parameters, and the 401/403 answers with their challenges.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter, forbidden, unimplementedHandlers, type Handlers, type SecurityHandlers } from "../fixtures/secured/golden/index.js";
import { call, listen } from "../helpers/http.js";

interface User {
  name: string;
  scopes?: string[] | undefined;
}

const note = { id: "n1", text: "hello" };
const TOKENS: Record<string, User> = {
  "reader-token": { name: "reader", scopes: ["notes:read"] },
  "writer-token": { name: "writer", scopes: ["notes:read", "notes:write"] },
  "admin-token": { name: "admin", scopes: ["notes:read", "notes:write", "admin"] },
};
const KEY = "k".repeat(20);
const seen: { operation: string; auth: unknown }[] = [];
const errors: unknown[] = [];
let throwIn: string | undefined;

const security: SecurityHandlers<User> = {
  oauth2({ headers, query, scheme }) {
    if (throwIn === scheme) throw new Error("the token service is down");
    const token = /^Bearer (.+)$/.exec(String(headers.authorization ?? ""))?.[1] ?? (query["access_token"] as string | undefined);
    if (token === "suspended-token") return forbidden("this account is suspended");
    return token ? TOKENS[token] : undefined;
  },
  oauth1: ({ headers }) => (String(headers.authorization ?? "").startsWith("OAuth oauth_consumer_key=") ? { name: "oauth1-client" } : undefined),
  basic({ headers }) {
    const m = /^Basic (.+)$/.exec(String(headers.authorization ?? ""));
    return m && Buffer.from(m[1]!, "base64").toString() === "ann:secret" ? { name: "ann" } : undefined;
  },
  digest: ({ headers }) => (String(headers.authorization ?? "").startsWith("Digest username=") ? { name: "digest-user" } : undefined),
  passThrough: ({ headers }) => (headers["x-api-key"] === KEY || headers["x-api-key"] === "short-but-known" ? { name: "key-holder" } : undefined),
  hmac: ({ query }) => (typeof query["signature"] === "string" && query["signature"].length > 0 ? { name: "signer" } : undefined),
};

const handlers: Handlers<User> = {
  ...unimplementedHandlers<User>(),
  listNotes(req) {
    seen.push({ operation: "listNotes", auth: req.auth });
    return { status: 200, body: req.auth ? [note, note] : [note] };
  },
  createNote(req) {
    seen.push({ operation: "createNote", auth: req.auth });
    return { status: 201, headers: { Location: `/v1/notes/${req.body.id}` }, body: req.body };
  },
  getNote(req) {
    seen.push({ operation: "getNote", auth: req.auth });
    return { status: 200, body: { ...note, text: `for ${req.auth.principal.name}` } };
  },
  deleteNote(req) {
    seen.push({ operation: "deleteNote", auth: req.auth });
    return { status: 204 };
  },
  listArchive: (req) => ({ status: 200, body: [{ id: "a", text: req.auth.principal.name }] }),
  legacyGet: (req) => ({ status: 200, body: { id: "l", text: `${req.auth.scheme} ${req.auth.principal.name}` } }),
  signedPost: () => ({ status: 204 }),
  publicGet: () => ({ status: 200, body: [note] }),
};

let url: string;
let close: () => Promise<void>;

async function serve(host: "node:http" | "express"): Promise<void> {
  const router = createRouter(handlers, { security, validateResponses: true, onError: (e) => errors.push(e), onResponseValidationError: (f) => errors.push(f) });
  if (host === "express") {
    const app = express();
    app.use(router);
    const s = await listen(app);
    url = `${s.url}/v1`;
    close = s.close;
  } else {
    const server = createServer(router);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  }
}

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

function isProblem(r: Awaited<ReturnType<typeof call>>, status: number) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(r.json).toMatchObject({ status, title: expect.any(String) });
}

describe.each(["node:http", "express"] as const)("security in the generated router on %s", (host) => {
  beforeAll(() => serve(host));
  afterAll(() => close());

  it("answers 401 with a challenge per accepted scheme when credentials are missing or rejected", async () => {
    for (const headers of [{}, bearer("nobody"), { Authorization: "Basic Zm9vOmJhcg==" }, { Authorization: "garbage" }, { Authorization: "Bearer " + "x".repeat(4000) }]) {
      const r = await call("POST", `${url}/notes`, { body: note, headers });
      isProblem(r, 401);
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="Secured Fixture", ApiKey realm="Secured Fixture", header="X-Api-Key"');
    }
    const basic = await call("GET", `${url}/archive`);
    isProblem(basic, 401);
    expect(basic.headers.get("www-authenticate")).toBe('Basic realm="Secured Fixture", charset="UTF-8"');
    const legacy = await call("GET", `${url}/legacy`);
    isProblem(legacy, 401);
    expect(legacy.headers.get("www-authenticate")).toMatch(/^Digest realm="Secured Fixture", qop="auth", algorithm=SHA-256, nonce="[A-Za-z0-9+/=]{24}", OAuth realm="Secured Fixture"$/);
    const again = await call("GET", `${url}/legacy`);
    expect(again.headers.get("www-authenticate")).not.toBe(legacy.headers.get("www-authenticate")); // a fresh nonce
    isProblem(await call("POST", `${url}/signed`, { body: note }), 401);
    expect(seen).toEqual([]);
  });

  it("accepts any one of a method's schemes, and hands the caller to the handler as request.auth", async () => {
    seen.length = 0;
    expect((await call("POST", `${url}/notes`, { body: note, headers: bearer("writer-token") })).status).toBe(201);
    expect((await call("POST", `${url}/notes`, { body: note, headers: { "X-Api-Key": KEY } })).status).toBe(201);
    expect(seen).toEqual([
      { operation: "createNote", auth: { scheme: "oauth2", scopes: ["notes:write"], principal: TOKENS["writer-token"] } },
      { operation: "createNote", auth: { scheme: "passThrough", scopes: [], principal: { name: "key-holder" } } },
    ]);
    const viaQuery = await call("GET", `${url}/notes/n1?access_token=reader-token`);
    expect(viaQuery.json).toEqual({ ...note, text: "for reader" });
    expect((await call("GET", `${url}/archive`, { headers: { Authorization: `Basic ${Buffer.from("ann:secret").toString("base64")}` } })).json).toEqual([{ id: "a", text: "ann" }]);
    expect((await call("GET", `${url}/legacy`, { headers: { Authorization: "OAuth oauth_consumer_key=x" } })).json.text).toBe("oauth1 oauth1-client");
    expect((await call("GET", `${url}/legacy`, { headers: { Authorization: "Digest username=x" } })).json.text).toBe("digest digest-user");
    expect((await call("POST", `${url}/signed?signature=${"a".repeat(64)}`, { body: note })).status).toBe(204);
  });

  it("checks the scopes a method asks for: 403 with insufficient_scope when the token lacks one", async () => {
    const r = await call("DELETE", `${url}/notes/n1`, { headers: bearer("writer-token") });
    isProblem(r, 403);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="Secured Fixture", error="insufficient_scope", scope="notes:write admin"');
    expect((await call("DELETE", `${url}/notes/n1`, { headers: bearer("admin-token") })).status).toBe(204);
    // Without scopes in securedBy (the API's default), any valid token will do.
    expect((await call("GET", `${url}/notes/n1`, { headers: bearer("reader-token") })).status).toBe(200);
    isProblem(await call("POST", `${url}/notes`, { body: note, headers: bearer("reader-token") }), 403);
  });

  it("serves `null` (anonymous) alternatives without credentials, and with them hands over the caller", async () => {
    seen.length = 0;
    expect((await call("GET", `${url}/notes`)).json).toEqual([note]);
    expect((await call("GET", `${url}/notes`, { headers: bearer("reader-token") })).json).toEqual([note, note]);
    expect(seen).toEqual([
      { operation: "listNotes", auth: undefined },
      { operation: "listNotes", auth: { scheme: "oauth2", scopes: ["notes:read"], principal: TOKENS["reader-token"] } },
    ]);
    expect((await call("GET", `${url}/public`)).status).toBe(200);
  });

  it("answers 403 when an authenticator says forbidden, and 500 (never a pass) when it throws", async () => {
    const r = await call("GET", `${url}/notes/n1`, { headers: bearer("suspended-token") });
    isProblem(r, 403);
    expect(r.json.detail).toBe("this account is suspended");
    seen.length = 0;
    throwIn = "oauth2";
    try {
      isProblem(await call("GET", `${url}/notes/n1`, { headers: bearer("admin-token") }), 500);
      isProblem(await call("GET", `${url}/notes`), 500); // anonymous allowed, but the authenticator failed
    } finally {
      throwIn = undefined;
    }
    expect(seen).toEqual([]);
    expect(errors.splice(0)).toHaveLength(2);
  });

  it("validates the schemes' describedBy headers and query parameters like any others, once authenticated", async () => {
    const r = await call("POST", `${url}/notes`, { body: note, headers: { "X-Api-Key": "short-but-known" } });
    isProblem(r, 400);
    expect(r.json.errors.map((e: { field: string }) => e.field)).toEqual(["headers/x-api-key"]);
    const q = await call("POST", `${url}/signed?signature=nothex`, { body: note });
    isProblem(q, 400);
    expect(q.json.errors.map((e: { field: string }) => e.field)).toEqual(["query/signature"]);
  });

  it("refuses to build a router without an authenticator for every scheme", () => {
    const { hmac: _unused, ...missing } = security;
    expect(() => createRouter(handlers, { security: missing as SecurityHandlers<User> })).toThrow(/no authenticator for security scheme "hmac"/);
    expect(errors).toEqual([]);
  });
});
