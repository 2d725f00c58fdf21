// Singleton keys: while a job created with a key waits for a worker, another create with the
// key joins it (or replaces its request) instead of making a second; once a worker takes it,
// the key is free. Keys are each client's own. Race-free: concurrent creates with one key, on
// one instance and on three sharing PostgreSQL, leave exactly one waiting job.
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServers, type ServerProcess } from "../helpers/process.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, PG_URL, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

const keys = writeKeys({ alice: "client", bob: "client", w: "worker" });
type Who = "alice" | "bob";

describe.each(STORE_KINDS)("singleton keys (%s)", (kind) => {
  let s: TestServer;
  afterAll(() => s?.close());
  const create = (body: unknown, who: Who = "alice", headers: Record<string, string> = {}) =>
    call("POST", `${s.url}/resources`, { body, headers: { ...keys.auth[who], ...headers } });
  const get = async (id: string, who: Who = "alice") => (await call("GET", `${s.url}/resources/${id}`, { headers: keys.auth[who] })).json;
  const waiting = async (name: string, who: Who = "alice") =>
    (await call("GET", `${s.url}/resources?status=IN%20PROGRESS&name=${name}&limit=100`, { headers: keys.auth[who] })).json.tasks.map((t: { id: string }) => t.id);
  const claim = async (name: string) => (await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w", names: [name], max: 5 }, headers: keys.auth.w })).json.tasks as { id: string }[];

  it("joins the waiting job: same id and Location, its request unchanged", async () => {
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file } });
    const first = await create({ name: "rebuild", input: { v: 1 }, singletonKey: "site-42" });
    expect([first.status, first.json.singleton]).toEqual([202, "created"]);
    const second = await create({ name: "rebuild", input: { v: 2 }, singletonKey: "site-42" });
    expect(second.status).toBe(202);
    expect(second.json).toEqual({ id: first.json.id, href: first.json.href, singleton: "joined" });
    expect(second.headers.get("location")).toBe(first.headers.get("location"));
    expect((await get(first.json.id)).input).toEqual({ v: 1 });
    expect(await waiting("rebuild")).toEqual([first.json.id]);
    // Without a key, answers carry no singleton member.
    const plain = await create({ name: "plain" });
    expect(plain.json).toEqual({ id: expect.any(String), href: expect.any(String) });
    expect(s.invalidResponses).toEqual([]);
  });

  it("replaces the waiting job's request (a debounce with delaySeconds)", async () => {
    const first = await create({ name: "reindex", input: { q: "a" }, singletonKey: "idx", delaySeconds: 60 });
    const before = await get(first.json.id);
    const second = await create({ name: "reindex", input: { q: "ab" }, priority: 7, tags: ["typed"], singletonKey: "idx", singletonMode: "replace", delaySeconds: 120 });
    expect(second.json).toMatchObject({ id: first.json.id, singleton: "replaced" });
    const after = await get(first.json.id);
    expect(after).toMatchObject({ id: first.json.id, start: before.start, input: { q: "ab" }, priority: 7, tags: ["typed"], status: "IN PROGRESS" });
    expect(Date.parse(after.runAt) - Date.parse(before.runAt)).toBeGreaterThan(55_000);
    expect(await waiting("reindex")).toEqual([first.json.id]);
  });

  it("frees the key once a worker takes the job, or it is cancelled", async () => {
    const first = await create({ name: "sync", singletonKey: "k" });
    expect((await claim("sync")).map((t) => t.id)).toEqual([first.json.id]);
    const second = await create({ name: "sync", singletonKey: "k" });
    expect(second.json.singleton).toBe("created");
    expect(second.json.id).not.toBe(first.json.id);
    // The running one is not touched by a replace: the new waiting one is.
    const third = await create({ name: "sync", input: { n: 3 }, singletonKey: "k", singletonMode: "replace" });
    expect([third.json.id, third.json.singleton]).toEqual([second.json.id, "replaced"]);
    expect((await get(first.json.id)).input).toBeUndefined();
    expect((await call("DELETE", `${s.url}/resources/${second.json.id}`, { headers: keys.auth.alice })).status).toBe(200);
    const fourth = await create({ name: "sync", singletonKey: "k" });
    expect(fourth.json.singleton).toBe("created");
    expect([first.json.id, second.json.id]).not.toContain(fourth.json.id);
  });

  it("keeps each client's keys its own, and refuses singletonMode alone", async () => {
    const a = await create({ name: "mine", singletonKey: "shared-name" }, "alice");
    const b = await create({ name: "mine", singletonKey: "shared-name" }, "bob");
    expect([a.json.singleton, b.json.singleton]).toEqual(["created", "created"]);
    expect(a.json.id).not.toBe(b.json.id);
    const alone = await create({ name: "x", singletonMode: "replace" });
    expect([alone.status, alone.json.errors]).toEqual([400, [expect.objectContaining({ field: "body/singletonMode", detail: "needs singletonKey" })]]);
    const tooLong = await create({ name: "x", singletonKey: "k".repeat(129) });
    expect([tooLong.status, tooLong.json.errors[0].field]).toEqual([400, "body/singletonKey"]);
  });

  it("with an Idempotency-Key: a replay answers the job it made", async () => {
    const body = { name: "idem", singletonKey: "i" };
    const first = await create(body, "alice", { "Idempotency-Key": "req-1" });
    const replay = await create(body, "alice", { "Idempotency-Key": "req-1" });
    expect([replay.status, replay.json.id]).toEqual([202, first.json.id]);
    const other = await create(body, "alice", { "Idempotency-Key": "req-2" });
    expect([other.json.id, other.json.singleton]).toEqual([first.json.id, "joined"]);
    expect(await waiting("idem")).toEqual([first.json.id]);
  });

  it("50 concurrent creates with one key leave one waiting job; 50 concurrent replaces leave one of their requests", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => create({ name: "burst", input: { i }, singletonKey: "burst" })));
    const ids = new Set(answers.map((a) => a.json.id));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.json.singleton === "created")).toHaveLength(1);
    expect(await waiting("burst")).toEqual([...ids]);
    const replaced = await Promise.all(Array.from({ length: 50 }, (_, i) => create({ name: "burst", input: { i: 100 + i }, singletonKey: "burst", singletonMode: "replace" })));
    expect(new Set(replaced.map((a) => a.json.id))).toEqual(ids);
    expect((await get([...ids][0]!)).input.i).toBeGreaterThanOrEqual(100);
    expect(await waiting("burst")).toEqual([...ids]);
    expect(s.invalidResponses).toEqual([]);
  });
});

describe.skipIf(!PG_URL)("singleton keys across three instances (PostgreSQL)", () => {
  let nodes: ServerProcess[] = [];
  afterAll(() => {
    for (const n of nodes) n.child.kill("SIGKILL");
  });

  it("50 concurrent creates with one key, spread over three instances, leave exactly one waiting job", async () => {
    nodes = await spawnServers(3, { DATABASE_URL: freshDatabaseUrl("postgres"), API_KEYS_FILE: keys.file });
    for (let round = 0; round < 3; round++) {
      const key = `round-${round}`;
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          call("POST", `${nodes[i % 3]!.url}/resources`, { body: { name: "cluster", input: { i }, singletonKey: key, ...(round === 2 && { singletonMode: "replace" }) }, headers: keys.auth.alice }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(202));
      const ids = new Set(answers.map((a) => a.json.id));
      expect(ids.size).toBe(1);
      expect(answers.filter((a) => a.json.singleton === "created")).toHaveLength(1);
      // A worker takes it: the key is free for the next round.
      const taken = (await call("POST", `${nodes[round % 3]!.url}/tasks/claim`, { body: { worker: "w", names: ["cluster"], max: 10 }, headers: keys.auth.w })).json.tasks;
      expect(taken.map((t: { id: string }) => t.id)).toEqual([...ids]);
    }
  });
});
