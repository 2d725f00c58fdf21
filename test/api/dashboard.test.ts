// The live dashboard (/dashboard) in headless Chromium (Debian's, driven by puppeteer-core),
// against the service over real HTTP on a real SQLite file with API keys: the admin signs in,
// a job created through the API appears within 2 s, its progress bar moves as its worker
// reports, its page shows every transition as a timeline, cancel reaches the worker, and the
// browser logs no errors. Screenshots go to DASHBOARD_SHOTS (default: a temporary folder),
// printed at the end; `npm run dashboard:shot` writes them to docs/images.
import { mkdirSync, mkdtempSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { chromiumOrSkip } from "../helpers/chromium.js";

const CHROMIUM = chromiumOrSkip("dashboard browser test");
const SHOTS = process.env["DASHBOARD_SHOTS"] ? path.resolve(process.env["DASHBOARD_SHOTS"]) : mkdtempSync(path.join(os.tmpdir(), "dashboard-shots-"));

describe.skipIf(!CHROMIUM)("/dashboard in Chromium", () => {
  const keys = writeKeys({ alice: "client", w: "worker", root: "admin" });
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    s = await startTestServer({ env: { API_KEYS_FILE: keys.file, QUEUE_SAMPLE_SECONDS: "1" } });
    browser = await puppeteer.launch({ ...(CHROMIUM === undefined ? {} : { executablePath: CHROMIUM }), headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage();
    page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
    page.on("pageerror", (e) => problems.push(`page error: ${(e as Error).message}`));
    page.on("requestfailed", (r) => !r.url().includes("/admin/queues") && problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on("dialog", (d) => void d.accept());
    await page.setViewport({ width: 1280, height: 1000 });
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
    console.log(`dashboard screenshots: ${SHOTS}`);
  });

  const create = async (name: string, input: unknown) => {
    const r = await call("POST", `${s.url}/resources`, { body: { name, input }, headers: keys.auth["alice"] });
    expect(r.status).toBe(202);
    return r.json.id as string;
  };
  const claim = async () => (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "render-worker-1" }, headers: keys.auth["w"] })).json.tasks[0] as { id: string; leaseToken: string };
  const put = (id: string, body: unknown) => call("PUT", `${s.url}/tasks/${id}`, { body, headers: keys.auth["w"] });
  /** Milliseconds until the page shows it (throws after `ms`). */
  const shows = async (fn: string, ms = 2000) => {
    const t0 = performance.now();
    await page.waitForFunction(fn, { timeout: ms, polling: 50 }).catch((e: Error) => {
      throw new Error(`${e.message}, waiting for ${fn}`);
    });
    return performance.now() - t0;
  };
  const shot = async (name: string) => {
    const file = path.join(SHOTS, `${name}.png`) as `${string}.png`;
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(10_000);
  };

  it("asks for an admin's key, and refuses a client's", async () => {
    await page.goto(`${s.url}/dashboard`, { waitUntil: "domcontentloaded" });
    await shows(`!document.getElementById("login").hidden`);
    await page.type("#key", keys.key["alice"]);
    await page.click("#login button");
    await shows(`document.getElementById("login-error").textContent.includes("not an admin")`);
    await page.$eval("#key", (e) => ((e as unknown as { value: string }).value = ""));
    await page.type("#key", keys.key["root"]);
    await page.click("#login button");
    await shows(`!document.getElementById("overview").hidden && document.getElementById("updated").textContent !== ""`);
    expect(await page.$eval("#login", (e) => (e as unknown as { hidden: boolean }).hidden)).toBe(true);
    // Chromium logs every 401 and 403 answer: here, the two the sign-in was expected to meet.
    expect(problems.splice(0).map((p) => p.replace(/.*status of (\d+).*/, "$1"))).toEqual(["401", "403"]);
  });

  it("shows a new job within 2 s, and its progress as its worker reports it", async () => {
    for (let i = 0; i < 3; i++) await create("thumbnail", { image: i });
    const id = await create("nightly-report", { day: "2030-01-01" });
    const appeared = await shows(`document.querySelector('tr[data-id="${id}"]') !== null`);
    console.log(`a created job appeared on the dashboard after ${appeared.toFixed(0)} ms`);
    const bar = `document.querySelector('tr[data-id="${id}"] [role=progressbar]')`;
    // Claimed in priority order: the report (created last, same priority) comes after the thumbnails.
    const tasks = [await claim(), await claim(), await claim(), await claim()];
    const t = tasks.find((x) => x.id === id)!;
    expect((await put(id, { leaseToken: t.leaseToken, progress: 30 })).status).toBe(200);
    await shows(`${bar}.getAttribute("aria-valuenow") === "30"`);
    expect((await put(id, { leaseToken: t.leaseToken, progress: 70 })).status).toBe(200);
    await shows(`${bar}.getAttribute("aria-valuenow") === "70"`);
    for (const x of tasks.filter((x) => x.id !== id)) await put(x.id, { leaseToken: x.leaseToken, result: { ok: true } });
    await shows(`document.querySelectorAll("#jobs .status-SUCCESS").length === 3`);
    // The queue cards and charts follow (the sampler runs every second here).
    await shows(`document.getElementById("n-running").textContent === "1"`, 3000);
    await shows(`document.querySelectorAll("#chart-depth canvas").length > 0`);
    await new Promise((r) => setTimeout(r, 1500)); // a few more samples on the charts
    await shot("overview");

    // Filters.
    await page.select("#f-status", "SUCCESS");
    await shows(`[...document.querySelectorAll("#jobs tbody tr")].length === 3 && !document.querySelector('tr[data-id="${id}"]')`);
    await page.select("#f-status", "");
    await page.type("#f-name", "nightly-report");
    await shows(`document.querySelectorAll("#jobs tbody tr").length === 1 && document.querySelector('tr[data-id="${id}"]') !== null`);

    // The job's page: its history as a timeline, live.
    await page.click(`tr[data-id="${id}"] a`);
    await shows(`document.querySelectorAll("#timeline li").length === 3`);
    const types = () => page.$$eval("#timeline li", (lis) => lis.map((li) => li.getAttribute("data-type")));
    // 70 % came within 5 s of 30 %: one progress event.
    expect(await types()).toEqual(["created", "claimed", "progress"]);
    expect(await page.$eval("#job-input", (e) => JSON.parse(e.textContent!))).toEqual({ day: "2030-01-01" });
    await new Promise((r) => setTimeout(r, 5100)); // progress events are recorded at most every 5 s
    expect((await put(id, { leaseToken: t.leaseToken, progress: 90 })).status).toBe(200);
    await shows(`document.querySelectorAll("#timeline li").length === 4`);
    await shows(`document.getElementById("job-progress").parentElement.getAttribute("aria-valuenow") === "90"`);
    await new Promise((r) => setTimeout(r, 400)); // the bar's transition
    await shot("job");

    // Cancel, for admins: the job is CANCELLED at once and its worker hears of it.
    await page.click("#cancel");
    await shows(`document.querySelector('#timeline li[data-type="cancelled"]') !== null`);
    const heard = await put(id, { leaseToken: t.leaseToken, progress: 95 });
    expect(heard.status).toBe(409);
    expect(heard.json.type).toBe("urn:async-api:job-cancelled");
    expect(await page.$eval("#job-title .status", (e) => e.textContent)).toBe("CANCELLED");
    expect(await page.$eval('#timeline li[data-type="cancelled"] .detail', (e) => e.textContent)).toContain("by root");
    expect(await page.$eval("#cancel", (e) => (e as unknown as { hidden: boolean }).hidden)).toBe(true);
    expect(await types()).toEqual(["created", "claimed", "progress", "progress", "cancelled"]);
  }, 30_000);

  it("shows when a scheduled job will run", async () => {
    const r = await call("POST", `${s.url}/resources`, { body: { name: "later", delaySeconds: 7200 }, headers: keys.auth["alice"] });
    expect(r.status).toBe(202);
    await page.goto(`${s.url}/dashboard#/jobs/${r.json.id}`);
    await shows(`[...document.querySelectorAll("#job-facts dt")].some((dt) => dt.textContent === "runs at")`);
    const facts = await page.$$eval("#job-facts dt", (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent]));
    expect(Object.fromEntries(facts)["runs at"]).toMatch(/\(in (1 h 59 min|2 h 0 min)\)$/);
  });

  it("pauses and resumes a name, runs a failed job again, and redrives a name's failed jobs", async () => {
    await page.goto(`${s.url}/dashboard#/`);
    for (let i = 0; i < 3; i++) await create("export", { part: i });
    const row = `document.querySelector('#names tr[data-name="export"]')`;
    await shows(`${row} !== null && ${row}.querySelector("button").textContent === "Pause"`);
    await page.click('#names tr[data-name="export"] button');
    await shows(`${row}.classList.contains("paused") && ${row}.textContent.includes("by root") && ${row}.querySelector("button").textContent === "Resume"`);
    expect((await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w", names: ["export"] }, headers: keys.auth["w"] })).json.tasks).toEqual([]);
    await page.click('#names tr[data-name="export"] button');
    await shows(`!${row}.classList.contains("paused")`);
    const tasks = (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w", names: ["export"], max: 3 }, headers: keys.auth["w"] })).json.tasks as { id: string; leaseToken: string }[];
    expect(tasks).toHaveLength(3);
    for (const t of tasks) await put(t.id, { leaseToken: t.leaseToken, status: "FAILED", error: { title: "quota" } });
    await shot("names");

    // One failed job, from its page.
    const one = tasks[0]!.id;
    await page.goto(`${s.url}/dashboard#/jobs/${one}`);
    await shows(`!document.getElementById("rerun").hidden`);
    await page.click("#rerun");
    await shows(`document.querySelector('#timeline li[data-type="rerun"]') !== null`);
    expect(await page.$eval("#job-title .status", (e) => e.textContent)).toBe("IN PROGRESS");
    expect(await page.$eval('#timeline li[data-type="rerun"] .detail', (e) => e.textContent)).toContain("root");
    expect(await page.$eval("#rerun", (e) => (e as unknown as { hidden: boolean }).hidden)).toBe(true);

    // The dead-letter view: the name's failed jobs, and the redrive.
    await page.goto(`${s.url}/dashboard#/`);
    await shows(`!document.getElementById("overview").hidden`);
    await page.select("#f-status", "FAILED");
    await page.$eval("#f-name", (e) => ((e as unknown as { value: string }).value = ""));
    await page.type("#f-name", "export");
    await shows(`document.querySelectorAll("#jobs tbody tr").length === 2 && !document.getElementById("redrive").hidden`);
    await page.click("#redrive");
    await shows(`document.getElementById("redrive-result").textContent === "2 running again"`);
    await shows(`document.querySelectorAll("#jobs tbody tr").length === 0`);
    const again = (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w", names: ["export"], max: 5 }, headers: keys.auth["w"] })).json.tasks as { id: string }[];
    expect(again.map((t) => t.id).sort()).toEqual(tasks.map((t) => t.id).sort());
  }, 30_000);

  it("shows the limits set and the schedules, and pauses and resumes a schedule", async () => {
    await call("PUT", `${s.url}/admin/limits/name/mail`, { body: { concurrency: 3, ratePerSecond: 10 }, headers: keys.auth["root"] });
    await call("PUT", `${s.url}/admin/limits/key/tenant-9`, { body: { concurrency: 1 }, headers: keys.auth["root"] });
    const made = await call("POST", `${s.url}/schedules`, { body: { cron: "0 2 * * *", timezone: "Europe/Paris", job: { name: "nightly" } }, headers: keys.auth["alice"] });
    expect(made.status).toBe(201);
    await page.goto(`${s.url}/dashboard#/`);
    const limit = `document.querySelector('#limits tr[data-group="name/mail"]')`;
    await shows(`${limit} !== null && ${limit}.textContent.includes("≤ 3 at once") && ${limit}.textContent.includes("10/s")`);
    await shows(`document.querySelector('#limits tr[data-group="key/tenant-9"]')?.textContent.includes("key tenant-9") === true`);
    const row = `document.querySelector('#schedules tr[data-schedule="${made.json.id}"]')`;
    await shows(`${row} !== null && ${row}.textContent.includes("0 2 * * * (Europe/Paris)") && ${row}.querySelector("button").textContent === "Pause"`);
    await shot("limits-schedules");
    await page.click(`#schedules tr[data-schedule="${made.json.id}"] button`);
    await shows(`${row}.classList.contains("paused") && ${row}.querySelector("button").textContent === "Resume"`);
    expect((await call("GET", `${s.url}/schedules/${made.json.id}`, { headers: keys.auth["alice"] })).json.paused).toBe(true);
    await page.click(`#schedules tr[data-schedule="${made.json.id}"] button`);
    await shows(`!${row}.classList.contains("paused")`);
    expect((await call("GET", `${s.url}/schedules/${made.json.id}`, { headers: keys.auth["alice"] })).json.paused).toBe(false);
  }, 30_000);

  it("logged no errors in the browser", () => {
    expect(problems).toEqual([]);
  });
});
