// A database written before workers existed (schema version 2) is migrated on open: its jobs
// keep their request, which now shows as name, priority, tags and input, get the configured
// maxAttempts, and can be claimed and listed by name.
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { channelsOf } from "../../src/jobs/pg-announce.js";
import { MIGRATIONS as PG_MIGRATIONS } from "../../src/jobs/pg-store.js";
import { MIGRATIONS as SQLITE_MIGRATIONS } from "../../src/jobs/sqlite-store.js";
import type { JobStore } from "../../src/jobs/store.js";
import { openStore } from "../../src/stores.js";
import { tempDir } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const NOW = Date.parse("2030-01-01T00:00:00Z");
const OLD_JOBS: [id: string, request: unknown][] = [
  ["old-full", { name: "report", priority: 7, tags: ["a"], input: { day: 1 } }],
  ["old-bare", null],
  ["old-low", { name: "report" }],
];
const V2 = { defaultMaxAttempts: 99, channels: channelsOf("public") }; // versions 1-2 use neither

async function checkMigrated(store: JobStore) {
  try {
    const full = (await store.get("old-full"))!;
    expect(full).toMatchObject({ name: "report", priority: 7, attempts: 0, maxAttempts: 5, request: { tags: ["a"], input: { day: 1 } } });
    expect(full.lease).toBeUndefined();
    expect(await store.get("old-bare")).toMatchObject({ priority: 0, maxAttempts: 5, request: null });
    expect((await store.get("old-bare"))!.name).toBeUndefined();
    expect((await store.list({ limit: 10, name: "report" })).jobs.map((j) => j.id)).toEqual(["old-full", "old-low"]);
    const claimed = await store.claim({ now: NOW, worker: "w", tokens: ["t1", "t2", "t3", "t4"], leaseMs: 30_000 });
    expect(claimed.map((j) => [j.id, j.attempts, j.lease?.token])).toEqual([
      ["old-full", 1, "t1"],
      ["old-bare", 1, "t2"],
      ["old-low", 1, "t3"],
    ]);
    // Their history begins with the migration: the claim is its first event.
    expect((await store.events("old-full", 0, 10)).events.map((e) => [e.type, e.actor, e.attempt])).toEqual([["claimed", "w", 1]]);
  } finally {
    await store.close();
  }
}

describe("migration to the worker schema", () => {
  it("on SQLite", async () => {
    const file = path.join(tempDir(), "jobs.db");
    const db = new Database(file);
    for (const m of SQLITE_MIGRATIONS.slice(0, 2)) db.exec(m(V2));
    db.pragma("user_version = 2");
    const insert = db.prepare("INSERT INTO jobs (id, status, started_at, request, deadline_ms) VALUES (?, 'IN PROGRESS', ?, ?, ?)");
    for (const [id, request] of OLD_JOBS) insert.run(id, new Date(NOW - 1000).toISOString(), JSON.stringify(request), NOW + 3_600_000);
    db.close();
    await checkMigrated(await openStore({ databaseUrl: `sqlite:${file}`, sqliteSynchronous: "NORMAL", maxAttempts: 5 }));
    const after = new Database(file);
    expect(after.pragma("user_version", { simple: true })).toBe(SQLITE_MIGRATIONS.length);
    after.close();
  });

  it.skipIf(!PG_URL)("on PostgreSQL", async () => {
    const url = freshDatabaseUrl("postgres");
    const schema = new URL(url).searchParams.get("schema")!;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
      for (const m of PG_MIGRATIONS.slice(0, 2)) await c.query(m(V2));
      await c.query("CREATE TABLE jobs_schema_version (version INTEGER NOT NULL); INSERT INTO jobs_schema_version VALUES (2)");
      let seq = 0;
      for (const [id, request] of OLD_JOBS) {
        await c.query("INSERT INTO jobs (seq, id, status, started_at, request, deadline_ms) VALUES ($1, $2, 'IN PROGRESS', $3, $4, $5)", [
          ++seq,
          id,
          new Date(NOW - 1000).toISOString(),
          JSON.stringify(request),
          NOW + 3_600_000,
        ]);
      }
      await c.query("UPDATE job_seq SET value = $1", [seq]);
    } finally {
      await c.end();
    }
    await checkMigrated(await openStore({ databaseUrl: url, sqliteSynchronous: "NORMAL", maxAttempts: 5 }));
  });
});
