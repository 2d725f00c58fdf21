// ramlgen mock from a browser, as a front end on its own dev server uses it: a page served from
// another origin creates a job (a CORS preflight first: JSON and an Authorization header) and
// polls the Location it was given, reading both answers; with CORS off the browser refuses.
// Every request gets one line in the mock's log with its verdict.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { startMock } from "../../generator/mock/mock.js";
import { chromiumOrSkip } from "../helpers/chromium.js";
import { call } from "../helpers/http.js";

const CHROMIUM = chromiumOrSkip("mock in the browser");
const { model, validators } = loadModel(path.resolve("spec/api.raml"));

/** The front end's page: POST a job, then GET its Location, and leave what it read in window.result. */
const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
const mock = new URLSearchParams(location.search).get("mock");
const auth = { authorization: "Bearer any" };
try {
  const created = await fetch(mock + "/resources", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ name: "from-the-browser" }) });
  const location = created.headers.get("location");
  const createdBody = await created.json();
  const polled = await fetch(new URL(location, mock), { headers: auth });
  window.result = { created: { status: created.status, location, retryAfter: created.headers.get("retry-after"), body: createdBody }, polled: { status: polled.status, body: await polled.json() } };
} catch (e) {
  window.result = { error: String(e) };
}
</script>`;

let front: Server;
let frontUrl: string;
let browser: Browser | undefined;

beforeAll(async () => {
  front = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(PAGE));
  await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
  frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  if (CHROMIUM) browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => front.close(() => r()));
});

async function fromTheBrowser(mockUrl: string): Promise<Record<string, any>> {
  const page = await browser!.newPage();
  try {
    await page.goto(`${frontUrl}/?mock=${encodeURIComponent(mockUrl)}`);
    await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, { timeout: 15_000 });
    return (await page.evaluate(() => (globalThis as unknown as { result: unknown }).result)) as Record<string, any>;
  } finally {
    await page.close();
  }
}

describe("ramlgen mock in a browser on another origin", () => {
  it.skipIf(!CHROMIUM)("answers CORS by default: the page creates a job and reads it back at its Location", async () => {
    const lines: string[] = [];
    const mock = await startMock(model, validators, { port: 0, log: (l) => lines.push(l) });
    try {
      const result = await fromTheBrowser(mock.url);
      expect(result["error"]).toBeUndefined();
      expect(result["created"].status).toBe(202);
      expect(result["created"].location).toMatch(/^\/resources\/\S+$/);
      expect(result["created"].retryAfter).not.toBeNull(); // a declared response header, exposed to the page
      expect(result["polled"].status).toBe(200);
      expect(result["polled"].body).toMatchObject({ id: result["created"].body.id, status: "IN PROGRESS" });
      expect(lines.some((l) => /^ramlgen mock: OPTIONS \/resources 204 \d+ ms, CORS preflight for POST$/.test(l))).toBe(true);
      expect(lines.some((l) => /^ramlgen mock: POST \/resources 202 \d+ ms, valid$/.test(l))).toBe(true);
      expect(lines.some((l) => new RegExp(`^ramlgen mock: GET ${result["created"].location} 200 \\d+ ms, valid$`).test(l))).toBe(true);
    } finally {
      await mock.close();
    }
  }, 60_000);

  it.skipIf(!CHROMIUM)("with --cors off the browser is refused, as it should be", async () => {
    const mock = await startMock(model, validators, { port: 0, cors: false, log: () => {} });
    try {
      expect((await fromTheBrowser(mock.url))["error"]).toMatch(/TypeError/);
    } finally {
      await mock.close();
    }
  }, 60_000);

  it("answers a preflight with the methods and headers the spec declares for the path", async () => {
    const mock = await startMock(model, validators, { port: 0, log: () => {} });
    try {
      const r = await call("OPTIONS", `${mock.url}/resources`, { headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" } });
      expect(r.status).toBe(204);
      expect(r.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
      expect(r.headers.get("access-control-allow-methods")).toBe("GET, HEAD, OPTIONS, POST");
      const allowed = r.headers.get("access-control-allow-headers")!.split(", ");
      for (const h of ["authorization", "content-type", "idempotency-key", "prefer"]) expect(allowed).toContain(h);
      const created = await call("POST", `${mock.url}/resources`, { body: { name: "x" }, headers: { origin: "http://localhost:5173", authorization: "Bearer any" } });
      expect(created.headers.get("access-control-expose-headers")!.split(", ")).toEqual(expect.arrayContaining(["Location", "Retry-After"]));
    } finally {
      await mock.close();
    }
  });

  it("logs one line per request with its verdict, the first failing field of an invalid one", async () => {
    const lines: string[] = [];
    const mock = await startMock(model, validators, { port: 0, log: (l) => lines.push(l) });
    try {
      await call("POST", `${mock.url}/resources`, { body: { name: "", priority: 12 }, headers: { authorization: "Bearer any" } });
      await call("POST", `${mock.url}/resources`, { body: { name: "ok" } });
      await new Promise((r) => setTimeout(r, 50));
      expect(lines[0]).toMatch(/^ramlgen mock: POST \/resources 400 \d+ ms, request invalid: body\/\S+ .+ \(\+1 more\)$/);
      expect(lines[1]).toMatch(/^ramlgen mock: POST \/resources 401 \d+ ms, this needs credentials the server accepts$/);
    } finally {
      await mock.close();
    }
  });
});
