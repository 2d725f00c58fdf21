// Claims asked for in the same turn of the event loop: on SQLite they share the turn's
// transaction with the other writes (group commit), on PostgreSQL each is its own statement.
// Either way no job may be handed out twice and none may be left leased to nobody.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteJobStore } from "../../src/jobs/sqlite-store.js";
import type { ClaimQuery, JobStore, NewJob } from "../../src/jobs/store.js";
import { openStore } from "../../src/stores.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const now = Date.parse("2030-01-01T00:00:00Z");
const job = (id: string): NewJob => ({ id, owner: "amy", request: { name: "n" }, name: "n", start: new Date(now).toISOString(), deadlineAt: now + 60_000 });
let tokens = 0;
const claim = (worker: string, max: number): ClaimQuery => ({ now, worker, leaseMs: 30_000, tokens: Array.from({ length: max }, () => `token-${tokens++}`) });

describe.each(STORE_KINDS)("claims in one turn on %s", (kind) => {
  it("hand out each job once: 30 claims for 10 jobs", async () => {
    const store: JobStore = await openStore({ databaseUrl: freshDatabaseUrl(kind), sqliteSynchronous: "NORMAL" });
    try {
      for (let i = 0; i < 10; i++) await store.create(job(`j${i}`));
      const results = await Promise.all([
        ...Array.from({ length: 25 }, (_, i) => store.claim(claim(`w${i}`, 1))),
        ...Array.from({ length: 5 }, (_, i) => store.claim(claim(`v${i}`, 3))),
      ]);
      const taken = results.flat();
      expect(taken.map((j) => j.id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `j${i}`).sort());
      expect(new Set(taken.map((j) => j.lease!.token)).size).toBe(10);
      for (const j of taken) expect((await store.get(j.id))!.lease!.token).toBe(j.lease!.token);
    } finally {
      await store.close();
    }
  });
});

describe("a claim that fails on SQLite", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "claims-turn-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  async function withStore(faults: string, run: (store: SqliteJobStore) => Promise<void>): Promise<void> {
    const file = path.join(dir, `jobs-${n++}.db`);
    const store = new SqliteJobStore(file);
    try {
      await store.create(job("a"));
      await store.create(job("b"));
      // From a second connection, as another process could.
      const db = new Database(file);
      db.exec(faults);
      db.close();
      await run(store);
    } finally {
      await store.close();
    }
  }

  it("at its first job fails alone; the turn's other writes are committed", async () => {
    await withStore(
      `CREATE TRIGGER no_take BEFORE UPDATE OF lease_token ON jobs WHEN NEW.worker = 'doomed' BEGIN SELECT RAISE(ABORT, 'take refused'); END;`,
      async (store) => {
        const [claimed, created] = await Promise.allSettled([store.claim(claim("doomed", 1)), store.create(job("c"))]);
        expect(claimed.status).toBe("rejected");
        expect(created.status).toBe("fulfilled");
        expect((await store.get("a"))!.lease).toBeUndefined();
        expect(await store.get("c")).toBeDefined();
      },
    );
  });

  it("after it took a job rolls the turn back: no job leased to a worker that was never told", async () => {
    await withStore(
      `CREATE TRIGGER no_second BEFORE UPDATE OF lease_token ON jobs WHEN NEW.worker = 'doomed' AND NEW.id = 'b' BEGIN SELECT RAISE(ABORT, 'take refused'); END;`,
      async (store) => {
        const [claimed, created] = await Promise.allSettled([store.claim(claim("doomed", 2)), store.create(job("c"))]);
        expect(claimed.status).toBe("rejected");
        expect(created.status).toBe("rejected");
        expect((await store.get("a"))!.lease).toBeUndefined();
        expect(await store.get("c")).toBeUndefined();
        // The queue goes on: another worker takes both.
        expect((await store.claim(claim("w", 2))).map((j) => j.id).sort()).toEqual(["a", "b"]);
      },
    );
  });
});
