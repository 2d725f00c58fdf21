// W3C trace context over real HTTP: a create's `traceparent` is kept with the job (on every
// store) and handed to the worker with its claim; invalid ones are ignored. With an OTLP
// endpoint configured, the service exports spans (received here by a small OTLP/HTTP JSON
// receiver) that put create, claim, heartbeats and finish in one trace, the worker SDK's
// updates included.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { runWorker } from "../../src/client/worker.js";
import { call } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE}-${CLIENT_SPAN}-01`;

describe.each(STORE_KINDS)("trace context on %s", (kind) => {
  it("is kept with the job and handed to the worker; an invalid one is ignored", async () => {
    const s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind) });
    try {
      const traced = await call("POST", `${s.url}/resources`, { body: { name: "a", priority: 9 }, headers: { traceparent: TRACEPARENT } });
      expect(traced.status).toBe(202);
      for (const bad of ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "garbage", `01-${TRACE}-${CLIENT_SPAN}-01-extra`]) {
        expect((await call("POST", `${s.url}/resources`, { body: { name: "a" }, headers: { traceparent: bad } })).status).toBe(202);
      }
      const tasks = (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w", max: 10 } })).json.tasks;
      expect(tasks).toHaveLength(4);
      expect(tasks[0]).toMatchObject({ id: traced.json.id, traceparent: TRACEPARENT });
      for (const t of tasks.slice(1)) expect(t.traceparent).toBeUndefined();
      expect(s.invalidResponses).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

describe("OpenTelemetry tracing (OTLP endpoint configured)", () => {
  let receiver: Server;
  const spans: OtlpSpan[] = [];
  let s: TestServer;
  afterAll(async () => {
    await s?.close();
    receiver?.close();
  });

  it("puts create, claim, heartbeats and finish in the create's trace", async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        expect(req.url).toBe("/v1/traces");
        expect(req.headers["content-type"]).toMatch(/json/);
        for (const rs of JSON.parse(body).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    s = await startTestServer({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_SERVICE_NAME: "jobs-test" } });

    const created = await call("POST", `${s.url}/resources`, { body: { name: "traced" }, headers: { traceparent: TRACEPARENT } });
    expect(created.status).toBe(202);
    let claimed: string | undefined;
    const w = runWorker({
      baseUrl: s.url,
      handleSignals: false,
      pollSeconds: 1,
      worker: "tracer-1",
      handler: async (task, ctx) => {
        claimed = task.traceparent;
        await ctx.progress(50);
        return { ok: true };
      },
    });
    const deadline = Date.now() + 10_000;
    while ((await call("GET", `${s.url}/resources/${created.json.id}`)).status !== 303 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await w.stop();
    // The worker continues the claim span's context: same trace, a new span.
    expect(claimed).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(claimed).not.toBe(TRACEPARENT);

    const inTrace = async (n: number) => {
      const until = Date.now() + 5000;
      while (spans.filter((x) => x.traceId === TRACE).length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      return spans.filter((x) => x.traceId === TRACE);
    };
    const mine = await inTrace(4);
    const byName = (name: string) => mine.filter((x) => x.name === name);
    const create = byName("POST createJob");
    expect(create).toHaveLength(1);
    expect(create[0]!.parentSpanId).toBe(CLIENT_SPAN);
    const claim = byName("job claimed");
    expect(claim).toHaveLength(1);
    expect(claim[0]!.parentSpanId).toBe(create[0]!.spanId);
    expect(claimed).toBe(`00-${TRACE}-${claim[0]!.spanId}-01`);
    // The heartbeat with progress and the finish: server spans under the claim.
    const updates = byName("PUT updateTask");
    expect(updates.length).toBeGreaterThanOrEqual(2);
    for (const u of updates) expect(u.parentSpanId).toBe(claim[0]!.spanId);
    const status = (x: OtlpSpan) => Number(x.attributes.find((a) => a.key === "http.response.status_code")?.value.intValue);
    expect(updates.map(status).every((c) => c === 200)).toBe(true);
    // The claim request itself belongs to the worker's own trace, not the job's.
    expect(spans.some((x) => x.name === "POST claimTasks" && x.traceId !== TRACE)).toBe(true);
  }, 20_000);
});
