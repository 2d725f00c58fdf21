// Who may do what in the job API, over real HTTP on every store: API keys by role (client,
// worker, admin), clients isolated from each other, keys rotated without a restart, the
// production rule, keys kept out of the logs, and the per-caller rate limit on creation.
import { execFile } from "node:child_process";
import http from "node:http";
import { statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../generated/index.js";
import { loadModel } from "../../generator/generate.js";
import { hashKey } from "../../src/auth/keys.js";
import { JobAccessError, waitForJob } from "../../src/client/wait-for-job.js";
import { runWorker } from "../../src/client/worker.js";
import { call, type Reply } from "../helpers/http.js";
import { writeKeys, type TestKeys } from "../helpers/keys.js";
import { spawnServer } from "../helpers/process.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

const run = promisify(execFile);
afterAll(() => dropTestSchemas());

const CHALLENGE = 'Bearer realm="Asynchronous API"';

function problem(r: Reply, status: number) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(r.json).toMatchObject({ status, title: expect.any(String) });
}

/** One request per operation of the spec: method, path, body. */
const OPERATIONS = (id: string): [string, string, unknown?][] => [
  ["GET", "/resources"],
  ["POST", "/resources", { name: "x" }],
  ["GET", `/resources/${id}`],
  ["DELETE", `/resources/${id}`],
  ["GET", `/resources/${id}/result`],
  ["GET", `/resources/${id}/events`],
  ["POST", "/tasks/claim", { worker: "w" }],
  ["PUT", `/tasks/${id}`, { progress: 1 }],
  ["POST", "/tasks/outcomes", { outcomes: [{ id: "x", leaseToken: "t" }] }],
  ["GET", "/admin/queues"],
  ["GET", "/admin/jobs"],
  ["GET", `/admin/jobs/${id}`],
  ["POST", `/admin/jobs/${id}/rerun`],
  ["POST", "/admin/redrive", { name: "x" }],
  ["GET", "/admin/paused"],
  // A name, where the listing of the spec's operations has its parameter.
  ["PUT", `/admin/paused/${id === "{id}" ? "{name}" : "x"}`],
  ["DELETE", `/admin/paused/${id === "{id}" ? "{name}" : "x"}`],
  ["GET", "/schedules"],
  ["POST", "/schedules", { everySeconds: 60, job: { name: "x" } }],
  ["GET", `/schedules/${id}`],
  ["PATCH", `/schedules/${id}`, { paused: true }],
  ["DELETE", `/schedules/${id}`],
  ["GET", "/admin/limits"],
  ["PUT", `/admin/limits/${id === "{id}" ? "{kind}/{value}" : "name/x"}`, { concurrency: 1 }],
  ["DELETE", `/admin/limits/${id === "{id}" ? "{kind}/{value}" : "name/x"}`],
];

describe.each(STORE_KINDS)("authentication and roles on %s", (kind) => {
  let s: TestServer;
  let keys: TestKeys;
  const as = (who: string) => keys.auth[who];
  const create = async (who: string, body: unknown = { name: "mine" }, headers: Record<string, string> = {}) => {
    const r = await call("POST", `${s.url}/resources`, { body, headers: { ...as(who), ...headers } });
    expect(r.status, r.text).toBe(202);
    return r.json.id as string;
  };

  beforeAll(async () => {
    keys = writeKeys({ alice: "client", bob: "client", wendy: "worker", root: "admin" });
    s = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: keys.file } });
  });
  afterAll(() => s.close());
  afterEach(() => expect(s.invalidResponses).toEqual([]));

  it("answers every operation 401 with a Bearer challenge without a key, or with one it does not know", async () => {
    const id = await create("alice");
    for (const headers of [{} as Record<string, string>, { Authorization: "Bearer ak_not-a-key-this-server-knows" }, { Authorization: `Basic ${Buffer.from("alice:x").toString("base64")}` }, { Authorization: keys.key["alice"] }] as Record<string, string>[]) {
      for (const [method, p, body] of OPERATIONS(id)) {
        const r = await call(method, `${s.url}${p}`, { body, headers });
        problem(r, 401);
        expect(r.headers.get("www-authenticate"), `${method} ${p}`).toBe(CHALLENGE);
      }
    }
    // Nothing was done on their behalf.
    expect((await call("GET", `${s.url}/resources/${id}`, { headers: as("alice") })).json).toMatchObject({ status: "IN PROGRESS", attempts: 0 });
  });

  it("covers every operation of the spec", () => {
    const { model } = loadModel(path.resolve("spec/api.raml"));
    const listed = OPERATIONS("{id}").map(([m, p]) => `${m} ${p}`).sort();
    expect(listed).toEqual(model.operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort());
  });

  it("answers 403 to a key of the wrong role: workers may not use /resources, clients may not use /tasks, only admins /admin", async () => {
    const id = await create("alice");
    for (const [method, p, body] of OPERATIONS(id)) {
      for (const who of p.startsWith("/admin") ? ["alice", "wendy"] : [p.startsWith("/tasks") ? "alice" : "wendy"]) {
        const r = await call(method, `${s.url}${p}`, { body, headers: as(who) });
        problem(r, 403);
        const role = who === "alice" ? "client" : "worker";
        expect(r.json.detail).toMatch(new RegExp(`${role}'s key may not use /${p.split("/")[1]}`));
      }
    }
    expect((await call("GET", `${s.url}/admin/jobs/${id}`, { headers: as("root") })).status).toBe(200);
  });

  it("shows a client only its own jobs: another client's are not found, not listed, not cancellable", async () => {
    const mine = await create("alice", { name: "private" });
    const theirs = await create("bob", { name: "private" });
    for (const [method, p] of [["GET", `/resources/${mine}`], ["DELETE", `/resources/${mine}`], ["GET", `/resources/${mine}/result`]]) {
      const r = await call(method!, `${s.url}${p}`, { headers: as("bob") });
      problem(r, 404);
    }
    const listOf = async (who: string, q = "") => {
      const ids: string[] = [];
      let next: string | undefined = `/resources?limit=100${q}`;
      while (next) {
        const page: Reply = await call("GET", `${s.url}${next}`, { headers: as(who) });
        ids.push(...page.json.tasks.map((t: { id: string }) => t.id));
        next = page.json.next;
      }
      return ids;
    };
    expect(await listOf("bob")).toContain(theirs);
    expect(await listOf("bob")).not.toContain(mine);
    expect(await listOf("bob", "&name=private")).toEqual([theirs]);
    expect(await listOf("alice")).not.toContain(theirs);
    // The admin sees everyone's.
    expect(await listOf("root", "&name=private")).toEqual([mine, theirs]);
    expect((await call("GET", `${s.url}/resources/${theirs}`, { headers: as("root") })).status).toBe(200);
    // Bob's failed cancel changed nothing; alice's own works.
    expect((await call("DELETE", `${s.url}/resources/${mine}`, { headers: as("alice") })).json.status).toBe("CANCELLED");
  });

  it("scopes Idempotency-Keys per client: the same key from two clients makes two jobs", async () => {
    const key = { "Idempotency-Key": `shared-${Date.now()}` };
    const a = await create("alice", { name: "a" }, key);
    const b = await create("bob", { name: "b" }, key);
    expect(a).not.toBe(b);
    expect(await create("alice", { name: "a" }, key)).toBe(a);
    problem(await call("POST", `${s.url}/resources`, { body: { name: "other" }, headers: { ...as("bob"), ...key } }), 422);
  });

  it("lets workers (and admins) take and finish any client's job, and the client sees the outcome", async () => {
    const id = await create("alice", { name: "for-wendy" });
    const claim = await call("POST", `${s.url}/tasks/claim`, { body: { worker: "wendy-1", names: ["for-wendy"] }, headers: as("wendy") });
    expect(claim.json.tasks.map((t: { id: string }) => t.id)).toEqual([id]);
    const token = claim.json.tasks[0].leaseToken;
    expect((await call("PUT", `${s.url}/tasks/${id}`, { body: { leaseToken: token, status: "SUCCESS", result: 42 }, headers: as("wendy") })).status).toBe(200);
    expect((await call("GET", `${s.url}/resources/${id}/result`, { headers: as("alice") })).json).toBe(42);
    expect((await call("POST", `${s.url}/tasks/claim`, { body: { worker: "root" }, headers: as("root") })).status).toBe(200);
  });

  it("rotates keys without a restart: the file is re-read when it changes", async () => {
    const own = writeKeys({ carol: "client", root: "admin" });
    const t = await startTestServer({ databaseUrl: freshDatabaseUrl(kind), env: { API_KEYS_FILE: own.file } });
    try {
      const old = own.auth["carol"];
      expect((await call("GET", `${t.url}/resources`, { headers: old })).status).toBe(200);
      own.key["carol"] = undefined as unknown as string; // carol gets a new key; the old one is gone
      own.rewrite({ carol: "client", root: "admin", dave: "client" });
      const deadline = Date.now() + 5000;
      while ((await call("GET", `${t.url}/resources`, { headers: old })).status !== 401 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      problem(await call("GET", `${t.url}/resources`, { headers: old }), 401);
      expect((await call("GET", `${t.url}/resources`, { headers: own.auth["carol"] })).status).toBe(200);
      expect((await call("GET", `${t.url}/resources`, { headers: (own.auth as Record<string, Record<string, string>>)["dave"] })).status).toBe(200);
      // A file that does not parse keeps the keys in force.
      writeFileSync(own.file, "carol client not-a-hash\n");
      t.reloadKeys();
      expect((await call("GET", `${t.url}/resources`, { headers: own.auth["carol"] })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe("keys on one keep-alive connection (the server remembers a connection's key)", () => {
  it("each request is its own caller's, a wrong key after a right one is refused, and a revoked key stops at the reload", async () => {
    const own = writeKeys({ amy: "client", bob: "client", wes: "worker" });
    const t = await startTestServer({ env: { API_KEYS_FILE: own.file } });
    // One socket for everything, as a proxy multiplexing several clients would use.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const send = (method: string, p: string, headers: Record<string, string>, body?: unknown) =>
      new Promise<{ status: number; json: any }>((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(`${t.url}${p}`, { method, agent, headers: { ...headers, ...(data ? { "content-type": "application/json" } : {}) } }, (res) => {
          sockets.add(res.socket);
          let text = "";
          res.on("data", (c) => (text += c)).on("end", () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined }));
        });
        req.on("error", reject).end(data);
      });
    try {
      const amy = own.auth["amy"]!;
      const bob = own.auth["bob"]!;
      const mine = (await send("POST", "/resources", amy, { name: "amy's" })).json.id as string;
      expect((await send("GET", `/resources/${mine}`, amy)).status).toBe(200);
      // Bob on the same connection right after: bob, not amy.
      expect((await send("GET", `/resources/${mine}`, bob)).status).toBe(404);
      expect((await send("GET", "/resources", bob)).json.tasks).toEqual([]);
      // A key of the same length that is not a key, then amy again.
      const header = amy["Authorization"]!;
      const forged = { Authorization: header.slice(0, -1) + (header.endsWith("A") ? "B" : "A") };
      expect((await send("GET", `/resources/${mine}`, forged)).status).toBe(401);
      expect((await send("GET", `/resources/${mine}`, amy)).status).toBe(200);
      // A worker's key where a client's is needed, after a client's: 403.
      expect((await send("GET", "/resources", own.auth["wes"]!)).status).toBe(403);
      // Amy's key revoked: refused on the same connection once the keys are re-read.
      expect((await send("GET", `/resources/${mine}`, amy)).status).toBe(200);
      own.rewrite({ bob: "client", wes: "worker" });
      t.reloadKeys();
      expect((await send("GET", `/resources/${mine}`, amy)).status).toBe(401);
      expect((await send("GET", "/resources", bob)).status).toBe(200);
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
      await t.close();
    }
  });
});

describe("the typed client and the worker SDK with keys", () => {
  it("a client's key on the client, a worker's on the SDK: the job goes through; without a key the worker gets nowhere", async () => {
    const keys = writeKeys({ alice: "client", wendy: "worker" });
    const s = await startTestServer({ env: { API_KEYS_FILE: keys.file } });
    const errors: unknown[] = [];
    const keyless = runWorker({ baseUrl: s.url, handleSignals: false, pollSeconds: 1, handler: () => "never", onEvent: (e) => e.type === "error" && errors.push(e.error) });
    const worker = runWorker({ baseUrl: s.url, apiKey: keys.key["wendy"], handleSignals: false, pollSeconds: 1, handler: (t) => ({ doubled: (t.input as { n: number }).n * 2 }) });
    try {
      const client = new ApiClient({ baseUrl: s.url, authorization: `Bearer ${keys.key["alice"]}` });
      const created = await client.createJob({ params: {}, body: { name: "keyed", input: { n: 21 } } });
      expect(created.status).toBe(202);
      if (created.status !== 202) return;
      const outcome = await waitForJob(client, created.body.id, { timeout: 10_000 });
      expect(outcome).toMatchObject({ status: "SUCCESS", result: { doubled: 42 } });
      expect((await new ApiClient({ baseUrl: s.url }).listJobs()).status).toBe(401);
      // Waiting with no key, or with a worker's, fails at once instead of polling forever.
      await expect(waitForJob(new ApiClient({ baseUrl: s.url }), created.body.id, { timeout: 5000 })).rejects.toBeInstanceOf(JobAccessError);
      await expect(waitForJob(new ApiClient({ baseUrl: s.url, authorization: `Bearer ${keys.key["wendy"]}` }), created.body.id, { timeout: 5000 })).rejects.toThrow(/403/);
      expect(errors.length).toBeGreaterThan(0);
      expect(String(errors[0])).toMatch(/answered 401/);
    } finally {
      await Promise.all([keyless.stop(), worker.stop()]);
      await s.close();
    }
  });
});

describe("the per-caller limit on job creation", () => {
  it("answers 429 with Retry-After past the burst, per caller", async () => {
    const keys = writeKeys({ alice: "client", bob: "client" });
    const s = await startTestServer({ env: { API_KEYS_FILE: keys.file, CREATE_RATE_PER_SECOND: "0.5", CREATE_RATE_BURST: "2" } });
    try {
      const post = (who: keyof typeof keys.auth) => call("POST", `${s.url}/resources`, { body: { name: "r" }, headers: keys.auth[who] });
      expect((await post("alice")).status).toBe(202);
      expect((await post("alice")).status).toBe(202);
      const limited = await post("alice");
      problem(limited, 429);
      expect(Number(limited.headers.get("retry-after"))).toBe(2);
      expect((await post("bob")).status).toBe(202);
      expect(s.invalidResponses).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe("the service as a process", () => {
  it("refuses to start in production without keys, unless AUTH=off says so; a bad keys file names its line", async () => {
    const env = { ...process.env, NODE_ENV: "production", PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "sqlite::memory:", API_KEYS_FILE: "", AUTH: "" };
    const refused = await run(process.execPath, ["--import", "tsx", "src/main.ts"], { env }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/NODE_ENV=production needs API_KEYS_FILE .*AUTH=off/);
    expect(refused.stderr).not.toMatch(/\bat .*\(/); // no stack trace
    const open = await spawnServer({ NODE_ENV: "production", AUTH: "off", DATABASE_URL: "sqlite::memory:", LOG_LEVEL: "warn" });
    try {
      expect((await call("GET", `${open.url}/resources`)).status).toBe(200);
    } finally {
      open.child.kill("SIGKILL");
    }
    const bad = path.join(tempDir(), "keys");
    writeFileSync(bad, "# ok\nalice superuser 0000\n");
    const broken = await run(process.execPath, ["--import", "tsx", "src/main.ts"], { env: { ...env, NODE_ENV: "development", API_KEYS_FILE: bad } }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`${bad}:2: the role must be one of client, worker, admin`);
  });

  it("re-reads the keys on SIGHUP, and never writes a key (or its hash) to the log, while failures name principal and address", async () => {
    const keys = writeKeys({ alice: "client", wendy: "worker", root: "admin" });
    const server = await spawnServer({ DATABASE_URL: `sqlite:${tempDir()}/jobs.db`, API_KEYS_FILE: keys.file, LOG_LEVEL: "debug" });
    try {
      const id = (await call("POST", `${server.url}/resources`, { body: { name: "logged" }, headers: { ...keys.auth["alice"], "Idempotency-Key": "k1" } })).json.id;
      await call("GET", `${server.url}/resources/${id}`, { headers: keys.auth["alice"] });
      await call("GET", `${server.url}/resources`, { headers: keys.auth["wendy"] }); // wrong role
      await call("GET", `${server.url}/resources`, { headers: { Authorization: `Bearer ${keys.key["alice"]}x` } }); // unknown key
      await call("GET", `${server.url}/resources`, { headers: { Authorization: keys.key["root"] } }); // no scheme
      const claim = await call("POST", `${server.url}/tasks/claim`, { body: { worker: "w" }, headers: keys.auth["wendy"] });
      await call("PUT", `${server.url}/tasks/${id}`, { body: { leaseToken: claim.json.tasks[0].leaseToken, status: "SUCCESS" }, headers: keys.auth["wendy"] });
      // Rotate by SIGHUP: alice's key is replaced.
      const old = keys.auth["alice"];
      keys.key["alice"] = undefined as unknown as string;
      // The file's time is put back, so that only the signal (not the file watcher) can tell.
      const before = statSync(keys.file);
      keys.rewrite({ alice: "client", wendy: "worker", root: "admin" });
      utimesSync(keys.file, before.atime, before.mtime);
      server.child.kill("SIGHUP");
      const deadline = Date.now() + 5000;
      while ((await call("GET", `${server.url}/resources`, { headers: old })).status !== 401 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await call("GET", `${server.url}/resources`, { headers: keys.auth["alice"] })).status).toBe(200);
      // Log lines are written at least every second.
      await new Promise((r) => setTimeout(r, 1500));
      const log = server.output();
      for (const k of [...Object.values(keys.key), old!["Authorization"]!.slice("Bearer ".length)]) {
        expect(log).not.toContain(k);
        expect(log).not.toContain(hashKey(k));
      }
      expect(log).toMatch(/"principal":"wendy".*"remote":"(::ffff:)?127\.0\.0\.1".*authentication failed|"remote":"(::ffff:)?127\.0\.0\.1".*"principal":"wendy".*authentication failed/);
      expect(log).toMatch(/"reason":"unknown key".*"msg":"authentication failed"/);
      expect(log).toMatch(/API keys reloaded/);
    } finally {
      server.child.kill("SIGKILL");
    }
  });
});
