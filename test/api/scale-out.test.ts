// Several instances behind one PostgreSQL database: three server processes on different
// ports share one schema; any instance answers for any job.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withHeaders } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServers, type ServerProcess } from "../helpers/process.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL } from "../helpers/stores.js";

// Authentication is on, with an admin's key (it may use both the clients' and the workers' resources).
const keys = writeKeys({ root: "admin" });
const call = withHeaders(keys.auth["root"]);

describe.skipIf(!PG_URL)("three instances on one PostgreSQL database", () => {
  let nodes: ServerProcess[] = [];
  const at = (i: number) => nodes[i % nodes.length]!.url;

  beforeAll(async () => {
    // Started at the same moment: schema creation and migration must not collide.
    nodes = await spawnServers(3, { DATABASE_URL: freshDatabaseUrl("postgres"), API_KEYS_FILE: keys.file });
  });
  afterAll(async () => {
    for (const n of nodes) n.child.kill("SIGKILL");
    await dropTestSchemas();
  });

  it("creates through one, polls through another, completes and cancels through the third", async () => {
    const created = await call("POST", `${at(0)}/resources`, { body: { name: "spread" } });
    expect(created.status).toBe(202);
    const id = created.json.id;
    expect((await call("GET", `${at(1)}/resources/${id}`)).json.status).toBe("IN PROGRESS");
    expect((await call("PUT", `${at(2)}/tasks/${id}`, { body: { result: "done" } })).status).toBe(200);
    const polled = await call("GET", `${at(1)}/resources/${id}`);
    expect(polled.status).toBe(303);
    expect((await call("GET", `${at(0)}${polled.headers.get("location")}`)).json).toBe("done");
    const other = (await call("POST", `${at(1)}/resources`)).json.id;
    expect((await call("DELETE", `${at(2)}/resources/${other}`)).json.status).toBe("CANCELLED");
    expect((await call("GET", `${at(0)}/resources/${other}`)).json.status).toBe("CANCELLED");
  });

  it("a cancel racing a completion on different instances has exactly one winner, every time", async () => {
    let cancelled = 0;
    for (let round = 0; round < 60; round++) {
      const id = (await call("POST", `${at(round)}/resources`, { body: { name: `race${round}` } })).json.id;
      const [c, d] = await Promise.all([call("DELETE", `${at(round + 1)}/resources/${id}`), call("PUT", `${at(round + 2)}/tasks/${id}`)]);
      expect([c.status, d.status].sort()).toEqual([200, 409]);
      const final = await call("GET", `${at(round)}/resources/${id}`);
      expect(final.json.status).toBe(c.status === 200 ? "CANCELLED" : "SUCCESS");
      if (c.status === 200) cancelled++;
    }
    // Both sides win sometimes; a race that one side always wins tests nothing.
    expect(cancelled).toBeGreaterThan(0);
    expect(cancelled).toBeLessThan(60);
  });

  it("300 concurrent POSTs spread over the three give 300 distinct jobs", async () => {
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => call("POST", `${at(i)}/resources`, { body: { name: `p${i}` } })));
    expect(replies.filter((r) => r.status !== 202)).toEqual([]);
    const ids = new Set(replies.map((r) => r.json.id));
    expect(ids.size).toBe(300);
    // Every one of them is visible through every instance's listing, each exactly once.
    const seen: string[] = [];
    let next: string | undefined = "/resources?limit=100";
    for (let i = 0; next; i++) {
      const page = await call("GET", `${at(i)}${next}`);
      seen.push(...page.json.tasks.map((t: { id: string }) => t.id));
      next = page.json.next;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);
  });

  it("an Idempotency-Key replayed on a different instance returns the same job", async () => {
    const key = `scale-${Date.now()}`;
    const first = await call("POST", `${at(0)}/resources`, { body: { name: "once" }, headers: { "Idempotency-Key": key } });
    const replays = await Promise.all([1, 2, 1, 2].map((i) => call("POST", `${at(i)}/resources`, { body: { name: "once" }, headers: { "Idempotency-Key": key } })));
    for (const r of replays) {
      expect(r.status).toBe(202);
      expect(r.json.id).toBe(first.json.id);
    }
    expect((await call("POST", `${at(2)}/resources`, { body: { name: "other" }, headers: { "Idempotency-Key": key } })).status).toBe(422);
  });
});
