// The state machine under many parallel clients: random interleavings of cancel, complete,
// fail and progress updates on the same jobs. Afterwards each job is in exactly one terminal
// state, every successful terminal request asked for that state, and `end` was set once.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, type Reply } from "../helpers/http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

type Op = "cancel" | "complete" | "fail" | "progress";
const TARGET: Record<Exclude<Op, "progress">, string> = { cancel: "CANCELLED", complete: "SUCCESS", fail: "FAILED" };

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("concurrent transitions on %s", (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind) });
  });
  afterAll(() => s.close());

  it("every job ends exactly once, in one terminal state, with end set once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<Op>("cancel", "complete", "fail", "progress"), { minLength: 4, maxLength: 24 }), async (ops) => {
        const id = (await call("POST", `${s.url}/resources`, { body: { name: "race" } })).json.id as string;
        const send = (op: Op, i: number): Promise<Reply> => {
          if (op === "cancel") return call("DELETE", `${s.url}/resources/${id}`);
          if (op === "complete") return call("PUT", `${s.url}/tasks/${id}`, { body: { status: "SUCCESS", result: i } });
          if (op === "fail") return call("PUT", `${s.url}/tasks/${id}`, { body: { status: "FAILED", error: { title: `e${i}` } } });
          return call("PUT", `${s.url}/tasks/${id}`, { body: { progress: i % 101 } });
        };
        const replies = await Promise.all(ops.map((op, i) => send(op, i)));
        const final = (await s.store.get(id))!;
        const terminalOps = ops.map((op, i) => [op, replies[i]] as const).filter(([op]) => op !== "progress");
        if (terminalOps.length) {
          expect(final.status).not.toBe("IN PROGRESS");
          for (const [op, r] of terminalOps) {
            // 200 only for requests asking for the state the job ended in, 409 for the rest.
            expect(r!.status).toBe(TARGET[op as keyof typeof TARGET] === final.status ? 200 : 409);
          }
        } else expect(final.status).toBe("IN PROGRESS");
        for (const r of replies) expect([200, 409]).toContain(r.status);
        // Every view of the ended job shows the same, single end.
        const ends = new Set(replies.filter((r) => r.status === 200 && r.json?.end).map((r) => r.json.end));
        ends.add(final.end);
        expect(ends.size).toBe(1);
        if (final.status === "SUCCESS") expect(terminalOps.some(([op, r]) => op === "complete" && r!.status === 200)).toBe(true);
      }),
      { numRuns: 60 },
    );
    expect(s.invalidResponses).toEqual([]);
  });
});
