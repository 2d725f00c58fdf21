// A PostgreSQL store's write that the database rolls back to break a deadlock is run again,
// not answered as a failure: a create with dependencies locks its parents while a batch of
// outcomes ends them, and the two can meet in opposite orders (CI saw a 500 for it). Each case
// builds the deadlock by hand: a second session holds one row the store's write needs, then
// asks for one the write holds. That session waits longer before looking for deadlocks, so
// the store's write is the one PostgreSQL picks to roll back; the second session getting its
// row while it still holds the first shows the write's first try was rolled back.
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { JobStore, NewJob } from "../../src/jobs/store.js";
import { openStore } from "../../src/stores.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const now = Date.parse("2030-01-01T00:00:00Z");
const job = (id: string, dependsOn?: string[]): NewJob => ({
  id,
  owner: "amy",
  request: { name: "n" },
  name: "n",
  start: new Date(now).toISOString(),
  deadlineAt: now + 60_000,
  ...(dependsOn ? { dependsOn: { ids: dependsOn, onFailure: "cancel" as const } } : {}),
});

async function withStore(test: (store: JobStore, other: pg.Client) => Promise<void>): Promise<void> {
  const url = freshDatabaseUrl("postgres");
  const store = await openStore({ databaseUrl: url, sqliteSynchronous: "NORMAL" });
  const other = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${new URL(url).searchParams.get("schema")}` });
  await other.connect();
  try {
    // The store's backend looks for a deadlock after the server's deadlock_timeout (1 s); this one later.
    await other.query("SET deadlock_timeout = '20s'");
    await test(store, other);
  } finally {
    await other.query("ROLLBACK").catch(() => {});
    await other.end();
    await store.close();
  }
}

/** Resolves once some other backend is waiting for a row lock with a statement matching `like`. */
async function waitingOnLock(other: pg.Client, like: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    // Inside a transaction the activity view is read once and kept; read it afresh.
    await other.query("SELECT pg_stat_clear_snapshot()");
    const r = await other.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND query LIKE $1", [like]);
    if (r.rowCount) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no backend came to wait on a lock with ${like}`);
}

describe.skipIf(!PG_URL)("a deadlock's victim on postgres", () => {
  it("a create with dependencies is run again and answered as created, linked once", async () => {
    await withStore(async (store, other) => {
      await store.create(job("a"));
      await store.create(job("b"));
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM jobs WHERE id = 'b' FOR UPDATE");
      // The create locks a, then waits for b.
      const created = store.create(job("c", ["a", "b"]));
      await waitingOnLock(other, "%FOR NO KEY UPDATE%");
      // This session asks for a: the cycle. The create is rolled back, a is free, this gets it.
      await other.query("SELECT 1 FROM jobs WHERE id = 'a' FOR UPDATE");
      await other.query("COMMIT");
      expect((await created).kind).toBe("created");
      const links = await other.query("SELECT parent_id FROM job_deps WHERE child_id = 'c' ORDER BY parent_id");
      expect(links.rows.map((r) => r.parent_id)).toEqual(["a", "b"]);
      expect(await store.get("c")).toMatchObject({ status: "IN PROGRESS", dependsOn: ["a", "b"], waitingFor: 2 });
    });
  });

  it("an outcome on its own is run again and applied once, its dependant counted down once", async () => {
    await withStore(async (store, other) => {
      await store.create(job("a"));
      await store.create(job("c", ["a"]));
      const [taken] = await store.claim({ now, worker: "w", leaseMs: 30_000, tokens: ["t"] });
      expect(taken?.id).toBe("a");
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM jobs WHERE id = 'c' FOR UPDATE");
      // The outcome updates a, then its trigger waits for c.
      const ended = store.end("a", { to: "SUCCESS", end: new Date(now + 1000).toISOString(), result: { ok: true } }, { kind: "lease", token: "t", now: now + 1000 });
      await waitingOnLock(other, "%UPDATE jobs%");
      await other.query("SELECT 1 FROM jobs WHERE id = 'a' FOR UPDATE");
      await other.query("COMMIT");
      expect((await ended).kind).toBe("applied");
      expect(await store.get("a")).toMatchObject({ status: "SUCCESS", result: { ok: true } });
      // Counted down once: a second count would have gone below zero.
      expect((await other.query("SELECT status, blockers FROM jobs WHERE id = 'c'")).rows).toEqual([{ status: "IN PROGRESS", blockers: 0 }]);
    });
  });
});
