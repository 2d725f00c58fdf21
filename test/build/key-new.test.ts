// `npm run -s key:new`, as docs/security.md has it: the key goes under data/ (which git
// ignores), readable by its owner only, its hash into data/keys.txt, and it says where; the
// service started with that file accepts the key, in the role it was made for.
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { tempDir } from "../helpers/server.js";

const run = promisify(execFile);
const keyNew = (cwd: string, ...args: string[]) => run(path.resolve("node_modules/.bin/tsx"), [path.resolve("scripts/key-new.ts"), ...args], { cwd });

let server: ServerProcess | undefined;
afterAll(() => server?.child.kill("SIGKILL"));

describe("key:new", () => {
  it("writes each key under data/, its hash to data/keys.txt, and says where", async () => {
    const dir = tempDir("keys-");
    const alice = await keyNew(dir, "alice", "client");
    expect(alice.stdout.trim()).toBe("key:new: alice (client): key in data/keys/alice.key (give it to alice; it is kept nowhere else), its hash added to data/keys.txt (API_KEYS_FILE=data/keys.txt)");
    await keyNew(dir, "ops", "admin");
    const key = readFileSync(path.join(dir, "data/keys/alice.key"), "utf8").trim();
    expect(statSync(path.join(dir, "data/keys/alice.key")).mode & 0o777).toBe(0o600);
    const lines = readFileSync(path.join(dir, "data/keys.txt"), "utf8").trim().split("\n");
    expect(lines.map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual(["alice client", "ops admin"]);
    expect(readFileSync(path.join(dir, "data/keys.txt"), "utf8")).not.toContain(key); // hashes only
    // A second key for alice would replace the first unseen: refused.
    await expect(keyNew(dir, "alice", "client")).rejects.toMatchObject({ code: 2 });

    server = await spawnServer({ API_KEYS_FILE: path.join(dir, "data/keys.txt"), DATABASE_URL: "sqlite::memory:", LOG_LEVEL: "warn" });
    const created = await call("POST", `${server.url}/resources`, { body: { name: "x" }, headers: { authorization: `Bearer ${key}` } });
    expect(created.status).toBe(202);
    const admin = readFileSync(path.join(dir, "data/keys/ops.key"), "utf8").trim();
    expect((await call("GET", `${server.url}/admin/queues`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
    expect((await call("GET", `${server.url}/admin/queues`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(403);
  }, 30_000);

  it("writes where git does not look: data/, and any *.key", async () => {
    for (const f of ["data/keys/alice.key", "data/keys.txt", "alice.key", "keys.txt", "somewhere/worker.key"]) {
      await expect(run("git", ["check-ignore", "-q", f]), f).resolves.toBeDefined();
    }
  });

  it("--stdout prints the key and its line, and writes nothing", async () => {
    const dir = tempDir("keys-");
    const { stdout } = await keyNew(dir, "bot", "worker", "--stdout");
    const [key, line] = stdout.trim().split("\n");
    expect(key).toMatch(/^\S{20,}$/);
    expect(line).toMatch(/^bot worker [0-9a-f]{64}$/);
    await expect(run("ls", [path.join(dir, "data")])).rejects.toBeDefined();
  });
});
