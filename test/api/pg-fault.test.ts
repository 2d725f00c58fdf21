// PostgreSQL stopped and started again under load: while it is away requests fail fast with
// 503 problem+json (no hang, no crash), the service recovers by itself, and every job
// acknowledged with 202 before the outage is still there after it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, type Reply } from "../helpers/http.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { clusterUnavailableReason, ThrowawayCluster } from "../helpers/pg-cluster.js";

const reason = clusterUnavailableReason();
if (reason) console.warn(`PostgreSQL fault test SKIPPED: ${reason}`);

describe.skipIf(!!reason)("PostgreSQL outage under load", () => {
  let cluster: ThrowawayCluster;
  let server: ServerProcess;

  beforeAll(async () => {
    cluster = await ThrowawayCluster.create();
    server = await spawnServer({ DATABASE_URL: cluster.url, LOG_LEVEL: "info" });
  });
  afterAll(() => {
    server?.child.kill("SIGKILL");
    cluster?.destroy();
  });

  it("answers 503 fast while the database is away and recovers by itself, losing nothing", async () => {
    const acknowledged: string[] = [];
    let stop = false;
    const outcomes: { status: number; ms: number; problem: boolean }[] = [];
    // Steady load: creates and polls from 8 clients.
    const client = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const t = Date.now();
        let r: Reply;
        try {
          r = i % 2 === 0 || !acknowledged.length
            ? await call("POST", `${server.url}/resources`, { body: { name: `load-${n}-${i}` } })
            : await call("GET", `${server.url}/resources/${acknowledged[(i * 7) % acknowledged.length]}`);
        } catch (e) {
          throw new Error(`the server stopped answering: ${(e as Error).message}`);
        }
        outcomes.push({ status: r.status, ms: Date.now() - t, problem: /problem\+json/.test(r.headers.get("content-type") ?? "") });
        if (r.status === 202) acknowledged.push(r.json.id);
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, n) => client(n)));
    await new Promise((r) => setTimeout(r, 700));
    const before = acknowledged.length;
    cluster.stop();
    const outageStart = outcomes.length;
    await new Promise((r) => setTimeout(r, 1500));
    const during = outcomes.slice(outageStart);
    const health = await call("GET", `${server.url}/healthz`);
    cluster.start();
    // Recovery without a restart of the service.
    let recovered = false;
    for (let i = 0; i < 100 && !recovered; i++) {
      await new Promise((r) => setTimeout(r, 100));
      recovered = (await call("GET", `${server.url}/healthz`)).status === 200;
    }
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await load;

    expect(before).toBeGreaterThan(0);
    expect(health.status).toBe(503);
    expect(recovered).toBe(true);
    const failures = during.filter((o) => o.status >= 500);
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f.status).toBe(503);
      expect(f.problem).toBe(true);
      expect(f.ms).toBeLessThan(3000);
    }
    expect(outcomes.slice(-8).every((o) => o.status === 202 || o.status === 200)).toBe(true);
    // Every job acknowledged, before, during or after the outage, is there.
    for (const id of acknowledged) expect((await call("GET", `${server.url}/resources/${id}`)).status, id).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});
