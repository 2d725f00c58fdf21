// The API reference rendered from the spec, served at /docs: every operation is on the page,
// as fetched and as rendered by headless Chromium (Debian's chromium; .ci/run installs it and
// sets REQUIRE_CHROMIUM, elsewhere the Chromium check is skipped with a message).
import { execFile } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../generator/generate.js";
import { call } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { CHROMIUM_FLAGS, chromiumOrSkip } from "../helpers/chromium.js";

const run = promisify(execFile);
const CHROMIUM = chromiumOrSkip("docs Chromium check");

const { model } = loadModel(path.resolve("spec/api.raml"));
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

describe("/docs", () => {
  it("serves the reference with every operation, parameter and status", async () => {
    const r = await call("GET", `${s.url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/html/);
    expect(r.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    for (const op of model.operations) {
      expect(r.text).toContain(`data-operation="${op.name}"`);
      for (const p of [...op.uriParams, ...op.query, ...op.headers]) expect(r.text).toContain(`<code>${p.name}</code>`);
      for (const resp of op.responses) expect(r.text).toContain(`<td class="status">${resp.status}</td>`);
    }
  });

  it.skipIf(!CHROMIUM)("renders every operation in headless Chromium", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "docs-chromium-"));
    const { stdout } = await run(CHROMIUM!, [...CHROMIUM_FLAGS, `--user-data-dir=${dir}`, "--dump-dom", `${s.url}/docs`], { timeout: 60_000 });
    for (const op of model.operations) expect(stdout).toContain(`data-operation="${op.name}"`);
    const shot = path.join(dir, "docs.png");
    await run(CHROMIUM!, [...CHROMIUM_FLAGS, `--user-data-dir=${dir}`, "--window-size=1280,2000", `--screenshot=${shot}`, `${s.url}/docs`], { timeout: 60_000 });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });
});
