// The generated typed client and waitForJob against the running service.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, UnexpectedResponseError } from "../../generated/index.js";
import { JobNotFoundError, waitForJob } from "../../src/client/wait-for-job.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let s: TestServer;
let client: ApiClient;

beforeAll(async () => {
  s = await startTestServer({ env: { RETRY_AFTER_SECONDS: "1" } });
  client = new ApiClient({ baseUrl: s.url });
});
afterAll(() => s.close());
afterEach(() => expect(s.invalidResponses).toEqual([]));

describe("typed client", () => {
  it("walks the lifecycle with typed, discriminated answers", async () => {
    const created = await client.createJob({ params: {}, body: { name: "typed" }, headers: { "idempotency-key": "client-1" } });
    expect(created.status).toBe(202);
    if (created.status !== 202) throw new Error("unreachable");
    expect(created.headers).toEqual({ Location: `/resources/${created.body.id}`, "Retry-After": 1 });
    const id = created.body.id;
    const running = await client.getJob({ params: { id } });
    expect(running).toMatchObject({ status: 200, headers: { "Retry-After": 1 }, body: { id, status: "IN PROGRESS" } });
    expect((await client.updateTask({ params: { id }, body: { result: [1, 2] } })).status).toBe(200);
    const done = await client.getJob({ params: { id } });
    expect(done).toMatchObject({ status: 303, headers: { Location: `/resources/${id}/result` } });
    expect(await client.getJobResult({ params: { id } })).toMatchObject({ status: 200, body: [1, 2] });
    const list = await client.listJobs({ params: {}, query: { limit: 1 } });
    expect(list.status).toBe(200);
    if (list.status === 200) expect(list.body.tasks).toHaveLength(1);
    const bad = await client.listJobs({ params: {}, query: { limit: 0 } });
    expect(bad.status).toBe(400);
  });

  it("throws on a status the spec does not declare", async () => {
    const stray = new ApiClient({ baseUrl: s.url, fetch: async () => new Response("teapot", { status: 418 }) });
    await expect(stray.getJob({ params: { id: "x" } })).rejects.toBeInstanceOf(UnexpectedResponseError);
  });
});

describe("waitForJob", () => {
  it("honours Retry-After, follows the 303 and returns the result", async () => {
    const id = ((await client.createJob({ params: {}, body: { name: "wait" } })) as { body: { id: string } }).body.id;
    let polls = 0;
    const counting = new ApiClient({ baseUrl: s.url, fetch: (input, init) => (String(input).endsWith(`/resources/${id}`) && polls++, fetch(input, init)) });
    const started = Date.now();
    setTimeout(() => void client.updateTask({ params: { id }, body: { result: "ok" } }), 1500);
    const outcome = await waitForJob(counting, id, { timeout: 10_000 });
    expect(outcome).toMatchObject({ status: "SUCCESS", result: "ok", job: { id, status: "SUCCESS" } });
    // Retry-After: 1 means about one poll a second, not a busy loop.
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(polls).toBeLessThanOrEqual(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  });

  it("stops at FAILED and CANCELLED", async () => {
    const failed = ((await client.createJob({ params: {} })) as { body: { id: string } }).body.id;
    await client.updateTask({ params: { id: failed }, body: { status: "FAILED", error: { title: "no" } } });
    expect(await waitForJob(client, failed)).toMatchObject({ status: "FAILED", job: { error: { title: "no" } } });
    const cancelled = ((await client.createJob({ params: {} })) as { body: { id: string } }).body.id;
    await client.cancelJob({ params: { id: cancelled } });
    expect((await waitForJob(client, cancelled)).status).toBe("CANCELLED");
    await expect(waitForJob(client, "no-such-job")).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it("can be aborted, and times out", async () => {
    const id = ((await client.createJob({ params: {} })) as { body: { id: string } }).body.id;
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop")), 200);
    await expect(waitForJob(client, id, { signal: ac.signal })).rejects.toThrow("stop");
    await expect(waitForJob(client, id, { timeout: 300 })).rejects.toThrow(/timeout|aborted/i);
  });
});
