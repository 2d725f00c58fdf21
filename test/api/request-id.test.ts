// Request ids: every answer carries X-Request-Id (the client's when it is sane), and the log
// lines of that request carry the same id, over real HTTP on the SQLite file store.
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { call } from "../helpers/http.js";
import { writeKeys, type TestKeys } from "../helpers/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("X-Request-Id", () => {
  let s: TestServer;
  let keys: TestKeys;
  const lines: Record<string, any>[] = [];
  const logOf = (id: string) => lines.filter((l) => (l["req"]?.id ?? l["reqId"]) === id);

  beforeAll(async () => {
    keys = writeKeys({ alice: "client", w1: "worker" });
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    s = await startTestServer({ env: { API_KEYS_FILE: keys.file }, logger: pino({ level: "info" }, sink) });
  });
  afterAll(() => s.close());

  it("is on every answer, the API's and the pages', different for each request", async () => {
    const auth = keys.auth["alice"];
    const answers = [
      await call("POST", `${s.url}/resources`, { body: { name: "x" }, headers: auth }),
      await call("POST", `${s.url}/resources`, { body: { name: "" }, headers: auth }),
      await call("GET", `${s.url}/resources`, { headers: auth }),
      await call("GET", `${s.url}/resources`),
      await call("PATCH", `${s.url}/resources`, { headers: auth }),
      await call("GET", `${s.url}/healthz`),
      await call("GET", `${s.url}/nothing-here`),
    ];
    expect(answers.map((a) => a.status)).toEqual([202, 400, 200, 401, 405, 200, 404]);
    const ids = answers.map((a) => a.headers.get("x-request-id"));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]+-[0-9a-z]+$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps the client's id when it is sane, makes a new one when it is not", async () => {
    const auth = keys.auth["alice"];
    const mine = "trace-7f3a.01:retry=2";
    expect((await call("GET", `${s.url}/resources`, { headers: { ...auth, "X-Request-Id": mine } })).headers.get("x-request-id")).toBe(mine);
    for (const bad of ["has space", 'quote"s', "x".repeat(129), "ünïcode", ""]) {
      const r = await call("GET", `${s.url}/resources`, { headers: { ...auth, "X-Request-Id": bad } });
      expect(r.status).toBe(200);
      const id = r.headers.get("x-request-id");
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[A-Za-z0-9_-]+-[0-9a-z]+$/);
    }
  });

  it("is on the request's log lines: the request line and the authentication failure", async () => {
    const id = "req-under-test-1";
    const r = await call("POST", `${s.url}/tasks/claim`, { body: { worker: "w" }, headers: { ...keys.auth["alice"], "X-Request-Id": id } });
    expect(r.status).toBe(403);
    s.logger.flush();
    await new Promise((r) => setTimeout(r, 50));
    const mine = logOf(id);
    expect(mine.map((l) => l["msg"]).sort()).toEqual(["authentication failed", "request completed"]);
    expect(mine.find((l) => l["msg"] === "request completed")).toMatchObject({ req: { id, method: "POST", url: "/tasks/claim" }, res: { statusCode: 403 } });
  });
});
