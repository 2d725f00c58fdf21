// Fair share between clients over real HTTP, on both stores: client A enqueues a backlog, then
// client B a few jobs; workers taking one job at a time finish B's jobs in turn with A's (A's
// 1st, B's 1st, A's 2nd, ...), not after A's backlog; each client's own jobs keep their order;
// priorities still come first.
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const keys = writeKeys({ a: "client", b: "client", c: "client", w: "worker" });
type Who = "a" | "b" | "c";

describe.each(STORE_KINDS)("fair share (%s)", (kind) => {
  let s: TestServer;
  afterAll(() => s?.close());
  const create = async (who: Who, name: string, n: number, extra: Record<string, unknown> = {}) => {
    const ids: string[] = [];
    // In order, a few at a time (a client's jobs keep the order they were created in).
    for (let i = 0; i < n; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, n - i) }, (_, k) => call("POST", `${s.url}/resources`, { body: { name, input: { i: i + k }, ...extra }, headers: keys.auth[who] })),
      );
      for (const r of batch) {
        expect(r.status).toBe(202);
        ids.push(r.json.id);
      }
    }
    return ids;
  };
  /** Workers taking one job at a time until the queue is empty; the ids in the order they finished. */
  const drain = async (name: string, workers: number) => {
    const done: string[] = [];
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (;;) {
          const r = await call("POST", `${s.url}/tasks/claim`, { body: { worker: `w${w}`, names: [name] }, headers: keys.auth.w });
          const [t] = r.json.tasks as { id: string; leaseToken: string }[];
          if (!t) return;
          await call("PUT", `${s.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status: "SUCCESS" }, headers: keys.auth.w });
          done.push(t.id);
        }
      }),
    );
    return done;
  };

  it("a client arriving after another's backlog of 2,000 is served in turn, not after it", async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file } });
    await create("a", "render", 2000);
    const b = await create("b", "render", 50);
    const done = await drain("render", 8);
    expect(done).toHaveLength(2050);
    const lastB = Math.max(...b.map((id) => done.indexOf(id)));
    // 50 of B's and about as many of A's, with the slack of 8 workers finishing out of order.
    expect(lastB, `B's last job finished ${lastB + 1}th`).toBeLessThan(120);
    expect(s.invalidResponses).toEqual([]);
  });

  it("rounds over three clients; priorities come first; one client alone is first come, first served", async () => {
    const a = await create("a", "mix", 30);
    const b = await create("b", "mix", 30);
    const urgent = await create("c", "mix", 5, { priority: 9 });
    const c = await create("c", "mix", 30);
    const order = await drain("mix", 1);
    expect(order.slice(0, 5)).toEqual(urgent);
    // Then A, B and C take turns: in every 3 consecutive jobs after the first rounds, one each.
    const owner = (id: string) => (a.includes(id) ? "a" : b.includes(id) ? "b" : c.includes(id) ? "c" : "?");
    const rounds = order.slice(5, 5 + 60).map(owner);
    for (let i = 0; i < rounds.length; i += 3) expect(new Set(rounds.slice(i, i + 3)).size, rounds.join("")).toBe(3);
    // Each client's own in creation order.
    for (const ids of [a, b, c]) expect(order.filter((id) => ids.includes(id))).toEqual(ids);

    const alone = await create("a", "solo", 40);
    expect(await drain("solo", 1)).toEqual(alone);
  });
});
