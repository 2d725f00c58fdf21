// The same front-end walk-through against `ramlgen mock` and against Prism (the mock most
// spec-first teams know), each on the same API: test/fixtures/mock/orders.raml, and for Prism
// its OpenAPI export. Prism runs in both its modes: static (examples, else placeholder values)
// and dynamic (-d, json-schema-faker). Each answer is checked against the spec with ramlgen's
// validators; the table says, per step, what each answered and whether it agrees with the
// answers before it. Prints a Markdown table (and writes it to bench/results/mock-vs-prism.md).
// Prism is fetched with npx, pinned: `npm run bench:mock` needs the npm registry once.
// Usage: npm run bench:mock
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openApiDocument } from "../generator/emit/openapi.js";
import { loadModel } from "../generator/generate.js";
import { startMock } from "../generator/mock/mock.js";
import { isJsonMedia } from "../generator/model/media.js";

const PRISM = "@stoplight/prism-cli@5.16.0";
const spec = path.resolve("test/fixtures/mock/orders.raml");
const { model, validators } = loadModel(spec);
const grace = { customer: { name: "Grace Hopper", email: "grace@example.com" }, lines: [{ sku: "TEA-0001", title: "Green tea", quantity: 2, price: 3.5 }], currency: "EUR" };

interface Answer {
  status: number;
  location: string | null;
  body: any;
  valid: boolean;
}

/** One request, its answer checked against the operation's declared response. */
async function ask(base: string, operation: string, method: string, p: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}${p}`, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }), redirect: "manual" });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  const op = model.operations.find((o) => o.name === operation)!;
  const r = op.responses.find((x) => x.status === res.status);
  const b = r?.bodies.find((x) => x.mediaType === (res.headers.get("content-type") ?? "").split(";")[0]);
  const valid = !!r && (r.bodies.length === 0 ? text === "" : !!b && validators.exact(b.schema)(isJsonMedia(b.mediaType) ? json : text));
  return { status: res.status, location: res.headers.get("location"), body: json, valid };
}

const mark = (a: Answer) => `${a.status}${a.valid ? "" : " (breaks the spec)"}`;

/** The walk-through: each row, what happened, as a cell. */
async function walk(base: string): Promise<string[]> {
  const cells: string[] = [];
  const created = await ask(base, "postOrders", "POST", "/orders", grace);
  const id = created.body?.orderId;
  const idOk = typeof id === "string" && /^ord_[0-9A-Za-z]+$/.test(id);
  cells.push(`${mark(created)}; customer ${JSON.stringify(created.body?.customer?.name)}; id ${JSON.stringify(id)}${idOk ? "" : " (breaks the id's pattern)"}`);
  const location = created.location ?? "";
  cells.push(`${JSON.stringify(location)}${location.endsWith(`/${id}`) ? ", the body's id" : ", not the body's id"}`);
  const itemPath = location.startsWith("/") ? location.replace(/^.*\/orders\//, "/orders/") : `/orders/${encodeURIComponent(String(id))}`;
  const read = await ask(base, "getOrdersByOrderId", "GET", itemPath);
  const same = JSON.stringify(read.body) === JSON.stringify(created.body);
  cells.push(`${mark(read)}; ${same ? "the created order" : read.status === 200 ? `another order (customer ${JSON.stringify(read.body?.customer?.name)})` : "no order"}`);
  const list = await ask(base, "getOrders", "GET", "/orders");
  const items: any[] = list.body?.items ?? [];
  const holds = items.some((o) => o?.orderId === id && o?.customer?.name === grace.customer.name);
  cells.push(`${mark(list)}; ${items.length} order${items.length === 1 ? "" : "s"}, total ${JSON.stringify(list.body?.total)}; ${holds ? "holds Grace's order" : "does not hold Grace's order"}`);
  const patched = await ask(base, "patchOrdersByOrderId", "PATCH", itemPath, { status: "paid" });
  const after = await ask(base, "getOrdersByOrderId", "GET", itemPath);
  cells.push(`${mark(patched)}; then GET ${after.status === 200 ? `says status ${JSON.stringify(after.body?.status)}` : mark(after)}`);
  const removed = await ask(base, "deleteOrdersByOrderId", "DELETE", itemPath);
  const gone = await ask(base, "getOrdersByOrderId", "GET", itemPath);
  cells.push(`${mark(removed)}; then GET ${mark(gone)}${gone.status === 404 ? `, problem status ${JSON.stringify(gone.body?.status)}, title ${JSON.stringify(gone.body?.title)}` : ""}`);
  const sample = items[0];
  cells.push(sample ? `customer ${JSON.stringify(sample.customer?.name)}, ${JSON.stringify(sample.customer?.email)}; placedAt ${JSON.stringify(sample.placedAt)}; total ${JSON.stringify(sample.total)} ${JSON.stringify(sample.currency)}` : "(no order listed)");
  return cells;
}

async function waitFor(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > until) throw new Error(`nothing answers on ${url}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function prism(file: string, port: number, dynamic: boolean): Promise<{ url: string; stop(): void }> {
  const child: ChildProcess = spawn("npx", ["--yes", PRISM, "mock", file, "-p", String(port), "-h", "127.0.0.1", ...(dynamic ? ["-d"] : [])], { stdio: "ignore", detached: true });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url, 120_000);
  return { url, stop: () => process.kill(-child.pid!, "SIGTERM") };
}

const dir = mkdtempSync(path.join(os.tmpdir(), "mock-vs-prism-"));
const file = path.join(dir, "orders.openapi.json");
writeFileSync(file, JSON.stringify(openApiDocument(model), null, 2));
const columns: { name: string; cells: string[] }[] = [];
try {
  const ours = await startMock(model, validators, { port: 0, log: () => {} });
  // ramlgen's mock serves under the baseUri's path; Prism ignores the server URL's path.
  columns.push({ name: "ramlgen mock", cells: await walk(`${ours.url}/api`) });
  await ours.close();
  for (const dynamic of [false, true]) {
    const p = await prism(file, 4990 + Number(dynamic), dynamic);
    try {
      columns.push({ name: dynamic ? "Prism -d (dynamic)" : "Prism (static)", cells: await walk(p.url) });
    } finally {
      p.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const steps = ["POST /orders (Grace)", "its Location", "GET the Location", "GET /orders", "PATCH status paid, GET", "DELETE, GET", "a listed order's data"];
const lines = [`| step | ${columns.map((c) => c.name).join(" | ")} |`, `|---|${columns.map(() => "---").join("|")}|`];
steps.forEach((s, i) => lines.push(`| ${s} | ${columns.map((c) => (c.cells[i] ?? "").replace(/\|/g, "\\|")).join(" | ")} |`));
const table = `${lines.join("\n")}\n`;
console.log(`Walk-through on test/fixtures/mock/orders.raml (Prism ${PRISM.split("@")[2]} on its OpenAPI export), ${new Date().toISOString().slice(0, 10)}:\n\n${table}`);
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/mock-vs-prism.md", table);
