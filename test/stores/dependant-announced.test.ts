// A job that waits for its parents is announced to waiting claims (long-polls, SDK workers)
// only once a worker may take it: when its last parent succeeds, or at once if every parent
// had already succeeded. Announced at creation, every waiting claim of its name woke, asked
// the database and found nothing to take (a fan-out of 200 dependants woke 16 waiting
// workers 3,200 times). A dependant cancelled at once (a parent had failed) is never announced.
// Announcements arrive in commit order, so a marker job created afterwards, once heard, shows
// that nothing was announced for what was created before it. A dependant created waiting is
// still announced as changed: live views (the dashboard's) hear of every new job.
import { afterAll, describe, expect, it } from "vitest";
import type { JobStore, NewJob } from "../../src/jobs/store.js";
import { openStore } from "../../src/stores.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const now = Date.parse("2030-01-01T00:00:00Z");
const job = (id: string, name: string, dependsOn?: string[]): NewJob => ({
  id,
  owner: "amy",
  request: { name },
  name,
  start: new Date(now).toISOString(),
  deadlineAt: now + 60_000,
  ...(dependsOn ? { dependsOn: { ids: dependsOn, onFailure: "cancel" as const } } : {}),
});

describe.each(STORE_KINDS)("a dependant announced (%s)", (kind) => {
  it("only once a worker may take it, and never when it was cancelled at once", async () => {
    const store: JobStore = await openStore({ databaseUrl: freshDatabaseUrl(kind), sqliteSynchronous: "NORMAL" });
    const heard: string[] = [];
    const changed: string[] = [];
    const offs = [store.onAvailable((name) => heard.push(name ?? "")), store.onChange((id) => changed.push(id))];
    const until = async (name: string) => {
      for (let i = 0; i < 300 && !heard.includes(name); i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard, `${name} was never announced`).toContain(name);
    };
    const end = async (id: string, name: string, to: "SUCCESS" | "FAILED") => {
      const [t] = await store.claim({ now, worker: "w", leaseMs: 30_000, tokens: [`t-${id}`], names: [name] });
      expect(t?.id).toBe(id);
      const r = await store.end(id, to === "SUCCESS" ? { to, end: new Date(now + 1).toISOString(), result: 1 } : { to, end: new Date(now + 1).toISOString(), error: { type: "urn:test:x", title: "x" } }, { kind: "lease", token: `t-${id}`, now: now + 1 });
      expect(r.kind).toBe("applied");
    };
    try {
      // PostgreSQL's listener connects beside the store: heard once a job created is heard.
      for (let i = 0; i < 100 && !heard.includes("warm"); i++) {
        await store.create(job(`w${i}`, "warm"));
        await new Promise((r) => setTimeout(r, 20));
      }
      await store.create(job("p", "parent"));
      await until("parent");

      // Its parent has not ended: not yet.
      expect((await store.create(job("d", "dep", ["p"]))).kind).toBe("created");
      await store.create(job("m1", "marker1"));
      await until("marker1");
      expect(heard).not.toContain("dep");
      expect(changed).toContain("d");

      // The parent succeeds: now.
      await end("p", "parent", "SUCCESS");
      await until("dep");

      // Every parent has already succeeded: at once.
      await store.create(job("d2", "dep2", ["p"]));
      await until("dep2");

      // A parent failed: cancelled at once, never announced.
      await store.create(job("f", "failing"));
      await end("f", "failing", "FAILED");
      await store.create(job("d3", "dep3", ["f"]));
      expect(await store.get("d3")).toMatchObject({ status: "CANCELLED" });
      await store.create(job("m2", "marker2"));
      await until("marker2");
      expect(heard).not.toContain("dep3");
      expect(changed).toContain("d3");
    } finally {
      for (const off of offs) off();
      await store.close();
    }
  });
});
