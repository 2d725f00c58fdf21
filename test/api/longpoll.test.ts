// Long-poll: GET /resources/{id} with `Prefer: wait=N` is held until the job changes or the
// time runs out; within one instance (SQLite) and across instances (PostgreSQL LISTEN/NOTIFY).
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { spawnServer } from "../helpers/process.js";
import { startTestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

/** `fn` after `ms`, as a promise the test awaits (a discarded one could fail after teardown). */
const later = <T>(ms: number, fn: () => Promise<T>): Promise<T> => new Promise<void>((r) => setTimeout(r, ms)).then(fn);

const timed = async <T>(p: Promise<T>): Promise<[T, number]> => {
  const t = Date.now();
  const v = await p;
  return [v, Date.now() - t];
};

describe("long-poll within one instance", () => {
  it("answers as soon as the job changes, and after the wait when it does not", async () => {
    const s = await startTestServer({ env: { LONG_POLL_MAX_SECONDS: "2" } });
    try {
      const id = (await call("POST", `${s.url}/resources`)).json.id;
      const put = later(300, () => call("PUT", `${s.url}/tasks/${id}`, { body: { result: 1 } }));
      const [done, ms] = await timed(call("GET", `${s.url}/resources/${id}`, { headers: { Prefer: "wait=10" } }));
      expect(done.status).toBe(303);
      expect((await put).status).toBe(200);
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(1500);
      // A progress update is a change too.
      const other = (await call("POST", `${s.url}/resources`)).json.id;
      const progress = later(200, () => call("PUT", `${s.url}/tasks/${other}`, { body: { progress: 50 } }));
      const [progressed] = await timed(call("GET", `${s.url}/resources/${other}`, { headers: { Prefer: "wait=10" } }));
      expect(progressed.json).toMatchObject({ status: "IN PROGRESS", progress: 50 });
      expect((await progress).status).toBe(200);
      // No change: held for the wait, capped by LONG_POLL_MAX_SECONDS (2 s here).
      const [still, held] = await timed(call("GET", `${s.url}/resources/${other}`, { headers: { Prefer: "wait=10" } }));
      expect(still.status).toBe(200);
      expect(held).toBeGreaterThanOrEqual(1900);
      expect(held).toBeLessThan(4000);
      // Without Prefer: answered at once.
      const [plain, fast] = await timed(call("GET", `${s.url}/resources/${other}`));
      expect(plain.status).toBe(200);
      expect(fast).toBeLessThan(1000);
      expect(s.invalidResponses).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe.skipIf(!PG_URL)("long-poll across instances (PostgreSQL LISTEN/NOTIFY)", () => {
  it("a poll held on one instance wakes when another instance completes the job", async () => {
    const db = freshDatabaseUrl("postgres");
    const [a, b] = await Promise.all([spawnServer({ DATABASE_URL: db }), spawnServer({ DATABASE_URL: db })]);
    try {
      const id = (await call("POST", `${a.url}/resources`)).json.id;
      const put = later(400, () => call("PUT", `${b.url}/tasks/${id}`));
      const [done, ms] = await timed(call("GET", `${a.url}/resources/${id}`, { headers: { Prefer: "wait=20" } }));
      expect(done.status).toBe(303);
      expect(ms).toBeLessThan(3000);
      // The poll can wake (through NOTIFY) before b's answer reaches the test: wait for it.
      expect((await put).status).toBe(200);
    } finally {
      a.child.kill("SIGKILL");
      b.child.kill("SIGKILL");
    }
  });
});
