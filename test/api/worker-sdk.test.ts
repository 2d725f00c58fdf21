// The worker SDK (src/client/worker.ts) against the real service over HTTP, on every store:
// jobs done end to end with progress, retries of thrown errors, permanent failures, cancel
// reaching the handler's signal within one heartbeat interval, a lost lease, and stopping.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JobCancelledError, LeaseLostError, PermanentJobError, runWorker, type RunningWorker, type WorkerEvent, type WorkerOptions } from "../../src/client/worker.js";
import { call } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe.each(STORE_KINDS)("worker SDK on %s", (kind) => {
  let s: TestServer;
  const workers: RunningWorker[] = [];
  const events: WorkerEvent[] = [];
  const start = (opts: Partial<WorkerOptions> & Pick<WorkerOptions, "handler" | "names">) => {
    const w = runWorker({ baseUrl: s.url, handleSignals: false, pollSeconds: 5, onEvent: (e) => events.push(e), ...opts });
    workers.push(w);
    return w;
  };
  const create = async (body: unknown) => (await call("POST", `${s.url}/resources`, { body })).json.id as string;
  const job = async (id: string) => (await call("GET", `${s.url}/resources/${id}`)).json;
  const ended = (id: string) => until(`job ${id} to end`, async () => ((await job(id)).status !== "IN PROGRESS" ? job(id) : undefined));

  beforeAll(async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { JOB_RETRY_BACKOFF_MS: "50" } });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    events.length = 0;
    expect(s.invalidResponses).toEqual([]);
  });
  afterAll(() => s.close());

  it("does jobs end to end: takes them, reports progress, stores the results", async () => {
    const progressSeen = new Set<number>();
    start({
      names: ["e2e"],
      concurrency: 3,
      handler: async (task, { progress }) => {
        for (const p of [25, 50, 75]) {
          await progress(p);
          progressSeen.add((await job(task.id)).progress);
        }
        return { doubled: (task.input as { n: number }).n * 2 };
      },
    });
    const ids = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => create({ name: "e2e", input: { n } })));
    for (const [i, id] of ids.entries()) {
      const j = await ended(id);
      expect(j).toMatchObject({ status: "SUCCESS", attempts: 1, progress: 75, result: { doubled: (i + 1) * 2 } });
    }
    expect([...progressSeen].sort()).toEqual([25, 50, 75]);
    expect(events.filter((e) => e.type === "succeeded")).toHaveLength(7);
  });

  it("runs thousands of jobs without piling up listeners or timers", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      let done = 0;
      start({ names: ["many"], handler: () => null, onEvent: (e) => e.type === "succeeded" && done++ });
      const N = 2000;
      for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: 100 }, () => create({ name: "many" })));
      await until(`${N} jobs done`, () => done >= N, 60_000);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toEqual([]);
  }, 90_000);

  it("a thrown error is retried; a PermanentJobError fails the job at once", async () => {
    start({
      names: ["flaky", "fatal"],
      handler: (task) => {
        if (task.name === "fatal") throw new PermanentJobError("cannot ever work", "urn:x:bad-input", "field x is missing");
        if (task.attempt < 3) throw new Error(`try ${task.attempt} failed`);
        return "third time lucky";
      },
    });
    const flaky = await create({ name: "flaky", maxAttempts: 5 });
    const fatal = await create({ name: "fatal", maxAttempts: 5 });
    expect(await ended(flaky)).toMatchObject({ status: "SUCCESS", attempts: 3, result: "third time lucky" });
    expect(await ended(fatal)).toMatchObject({ status: "FAILED", attempts: 1, error: { type: "urn:x:bad-input", title: "cannot ever work", detail: "field x is missing" } });
    const failures = events.filter((e): e is Extract<WorkerEvent, { type: "failed" }> => e.type === "failed");
    expect(failures.map((f) => [f.task.name, f.retryable])).toEqual(expect.arrayContaining([["flaky", true], ["flaky", true], ["fatal", false]]));
  });

  it("cancelling a running job aborts the handler's signal within one heartbeat interval", async () => {
    const leaseSeconds = 6; // heartbeat every 2 s
    let abortedAt = 0;
    let reason: unknown;
    start({
      names: ["cancel-me"],
      leaseSeconds,
      handler: (_task, { signal }) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener("abort", () => {
            abortedAt = performance.now();
            reason = signal.reason;
            reject(signal.reason);
          }),
        ),
    });
    const id = await create({ name: "cancel-me" });
    await until("the job to be taken", async () => (await job(id)).attempts === 1);
    await sleep(300);
    const cancelledAt = performance.now();
    expect((await call("DELETE", `${s.url}/resources/${id}`)).status).toBe(200);
    await until("the handler to be aborted", () => abortedAt > 0, 10_000);
    expect(reason).toBeInstanceOf(JobCancelledError);
    expect(abortedAt - cancelledAt).toBeLessThanOrEqual((leaseSeconds / 3) * 1000 + 250);
    await until("the cancelled event", () => events.some((e) => e.type === "cancelled"));
    expect((await job(id)).status).toBe("CANCELLED");
  });

  it("a worker whose heartbeats do not get through loses the lease: its handler is aborted, another worker finishes the job", async () => {
    let reason: unknown;
    const dropHeartbeats: typeof fetch = async (input, init) => {
      if (init?.method === "PUT") throw new TypeError("network down");
      return fetch(input, init);
    };
    const cutOff = start({
      names: ["isolated"],
      leaseSeconds: 5,
      fetch: dropHeartbeats,
      worker: "cut-off",
      handler: (_task, { signal }) => new Promise((_r, reject) => signal.addEventListener("abort", () => ((reason = signal.reason), reject(signal.reason)))),
    });
    const id = await create({ name: "isolated" });
    await until("the cut-off worker to take it", async () => (await job(id)).attempts === 1);
    const stopped = cutOff.stop(); // takes nothing more; waits for its handler
    await until("the cut-off worker to give up its lease", () => reason !== undefined, 10_000);
    expect(reason).toBeInstanceOf(LeaseLostError);
    await stopped;
    expect(events.map((e) => e.type)).toContain("lease-lost");
    start({ names: ["isolated"], worker: "healthy", handler: () => "done by the healthy one" });
    expect(await ended(id)).toMatchObject({ status: "SUCCESS", attempts: 2, result: "done by the healthy one" });
  }, 30_000);

  it("stop() takes no more jobs and lets the running one finish", async () => {
    let release!: () => void;
    const w = start({ names: ["graceful"], handler: () => new Promise<string>((r) => (release = () => r("finished while stopping"))) });
    const id = await create({ name: "graceful" });
    await until("the job to be taken", async () => (await job(id)).attempts === 1);
    const stopped = w.stop();
    const later = await create({ name: "graceful" });
    await sleep(200);
    release();
    await stopped;
    expect(await job(id)).toMatchObject({ status: "SUCCESS", result: "finished while stopping" });
    expect(await job(later)).toMatchObject({ status: "IN PROGRESS", attempts: 0 });
  });

  it("a job still running when the shutdown time is up is given back at once, its attempt not counted", async () => {
    const w = start({ names: ["stubborn"], shutdownTimeoutMs: 300, handler: () => new Promise(() => {}) });
    const id = await create({ name: "stubborn", maxAttempts: 1 });
    await until("the job to be taken", async () => (await job(id)).attempts === 1);
    await w.stop();
    expect(events.map((e) => e.type)).toContain("released");
    expect(await job(id)).toMatchObject({ status: "IN PROGRESS", attempts: 0 });
    const r = await call("POST", `${s.url}/tasks/claim`, { body: { worker: "next", names: ["stubborn"] } });
    expect(r.json.tasks.map((t: { id: string; attempt: number }) => [t.id, t.attempt])).toEqual([[id, 1]]);
  });
  /** A fetch that records each request's method and path, and may answer some itself. */
  const recording = (requests: string[], answer?: (method: string, path: string) => Response | undefined): typeof fetch =>
    (input, init) => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      const method = init?.method ?? "GET";
      requests.push(`${method} ${url.pathname}`);
      return Promise.resolve(answer?.(method, url.pathname) ?? fetch(input, init));
    };

  it("sends the outcomes of jobs that end together in one request; each job then holds what its handler returned", async () => {
    const ids = await Promise.all(Array.from({ length: 64 }, (_, i) => create({ name: "together", input: { i } })));
    const requests: string[] = [];
    start({ names: ["together"], concurrency: 16, fetch: recording(requests), handler: (task) => ({ doubled: (task.input as { i: number }).i * 2 }) });
    for (const [i, id] of ids.entries()) {
      await ended(id);
      expect((await call("GET", `${s.url}/resources/${id}/result`)).json).toEqual({ doubled: i * 2 });
    }
    const singles = requests.filter((r) => r.startsWith("PUT /tasks/")).length;
    const batches = requests.filter((r) => r === "POST /tasks/outcomes").length;
    expect(batches).toBeGreaterThan(0);
    // 64 outcomes in far fewer requests than one each (a claim hands out up to 16 at once).
    expect(singles + batches).toBeLessThanOrEqual(16);
    expect(events.filter((e) => e.type === "succeeded")).toHaveLength(64);
  });

  it("against a server without the batch operation, reports each job on its own", async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => create({ name: "older", input: { i } })));
    const requests: string[] = [];
    const older = (method: string, path: string) =>
      method === "POST" && path === "/tasks/outcomes" ? new Response(JSON.stringify({ title: "Not Found", status: 404 }), { status: 404, headers: { "content-type": "application/problem+json" } }) : undefined;
    start({ names: ["older"], concurrency: 10, fetch: recording(requests, older), handler: (task) => (task.input as { i: number }).i });
    for (const [i, id] of ids.entries()) {
      await ended(id);
      expect((await call("GET", `${s.url}/resources/${id}/result`)).json).toBe(i);
    }
    // Tried once, then not again.
    expect(requests.filter((r) => r === "POST /tasks/outcomes")).toHaveLength(1);
    expect(requests.filter((r) => r.startsWith("PUT /tasks/")).length).toBeGreaterThanOrEqual(20);
  });
});
