import { SqliteJobStore } from "../../src/jobs/sqlite-store.js";
const s = new SqliteJobStore(":memory:");
await s.limits.set("name", "mail", { concurrency: 2 }, "root", Date.now());
for (let i = 0; i < 4; i++) await s.create({ id: `j${i}`, request: {}, name: "mail", start: new Date().toISOString(), deadlineAt: Date.now() + 1e6 });
try {
  const got = await s.claim({ now: Date.now(), worker: "w", tokens: ["a", "b", "c", "d"], leaseMs: 10000 });
  console.log(got.map((j) => j.id));
} catch (e) { console.log("ERR", (e as Error).message); }
console.log(await s.limits.list());
