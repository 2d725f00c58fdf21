// Crash safety: creates, completions and cancels, and workers claiming, heartbeating and
// finishing jobs, against the server process, which is killed with SIGKILL at random moments
// and restarted on the same store. Every job acknowledged with 202 must exist, every
// acknowledged transition must hold, no job may be in a state nobody asked for, and no job
// may ever have been held by two unexpired leases at once (as the server stated them).
import { afterAll, describe, expect, it } from "vitest";
import { withHeaders } from "../helpers/http.js";
import { writeKeys } from "../helpers/keys.js";
import { spawnServer } from "../helpers/process.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

const KILLS = Number(process.env["CRASH_KILLS"] ?? 20);

afterAll(() => dropTestSchemas());

// Authentication is on: a client creates, polls and cancels; workers (and a backend that does
// not claim) use a worker's key.
const keys = writeKeys({ "crash-client": "client", "crash-worker": "worker" });
const asClient = withHeaders(keys.auth["crash-client"]);
const asWorker = withHeaders(keys.auth["crash-worker"]);

describe.each(STORE_KINDS)("crash safety on %s", (kind) => {
  it(`loses nothing over ${KILLS} SIGKILLs`, async () => {
    const db = freshDatabaseUrl(kind);
    const acked = new Map<string, "IN PROGRESS" | "SUCCESS" | "CANCELLED">();
    const attempted = new Map<string, Set<string>>(); // id -> terminal states asked for
    let transitionsAcked = 0;
    const leases = new Map<string, { start: number; expires: number }[]>(); // job -> acknowledged leases
    let claimsAcked = 0;
    for (let k = 0; k < KILLS; k++) {
      const server = await spawnServer({ DATABASE_URL: db, LOG_LEVEL: "info", API_KEYS_FILE: keys.file });
      let stop = false;
      const client = async (n: number) => {
        const ids = [...acked.keys()];
        for (let i = 0; !stop; i++) {
          try {
            const pick = ids[(n * 31 + i * 17) % Math.max(ids.length, 1)];
            const op = (n + i) % 4;
            if (op < 2 || !pick) {
              const r = await asClient("POST", `${server.url}/resources`, { body: { name: `crash-${k}-${n}-${i}` } });
              if (r.status === 202) {
                acked.set(r.json.id, "IN PROGRESS");
                ids.push(r.json.id);
              }
            } else {
              const to = op === 2 ? "SUCCESS" : "CANCELLED";
              (attempted.get(pick) ?? attempted.set(pick, new Set()).get(pick)!).add(to);
              const r = to === "SUCCESS" ? await asWorker("PUT", `${server.url}/tasks/${pick}`) : await asClient("DELETE", `${server.url}/resources/${pick}`);
              if (r.status === 200 && acked.get(pick) === "IN PROGRESS") {
                acked.set(pick, to);
                transitionsAcked++;
              }
            }
          } catch {
            return; // the server was killed under this request: its outcome is unknown
          }
        }
      };
      // A worker: claims (5 s leases), heartbeats, finishes with its token.
      const worker = async (n: number) => {
        for (let i = 0; !stop; i++) {
          try {
            const r = await asWorker("POST", `${server.url}/tasks/claim`, { body: { worker: `crash-w${n}`, max: 2, leaseSeconds: 5 } });
            if (r.status !== 200) continue;
            for (const t of r.json.tasks as { id: string; leaseToken: string; leaseSeconds: number; leaseExpiresAt: string }[]) {
              const lease = { start: Date.parse(t.leaseExpiresAt) - t.leaseSeconds * 1000, expires: Date.parse(t.leaseExpiresAt) };
              (leases.get(t.id) ?? leases.set(t.id, []).get(t.id)!).push(lease);
              claimsAcked++;
              const hb = await asWorker("PUT", `${server.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, progress: 50 } });
              if (hb.status === 200) lease.expires = Math.max(lease.expires, Date.parse(hb.json.leaseExpiresAt));
              (attempted.get(t.id) ?? attempted.set(t.id, new Set()).get(t.id)!).add("SUCCESS");
              const done = await asWorker("PUT", `${server.url}/tasks/${t.id}`, { body: { leaseToken: t.leaseToken, status: "SUCCESS" } });
              if (done.status === 200 && acked.get(t.id) === "IN PROGRESS") {
                acked.set(t.id, "SUCCESS");
                transitionsAcked++;
              }
            }
          } catch {
            return; // killed under this request
          }
        }
      };
      const load = Promise.all([...Array.from({ length: 6 }, (_, n) => client(n)), worker(0), worker(1)]);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
      server.child.kill("SIGKILL");
      stop = true;
      await load;
      await server.exited;
    }

    const check = await spawnServer({ DATABASE_URL: db, API_KEYS_FILE: keys.file });
    let lost = 0;
    try {
      for (const [id, state] of acked) {
        const r = await asClient("GET", `${check.url}/resources/${id}`);
        if (r.status === 404) {
          lost++;
          continue;
        }
        const status = r.json.status;
        if (state !== "IN PROGRESS") expect(status, id).toBe(state);
        else if (status === "FAILED" && !attempted.get(id)?.has("FAILED")) {
          // The one end the server makes by itself here: claims whose answers the kills lost
          // (the worker never saw the job), each lease run out, until no attempt was left.
          // Its history must show exactly that: every attempt claimed and expired.
          expect(r.json.error?.type, id).toBe("urn:async-api:attempts-exhausted");
          const history = (await asClient("GET", `${check.url}/resources/${id}/events?limit=100`)).json.events as { type: string }[];
          const count = (type: string) => history.filter((e) => e.type === type).length;
          expect(count("claimed"), id).toBe(r.json.maxAttempts);
          expect(count("lease-expired"), id).toBe(r.json.maxAttempts);
        } else expect(["IN PROGRESS", ...(attempted.get(id) ?? [])], id).toContain(status);
      }
    } finally {
      check.child.kill("SIGKILL");
    }
    let overlaps = 0;
    for (const held of leases.values()) {
      held.sort((a, b) => a.start - b.start);
      for (let i = 1; i < held.length; i++) if (held[i - 1]!.expires > held[i]!.start) overlaps++;
    }
    console.log(
      `crash safety on ${kind}: kills ${KILLS}, jobs acknowledged ${acked.size}, transitions acknowledged ${transitionsAcked}, claims acknowledged ${claimsAcked}, lost ${lost}, overlapping leases ${overlaps}`,
    );
    expect(lost).toBe(0);
    expect(overlaps).toBe(0);
    expect(claimsAcked).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(KILLS);
    expect(transitionsAcked).toBeGreaterThan(0);
  }, 300_000);
});
