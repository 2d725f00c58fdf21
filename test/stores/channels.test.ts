// Deployments sharing one PostgreSQL database, one schema each: channels belong to the database,
// so each deployment announces on its own (pg-announce.ts). An instance hears its own
// deployment's changes, from its statements and from the dependencies' trigger, and nothing
// of another's.
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/stores.js";
import type { JobStore } from "../../src/jobs/store.js";
import { channelsOf } from "../../src/jobs/pg-announce.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("channels", () => {
  it("are the plain names in public, the schema's own elsewhere, within 63 bytes", () => {
    expect(channelsOf("public")).toEqual({ changed: "job_changed", available: "job_available" });
    expect(channelsOf("tenant_a")).toEqual({ changed: "job_changed_tenant_a", available: "job_available_tenant_a" });
    const long = channelsOf("s".repeat(63));
    expect(long.available.length).toBeLessThanOrEqual(63);
    expect(long).not.toEqual(channelsOf(`${"s".repeat(62)}t`));
  });

  it.skipIf(!PG_URL)("each deployment hears its own changes and not another's", async () => {
    const a = freshDatabaseUrl("postgres");
    const b = freshDatabaseUrl("postgres");
    const stores: JobStore[] = [];
    const open = async (url: string) => {
      const s = await openStore({ databaseUrl: url, sqliteSynchronous: "NORMAL" });
      stores.push(s);
      const heard = { changed: [] as string[], available: [] as string[] };
      s.onChange((id) => heard.changed.push(id));
      s.onAvailable((name) => heard.available.push(name ?? ""));
      return { s, heard };
    };
    try {
      const [a1, a2, b1] = [await open(a), await open(a), await open(b)];
      await sleep(300); // the listeners connect
      const start = new Date().toISOString();
      const deadlineAt = Date.now() + 60_000;
      await a1.s.create({ id: "parent", request: { name: "p" }, start, deadlineAt, name: "p" });
      await a1.s.create({ id: "child", request: { name: "c" }, start, deadlineAt, name: "c", dependsOn: { ids: ["parent"], onFailure: "cancel" } });
      await b1.s.create({ id: "other", request: { name: "o" }, start, deadlineAt, name: "o" });
      await sleep(300);
      // The child waits for its parent: announced when it may be taken, not when it is created.
      expect(a2.heard.available).toEqual(["p"]);
      const before = { changed: a2.heard.changed.length, available: a2.heard.available.length };
      // The parent ends: the trigger frees the child, announced as changed and available.
      const [task] = await a1.s.claim({ now: Date.now(), worker: "w", leaseMs: 30_000, tokens: ["t1"], names: ["p"] });
      expect(task?.id).toBe("parent");
      expect(await a1.s.end("parent", { to: "SUCCESS", end: new Date().toISOString(), result: null }, { kind: "lease", token: "t1", now: Date.now() })).toBeDefined();
      await sleep(500);
      expect(a2.heard.available.slice(before.available)).toEqual(["c"]);
      expect(a2.heard.changed.slice(before.changed).sort()).toEqual(["child", "parent"]);
      expect(a2.heard.changed).not.toContain("other");
      expect(b1.heard.available).toEqual(["o"]);
      expect(b1.heard.changed.filter((id) => id !== "other")).toEqual([]);
    } finally {
      for (const s of stores) await s.close();
    }
  });
});
