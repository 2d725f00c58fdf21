// SQLite writes a job's created event with a statement of its own (not a trigger), in the
// turn's group commit. A create whose event cannot be written must fail whole and alone: no
// job without its history, and the other writes of the same turn unharmed. Faults are made
// with triggers added from a second connection, as another process could.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteJobStore } from "../../src/jobs/sqlite-store.js";
import type { NewJob } from "../../src/jobs/store.js";

let dir: string;
let file: string;
let store: SqliteJobStore;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "created-event-"));
  file = path.join(dir, "jobs.db");
  store = new SqliteJobStore(file);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const now = Date.parse("2030-01-01T00:00:00Z");
const job = (id: string, owner: string): NewJob => ({ id, owner, request: { name: "n" }, name: "n", start: new Date(now).toISOString(), deadlineAt: now + 60_000 });

function sql(text: string): void {
  const db = new Database(file);
  db.exec(text);
  db.close();
}

describe("SQLite created event", () => {
  it("is written with the job, in order before its later events", async () => {
    await store.create(job("a", "amy"));
    await store.end("a", { to: "CANCELLED", end: new Date(now + 1).toISOString(), by: "amy" }, { kind: "none" });
    const { events } = await store.events("a", 0, 10);
    expect(events.map((e) => [e.type, e.actor, e.at])).toEqual([
      ["created", "amy", now],
      ["cancelled", "amy", now + 1],
    ]);
  });

  it("that cannot be written fails its create alone, leaving no job behind", async () => {
    sql(`CREATE TRIGGER no_doomed BEFORE INSERT ON job_events WHEN NEW.actor = 'doomed' BEGIN SELECT RAISE(ABORT, 'history refused'); END;`);
    const results = await Promise.allSettled([store.create(job("a", "amy")), store.create(job("d", "doomed")), store.create(job("b", "bob"))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/history refused/);
    expect(await store.get("d")).toBeUndefined();
    expect((await store.get("a"))?.owner).toBe("amy");
    expect((await store.events("b", 0, 10)).events.map((e) => e.type)).toEqual(["created"]);
    // The id is free again: the same create succeeds once the fault is gone.
    sql("DROP TRIGGER no_doomed");
    expect((await store.create(job("d", "doomed"))).kind).toBe("created");
    expect((await store.events("d", 0, 10)).events.map((e) => e.type)).toEqual(["created"]);
  });

  it("whose job cannot be taken out again rolls the whole turn back", async () => {
    sql(`CREATE TRIGGER no_cursed BEFORE INSERT ON job_events WHEN NEW.actor = 'cursed' BEGIN SELECT RAISE(ABORT, 'history refused'); END;
         CREATE TRIGGER keep_cursed BEFORE DELETE ON jobs WHEN OLD.owner = 'cursed' BEGIN SELECT RAISE(ABORT, 'delete refused'); END;`);
    const results = await Promise.allSettled([store.create(job("a", "amy")), store.create(job("c", "cursed"))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await store.get("a")).toBeUndefined();
    expect(await store.get("c")).toBeUndefined();
    // The store goes on working.
    expect((await store.create(job("b", "bob"))).kind).toBe("created");
  });
});
