// GET /metrics over real HTTP on every store: Prometheus text (parsed by a Prometheus text
// parser) whose counters and gauges move as jobs are created, claimed, retried, expired,
// cancelled and finished; readable only with an admin's key once keys exist.
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: the package ships no types
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { ManualClock } from "../../src/jobs/clock.js";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; count?: string; buckets?: Record<string, string> }[];
}

describe.each(STORE_KINDS)("metrics on %s", (kind) => {
  const keys = writeKeys({ alice: "client", w: "worker", root: "admin" });
  let s: TestServer;
  let clock: ManualClock;
  afterAll(() => s?.close());

  type Scrape = Map<string, Family> & { text: string };
  const scrape = async (): Promise<Scrape> => {
    const r = await call("GET", `${s.url}/metrics`, { headers: keys.auth["root"] });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return Object.assign(new Map((parsePrometheusTextFormat(r.text) as Family[]).map((f) => [f.name, f])), { text: r.text });
  };
  /**
   * The value of a metric with exactly these labels (0 if absent); a histogram's count. (The
   * parser keeps no labels of histograms: their counts are read from the text's `_count` line.)
   */
  const value = (m: Scrape, name: string, labels: Record<string, string> = {}) => {
    const f = m.get(name);
    if (f?.type === "HISTOGRAM") {
      const sel = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",");
      const line = m.text.split("\n").find((l) => l.startsWith(`${name}_count${sel ? `{${sel}}` : ""} `));
      return Number(line?.split(" ")[1] ?? 0);
    }
    const x = f?.metrics.find((v) => JSON.stringify(v.labels ?? {}) === JSON.stringify(labels));
    return Number(x?.value ?? 0);
  };
  const create = async (name: string) => (await call("POST", `${s.url}/resources`, { body: { name, maxAttempts: 2 }, headers: keys.auth["alice"] })).json.id as string;
  const claim = async (names: string[]) => {
    const r = await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w1", names, leaseSeconds: 30 }, headers: keys.auth["w"] });
    return r.json.tasks[0] as { id: string; leaseToken: string };
  };
  const put = (id: string, body: unknown) => call("PUT", `${s.url}/tasks/${id}`, { body, headers: keys.auth["w"] });

  it("is readable by admins only", async () => {
    clock = new ManualClock();
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), clock, env: { API_KEYS_FILE: keys.file }, random: () => 0.5 });
    const anonymous = await call("GET", `${s.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await call("GET", `${s.url}/metrics`, { headers: keys.auth["w"] })).status).toBe(403);
    expect((await call("GET", `${s.url}/metrics`, { headers: keys.auth["alice"] })).status).toBe(403);
    const m = await scrape();
    for (const name of ["http_requests_total", "jobs_created_total", "jobs_waiting", "process_cpu_seconds_total", "nodejs_eventloop_lag_seconds", "nodejs_eventloop_lag_p99_seconds", "webhook_outbox_pending"]) {
      expect(m.has(name), name).toBe(true);
    }
    expect(m.has("db_pool_connections")).toBe(kind === "postgres");
  });

  it("counts and gauges move with the jobs", async () => {
    const before = await scrape();
    const a1 = await create("a");
    const a2 = await create("a");
    const b = await create("b");
    let m = await scrape();
    expect(value(m, "jobs_created_total") - value(before, "jobs_created_total")).toBe(3);
    expect(value(m, "http_requests_total", { operation: "createJob", status: "202" })).toBe(3);
    expect(value(m, "http_request_duration_seconds", { operation: "createJob" })).toBe(3);
    expect(value(m, "jobs_waiting", { name: "a" })).toBe(2);
    expect(value(m, "jobs_waiting", { name: "b" })).toBe(1);
    expect(value(m, "jobs_running", { name: "a" })).toBe(0);

    // Claimed 2 s after creation; one succeeds 3 s later, one fails retryably.
    clock.advance(2000);
    const t1 = await claim(["a"]);
    const t2 = await claim(["a"]);
    expect([t1.id, t2.id].sort()).toEqual([a1, a2].sort());
    m = await scrape();
    expect(value(m, "jobs_claimed_total")).toBe(2);
    expect(value(m, "jobs_running", { name: "a" })).toBe(2);
    expect(value(m, "jobs_waiting", { name: "a" })).toBe(0);
    const c2c = m.get("jobs_create_to_claim_seconds")!.metrics[0];
    expect(value(m, "jobs_create_to_claim_seconds")).toBe(2);
    expect(Number(c2c!.buckets!["1"])).toBe(0); // both took 2 s
    expect(Number(c2c!.buckets!["2.5"])).toBe(2);
    clock.advance(3000);
    expect((await put(t1.id, { leaseToken: t1.leaseToken, result: { ok: 1 } })).status).toBe(200);
    expect((await put(t2.id, { leaseToken: t2.leaseToken, status: "FAILED", retryable: true, error: { title: "flaky" } })).status).toBe(200);
    m = await scrape();
    expect(value(m, "jobs_ended_total", { status: "SUCCESS" })).toBe(1);
    expect(value(m, "jobs_retries_total")).toBe(1);
    expect(value(m, "jobs_claim_to_end_seconds", { status: "SUCCESS" })).toBe(1);
    expect(Number(m.get("jobs_claim_to_end_seconds")!.metrics[0]!.buckets!["2.5"])).toBe(0); // 3 s
    expect(value(m, "jobs_waiting", { name: "a" })).toBe(1); // in backoff
    expect(value(m, "jobs_running", { name: "a" })).toBe(0);

    // The retry is claimed, its lease runs out, and the next claim finds it expired: the last attempt.
    clock.advance(60_000);
    await claim(["a"]);
    clock.advance(31_000);
    expect((await call("GET", `${s.url}/resources/${a2}`, { headers: keys.auth["alice"] })).status).toBe(500); // attempts exhausted
    m = await scrape();
    expect(value(m, "jobs_lease_expired_total")).toBe(1);
    expect(value(m, "jobs_ended_total", { status: "FAILED" })).toBe(1);

    // A cancel reaching the worker.
    const tb = await claim(["b"]);
    expect(tb.id).toBe(b);
    expect((await call("DELETE", `${s.url}/resources/${b}`, { headers: keys.auth["alice"] })).status).toBe(200);
    expect((await put(b, { leaseToken: tb.leaseToken, progress: 10 })).status).toBe(409);
    m = await scrape();
    expect(value(m, "jobs_cancels_seen_by_worker_total")).toBe(1);
    expect(value(m, "jobs_ended_total", { status: "CANCELLED" })).toBe(1);
    expect(value(m, "http_requests_total", { operation: "updateTask", status: "409" })).toBe(1);
    expect(value(m, "jobs_waiting", { name: "b" })).toBe(0);
    expect(m.has("jobs_waiting") && m.get("jobs_waiting")!.metrics.length).toBe(0); // nothing in progress
  });

  it("can be turned off", async () => {
    const off = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { METRICS: "off" } });
    try {
      expect((await call("GET", `${off.url}/metrics`)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});
