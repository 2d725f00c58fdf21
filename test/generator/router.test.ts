// The generated router's base path over real HTTP, on the fixture spec's golden output, on
// node:http and Express (the cases every host shares are in hosts.test.ts).
import express from "express";
import { describe, expect, it } from "vitest";
import { ApiClient, createRouter } from "../fixtures/full/golden/index.js";
import { fixtureHandlers, fixtureOptions, fixtureState, thing } from "../helpers/fixture-handlers.js";
import { call, listen, rawRequest } from "../helpers/http.js";

const state = fixtureState();
const handlers = fixtureHandlers(state);
const routerOptions = fixtureOptions(state);

describe("basePath replaces the spec's baseUri path", () => {
  it("mounted with app.use('/api', …) and basePath '' it serves /api/things, not /api/api/v2/things; the client follows", async () => {
    const app = express();
    app.use("/api", createRouter(handlers, { ...routerOptions, basePath: "" }));
    app.use((_req, res) => res.status(404).send("fallthrough"));
    const s = await listen(app);
    try {
      expect((await call("GET", `${s.url}/api/things`)).json).toEqual([thing]);
      expect((await call("GET", `${s.url}/api/api/v2/things`)).status).toBe(404);
      const client = new ApiClient({ baseUrl: `${s.url}/api`, basePath: "" });
      const got = await client.getThing({ params: { "thing-id": "a-7" } });
      expect(got).toMatchObject({ status: 200, body: { id: "a-7" } });
    } finally {
      await s.close();
    }
  });

  it.each([["/v9"], ["v9/"]])("on node:http with basePath %s it serves /v9/things only; the client follows", async (basePath) => {
    const s = await listen(createRouter(handlers, { ...routerOptions, basePath }));
    try {
      expect((await call("GET", `${s.url}/v9/things`)).json).toEqual([thing]);
      expect((await call("GET", `${s.url}/api/v2/things`)).status).toBe(404);
      const client = new ApiClient({ baseUrl: s.url, basePath });
      expect(await client.listThings()).toMatchObject({ status: 200, body: [thing] });
      // Without basePath the client uses the spec's /api/v2, which this router no longer serves.
      await expect(new ApiClient({ baseUrl: s.url }).listThings()).rejects.toThrow(/unexpected status 404/);
    } finally {
      await s.close();
    }
  });

  it.each(["node:http", "express"] as const)("on %s, an answer's own header replaces a static one of the same name (one line, not two)", async (host) => {
    // Static headers with the names of an answer's own: the answer's win, as an object's keys would.
    const options = { ...routerOptions, headers: { "X-Static": "on every answer", Location: "static", "Content-Type": "text/x-static" } };
    let s: Awaited<ReturnType<typeof listen>>;
    if (host === "express") {
      const app = express();
      app.use(createRouter(handlers, options));
      s = await listen(app);
    } else {
      s = await listen(createRouter(handlers, options));
    }
    try {
      const port = Number(new URL(s.url).port);
      const raw = await rawRequest(port, "GET /api/v2/things/gone HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const lines = raw.split("\r\n\r\n")[0]!.split("\r\n").map((l) => l.toLowerCase());
      expect(lines[0]).toMatch(/^http\/1\.1 303/);
      expect(lines.filter((l) => l.startsWith("location:"))).toEqual(["location: /elsewhere"]);
      expect(lines.filter((l) => l.startsWith("x-static:"))).toEqual(["x-static: on every answer"]);
      const json = await rawRequest(port, "GET /api/v2/things/a-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const jsonLines = json.split("\r\n\r\n")[0]!.split("\r\n").map((l) => l.toLowerCase());
      expect(jsonLines.filter((l) => l.startsWith("content-type:"))).toEqual(["content-type: application/json; charset=utf-8"]);
      // Problems too: their media type replaces the static one.
      const missing = await rawRequest(port, "PATCH /api/v2/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const problemLines = missing.split("\r\n\r\n")[0]!.split("\r\n").map((l) => l.toLowerCase());
      expect(problemLines.filter((l) => l.startsWith("content-type:"))).toEqual(["content-type: application/problem+json"]);
    } finally {
      await s.close();
    }
  });
});
