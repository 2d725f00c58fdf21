// POST /tasks/outcomes: many jobs' updates in one request, each under its own lease fence and
// answered on its own, on every store. What each answer says must agree with what the jobs
// then are: a polled job shows the result or error it was sent, a refused outcome changed
// nothing, and a stale worker's outcome never lands on a job another worker now holds.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/jobs/clock.js";
import { call } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("batched task outcomes on %s", (kind) => {
  let s: TestServer;
  let clock: ManualClock;
  afterEach(() => s?.close());
  const start = async () => {
    clock = new ManualClock();
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), clock });
  };
  const create = async (name = "job") => (await call("POST", `${s.url}/resources`, { body: { name, input: { n: 1 } } })).json.id as string;
  const claim = async (max: number, worker = "w1") =>
    (await call("POST", `${s.url}/tasks/claim`, { body: { worker, max, leaseSeconds: 30 } })).json.tasks as { id: string; leaseToken: string; attempt: number }[];
  const outcomes = (list: unknown[]) => call("POST", `${s.url}/tasks/outcomes`, { body: { outcomes: list } });
  const job = async (id: string) => (await call("GET", `${s.url}/admin/jobs/${id}`)).json;

  it("applies each outcome under its own lease and answers each, in order; the jobs then read back as sent", async () => {
    await start();
    const ids = [await create(), await create(), await create(), await create(), await create(), await create()];
    const tasks = await claim(6);
    expect(tasks.map((t) => t.id).sort()).toEqual([...ids].sort());
    const [a, b, c, d, e, f] = tasks as [(typeof tasks)[0], (typeof tasks)[0], (typeof tasks)[0], (typeof tasks)[0], (typeof tasks)[0], (typeof tasks)[0]];
    const r = await outcomes([
      { id: a.id, leaseToken: a.leaseToken, status: "SUCCESS", result: { url: "https://x.example/a", bytes: [1, 2, 3] } },
      { id: b.id, leaseToken: b.leaseToken, status: "FAILED", error: { type: "urn:x:bad-input", title: "bad input", detail: "row 7" } },
      { id: c.id, leaseToken: c.leaseToken, status: "FAILED", retryable: true, error: { title: "timeout" } },
      { id: d.id, leaseToken: "not-the-token", status: "SUCCESS" },
      { id: e.id, leaseToken: e.leaseToken, status: "SUCCESS", error: { title: "both" } },
      { id: f.id, leaseToken: f.leaseToken, progress: 40 },
    ]);
    expect(r.status, r.text).toBe(200);
    const results = r.json.results as { id: string; status: number; updated?: Record<string, string>; problem?: { type?: string; detail?: string; errors?: unknown } }[];
    expect(results.map((x) => [x.id, x.status])).toEqual([
      [a.id, 200],
      [b.id, 200],
      [c.id, 200],
      [d.id, 409],
      [e.id, 400],
      [f.id, 200],
    ]);
    expect(results[0]!.updated).toEqual({ status: "UPDATED" });
    expect(results[2]!.updated!["retryAt"]).toEqual(expect.any(String));
    expect(results[3]!.problem!.type).toBe("urn:async-api:lease-mismatch");
    expect(JSON.stringify(results[4]!.problem)).toContain("body/outcomes/4/error");
    expect(results[5]!.updated!["leaseExpiresAt"]).toEqual(expect.any(String));
    // Read back: each job is what its outcome said, the refused ones unchanged.
    expect(await job(a.id)).toMatchObject({ status: "SUCCESS" });
    expect((await call("GET", `${s.url}/resources/${a.id}/result`)).json).toEqual({ url: "https://x.example/a", bytes: [1, 2, 3] });
    expect(await job(b.id)).toMatchObject({ status: "FAILED", error: { type: "urn:x:bad-input", title: "bad input", detail: "row 7" } });
    expect(await job(c.id)).toMatchObject({ status: "IN PROGRESS", attempts: 1 });
    expect(await job(d.id)).toMatchObject({ status: "IN PROGRESS", attempts: 1 });
    expect(await job(e.id)).toMatchObject({ status: "IN PROGRESS" });
    expect(await job(f.id)).toMatchObject({ status: "IN PROGRESS", progress: 40 });
    // The refused ones can still be finished by their holder, alone.
    expect((await outcomes([{ id: d.id, leaseToken: d.leaseToken, status: "SUCCESS" }, { id: e.id, leaseToken: e.leaseToken, status: "SUCCESS" }])).json.results.map((x: { status: number }) => x.status)).toEqual([200, 200]);
    expect(s.invalidResponses).toEqual([]);
  });

  it("a stale worker's outcome in a batch is refused, the job's new holder is not disturbed, the rest land", async () => {
    await start();
    const first = await create();
    const second = await create();
    const [stale] = await claim(1, "slow");
    expect(stale!.id).toBe(first);
    // Its lease on `first` runs out and another worker takes it; the slow worker then takes `second`.
    clock.advance(31_000);
    const [retaken] = await claim(1, "fast");
    expect(retaken!.id).toBe(first);
    const [fresh] = await claim(1, "slow");
    expect(fresh!.id).toBe(second);
    const r = await outcomes([
      { id: stale!.id, leaseToken: stale!.leaseToken, status: "SUCCESS", result: "stale" },
      { id: fresh!.id, leaseToken: fresh!.leaseToken, status: "SUCCESS", result: "late but fine" },
    ]);
    expect(r.json.results.map((x: { status: number }) => x.status)).toEqual([409, 200]);
    expect(await job(first)).toMatchObject({ status: "IN PROGRESS", attempts: 2 });
    expect((await call("GET", `${s.url}/resources/${second}/result`)).json).toBe("late but fine");
    expect((await outcomes([{ id: first, leaseToken: retaken!.leaseToken, status: "SUCCESS", result: "fast" }])).json.results[0].status).toBe(200);
    expect((await call("GET", `${s.url}/resources/${first}/result`)).json).toBe("fast");
  });

  it("refuses a batch that is not one, naming the field; an unknown job is answered 404 on its own", async () => {
    await start();
    const id = await create();
    const [t] = await claim(1);
    const twice = await outcomes([
      { id, leaseToken: t!.leaseToken, status: "SUCCESS" },
      { id, leaseToken: t!.leaseToken, status: "FAILED" },
    ]);
    expect(twice.status).toBe(400);
    expect(twice.headers.get("content-type")).toContain("application/problem+json");
    expect(twice.text).toContain("body/outcomes/1/id");
    const noToken = await outcomes([{ id, status: "SUCCESS" }]);
    expect(noToken.status).toBe(400);
    expect(noToken.text).toContain("leaseToken");
    expect((await outcomes([])).status).toBe(400);
    expect((await outcomes(Array.from({ length: 101 }, (_, i) => ({ id: `j${i}`, leaseToken: "t" })))).status).toBe(400);
    // Nothing was applied by the refused batches.
    expect(await job(id)).toMatchObject({ status: "IN PROGRESS" });
    const mixed = await outcomes([
      { id: "no-such-job", leaseToken: "t", status: "SUCCESS" },
      { id, leaseToken: t!.leaseToken, status: "SUCCESS" },
    ]);
    expect(mixed.json.results.map((x: { status: number }) => x.status)).toEqual([404, 200]);
    expect(s.invalidResponses).toEqual([]);
  });
});
