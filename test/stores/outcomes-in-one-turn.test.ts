// Workers' outcomes that arrive together on PostgreSQL share one statement and one commit
// (pg-writes.ts), each under its own lease. A batch that fails falls back to each outcome on
// its own, which keeps the answers right and hides the failure: from 6a01bd2 every batch was
// a syntax error (`to` and `end` are reserved words) and every outcome cost a failed statement
// and one of its own. So this counts the statements and the errors, not only the answers.
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobStore, NewJob } from "../../src/jobs/store.js";
import { openStore } from "../../src/stores.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const now = Date.parse("2030-01-01T00:00:00Z");
const end = new Date(now + 1000).toISOString();
const job = (id: string): NewJob => ({ id, owner: "amy", request: { name: "n" }, name: "n", start: new Date(now).toISOString(), deadlineAt: now + 60_000 });

/** Every statement this process sends, and how it ended. */
const sent: { text: string; error?: string }[] = [];
const query = pg.Client.prototype.query;
beforeEach(() => {
  sent.length = 0;
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, values?: unknown, cb?: unknown) {
    const entry: { text: string; error?: string } = { text: typeof config === "string" ? config : String((config as { text?: string }).text) };
    sent.push(entry);
    const wrap = (f: (e: Error | undefined, r: unknown) => void) => (e: Error | undefined, r: unknown) => {
      if (e) entry.error = e.message;
      f(e, r);
    };
    const call = (...args: unknown[]) => Reflect.apply(query, this, args) as unknown;
    if (typeof cb === "function") return call(config, values, wrap(cb as never));
    if (typeof values === "function") return call(config, wrap(values as never));
    const p = call(config, values) as Promise<unknown>;
    return p.catch((e: Error) => {
      entry.error = e.message;
      throw e;
    });
  } as never;
});
afterEach(() => {
  pg.Client.prototype.query = query;
});

describe.skipIf(!PG_URL)("outcomes in one turn on postgres", () => {
  it("go as one statement, each under its own lease and answered on its own", async () => {
    const store: JobStore = await openStore({ databaseUrl: freshDatabaseUrl("postgres"), sqliteSynchronous: "NORMAL" });
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `j${i}`);
      for (const id of ids) await store.create(job(id));
      const taken = await store.claim({ now, worker: "w", leaseMs: 30_000, tokens: ids.map((id) => `token-${id}`) });
      expect(taken).toHaveLength(6);
      const tokenOf = new Map(taken.map((j) => [j.id, j.lease!.token]));
      sent.length = 0;
      // The first goes at once (nothing is being written); the others arrive meanwhile and go together.
      const answers = await Promise.all(
        ids.map((id, i) =>
          store.end(
            id,
            i === 3 ? { to: "FAILED", end, error: { type: "urn:test:broke", title: "broke" } } : { to: "SUCCESS", end, result: { n: i } },
            { kind: "lease", token: i === 5 ? "not-the-lease" : tokenOf.get(id)!, now: now + 1000 },
          ),
        ),
      );
      expect(sent.filter((s) => s.error)).toEqual([]);
      const ends = sent.filter((s) => /ended AS \(\s*UPDATE jobs/.test(s.text));
      expect(ends).toHaveLength(2);
      expect(ends.filter((s) => s.text.includes("unnest("))).toHaveLength(1);

      expect(answers.map((a) => a.kind)).toEqual(["applied", "applied", "applied", "applied", "applied", "lost"]);
      // What each answer says is what is stored.
      for (const [i, id] of ids.entries()) {
        const stored = (await store.get(id))!;
        if (i === 3) expect(stored).toMatchObject({ status: "FAILED", error: { type: "urn:test:broke", title: "broke" } });
        else if (i === 5) expect(stored).toMatchObject({ status: "IN PROGRESS", lease: { token: tokenOf.get(id) } });
        else expect(stored).toMatchObject({ status: "SUCCESS", result: { n: i } });
      }
    } finally {
      await store.close();
    }
  });
});
