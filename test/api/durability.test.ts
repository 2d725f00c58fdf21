// The server as its own process on a SQLite file: killed with SIGKILL it loses nothing it
// acknowledged; SIGTERM shuts it down gracefully.
import { request } from "node:http";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/http.js";
import { spawnServer } from "../helpers/process.js";
import { tempDir } from "../helpers/server.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("durability on %s", (kind) => {
  it("every acknowledged job and transition survives kill -9 and a restart on the same store", async () => {
    const db = freshDatabaseUrl(kind);
    const first = await spawnServer({ DATABASE_URL: db });
    const states = new Map<string, string>();
    for (let i = 0; i < 30; i++) {
      const r = await call("POST", `${first.url}/resources`, { body: { name: `d${i}` } });
      expect(r.status).toBe(202);
      states.set(r.json.id, "IN PROGRESS");
    }
    const ids = [...states.keys()];
    for (const id of ids.slice(0, 10)) {
      expect((await call("PUT", `${first.url}/tasks/${id}`, { body: { result: id } })).status).toBe(200);
      states.set(id, "SUCCESS");
    }
    for (const id of ids.slice(10, 15)) {
      expect((await call("DELETE", `${first.url}/resources/${id}`)).status).toBe(200);
      states.set(id, "CANCELLED");
    }
    for (const id of ids.slice(15, 18)) {
      expect((await call("PUT", `${first.url}/tasks/${id}`, { body: { status: "FAILED" } })).status).toBe(200);
      states.set(id, "FAILED");
    }
    first.child.kill("SIGKILL");
    expect(await first.exited).toBeNull();

    const second = await spawnServer({ DATABASE_URL: db });
    try {
      for (const [id, status] of states) {
        const r = await call("GET", `${second.url}/resources/${id}`);
        expect(r.json?.status, id).toBe(status);
        if (status === "SUCCESS") expect((await call("GET", `${second.url}/resources/${id}/result`)).json).toBe(id);
      }
      const listed = await call("GET", `${second.url}/resources?limit=100`);
      expect(listed.json.tasks.map((t: { id: string }) => t.id)).toEqual(ids);
    } finally {
      second.child.kill("SIGKILL");
    }
  });
});

describe("process lifecycle", () => {
  it("SIGTERM finishes in-flight requests, closes the store and exits 0", async () => {
    const db = `sqlite:${path.join(tempDir(), "jobs.db")}`;
    const p = await spawnServer({ DATABASE_URL: db });
    // A request that is still arriving when SIGTERM comes must be finished, not dropped.
    const req = request(`${p.url}/resources`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } });
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on("response", (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
      req.on("error", reject);
    });
    req.write('{"name":');
    await new Promise((r) => setTimeout(r, 300));
    p.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    req.end('"last"}');
    const r = await reply;
    expect(r.status).toBe(202);
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/shutting down/);
    const again = await spawnServer({ DATABASE_URL: db });
    try {
      expect((await call("GET", `${again.url}/resources/${JSON.parse(r.body).id}`)).status).toBe(200);
    } finally {
      again.child.kill("SIGKILL");
    }
  });

  it("refuses a bad configuration with a clear message and exit code 2", async () => {
    await expect(spawnServer({ PORT: "70000" })).rejects.toThrow(/PORT must be an integer from 0 to 65535/);
  });
});
