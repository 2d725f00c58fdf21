// The stores the contract suites run against: SQLite always, PostgreSQL when it answers.
// TEST_DATABASE_URL names the PostgreSQL server; when it is set and PostgreSQL does not
// answer, the PostgreSQL suites fail. When it is unset, the machine's default
// (postgres://postgres@127.0.0.1:5432/test) is tried, and the suites are skipped with a
// message if nothing answers there.
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { tempDir } from "./server.js";
import type { JobStore } from "../../src/jobs/store.js";
import { openStore } from "../../src/stores.js";

export type StoreKind = "sqlite" | "postgres";

const DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test";

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function resolvePg(): Promise<string | undefined> {
  const configured = process.env["TEST_DATABASE_URL"];
  if (configured) {
    if (!(await answers(configured))) throw new Error(`TEST_DATABASE_URL is set but PostgreSQL does not answer at ${configured}`);
    return configured;
  }
  if (await answers(DEFAULT_PG)) return DEFAULT_PG;
  console.warn("PostgreSQL suites SKIPPED: TEST_DATABASE_URL is unset and nothing answers at 127.0.0.1:5432");
  return undefined;
}

export const PG_URL = await resolvePg();
export const STORE_KINDS: StoreKind[] = PG_URL ? ["sqlite", "postgres"] : ["sqlite"];

const schemas: string[] = [];

/** A fresh, empty store location: a new SQLite file, or a new PostgreSQL schema. */
export function freshDatabaseUrl(kind: StoreKind, dir = tempDir()): string {
  if (kind === "sqlite") return `sqlite:${path.join(dir, "jobs.db")}`;
  const schema = `test_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  const u = new URL(PG_URL!);
  u.searchParams.set("schema", schema);
  return u.toString();
}

/** Drops the PostgreSQL schemas this test file created. */
export async function dropTestSchemas(): Promise<void> {
  if (!PG_URL || !schemas.length) return;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    for (const s of schemas.splice(0)) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * A fresh store filled by `fill` and closed again, for reading its tables directly (query
 * plans): a SQLite file's path, or a client on the PostgreSQL schema (the caller ends it).
 */
export async function filledSqlite(fill: (store: JobStore) => Promise<void>): Promise<string> {
  const url = freshDatabaseUrl("sqlite");
  await fillAndClose(url, fill);
  return url.slice("sqlite:".length);
}

export async function filledPg(fill: (store: JobStore) => Promise<void>): Promise<pg.Client> {
  const url = freshDatabaseUrl("postgres");
  await fillAndClose(url, fill);
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${new URL(url).searchParams.get("schema")}` });
  await c.connect();
  return c;
}

async function fillAndClose(url: string, fill: (store: JobStore) => Promise<void>): Promise<void> {
  const store = await openStore({ databaseUrl: url, sqliteSynchronous: "NORMAL" });
  try {
    await fill(store);
  } finally {
    await store.close();
  }
}
