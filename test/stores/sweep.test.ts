// Deadline expiry and retention run by several store instances at once (as several service
// instances do): each overdue job is expired exactly once, each old job removed once.
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/stores.js";
import type { JobStore } from "../../src/jobs/store.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("concurrent sweeps on %s", (kind) => {
  it("expire each overdue job once and purge each ended job once", async () => {
    const url = freshDatabaseUrl(kind);
    const stores: JobStore[] = [];
    for (let i = 0; i < 3; i++) stores.push(await openStore({ databaseUrl: url, sqliteSynchronous: "NORMAL" }));
    try {
      const now = Date.parse("2030-01-01T00:00:00Z");
      for (let i = 0; i < 200; i++) {
        await stores[i % 3]!.create({ id: `job-${i}`, request: null, start: new Date(now - 10_000).toISOString(), deadlineAt: i < 150 ? now - 1 : now + 60_000 });
      }
      const end = new Date(now).toISOString();
      const counts = await Promise.all(stores.flatMap((s) => [s, s].map((x) => x.expire(now, end, { type: "urn:t", title: "deadline exceeded" }))));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(150);
      for (let i = 0; i < 200; i++) {
        const j = (await stores[0]!.get(`job-${i}`))!;
        expect(j.status).toBe(i < 150 ? "FAILED" : "IN PROGRESS");
        expect(j.end).toBe(i < 150 ? end : "");
      }
      const purged = await Promise.all(stores.map((s) => s.purge(now)));
      expect(purged.reduce((a, b) => a + b, 0)).toBe(150);
      expect((await stores[1]!.list({ limit: 100 })).jobs.length).toBe(50);
    } finally {
      for (const s of stores) await s.close();
    }
  });
});
