// npm run bench:longpoll: polls per job and the delay from a job's completion to the client's
// knowing it, with plain polling (honouring Retry-After) and with `Prefer: wait=N` long-poll.
// 50 jobs each completed by a simulated backend after a random 0.5-4 s.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { loadConfig } from "../src/config.js";
import { startServer } from "../src/server.js";

const JOBS = Number(process.env["LONGPOLL_JOBS"] ?? 50);

async function trial(url: string, longPoll: boolean): Promise<{ polls: number[]; lagMs: number[] }> {
  const polls: number[] = [];
  const lagMs: number[] = [];
  await Promise.all(
    Array.from({ length: JOBS }, async () => {
      const id = ((await (await fetch(`${url}/resources`, { method: "POST" })).json()) as { id: string }).id;
      let completedAt = 0;
      setTimeout(async () => {
        completedAt = Date.now();
        await fetch(`${url}/tasks/${id}`, { method: "PUT" });
      }, 500 + Math.random() * 3500);
      let n = 0;
      for (;;) {
        n++;
        const r = await fetch(`${url}/resources/${id}`, { redirect: "manual", headers: longPoll ? { Prefer: "wait=30" } : {} });
        await r.arrayBuffer();
        if (r.status === 303) {
          lagMs.push(Date.now() - completedAt);
          polls.push(n);
          return;
        }
        if (!longPoll) await new Promise((res) => setTimeout(res, Number(r.headers.get("retry-after") ?? 1) * 1000));
      }
    }),
  );
  return { polls, lagMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];

const dir = mkdtempSync(path.join(os.tmpdir(), "longpoll-"));
const running = await startServer({ ...loadConfig({ DATABASE_URL: `sqlite:${path.join(dir, "jobs.db")}` }), port: 0, host: "127.0.0.1" }, { logger: pino({ level: "silent" }) });
try {
  console.log(`${JOBS} jobs, completed after 0.5-4 s; Retry-After: 1`);
  console.log("mode          polls/job (mean)  completion -> client knows: median  p95");
  for (const longPoll of [false, true]) {
    const { polls, lagMs } = await trial(running.url, longPoll);
    const mean = polls.reduce((a, b) => a + b, 0) / polls.length;
    console.log(`${(longPoll ? "Prefer: wait" : "polling").padEnd(14)}${mean.toFixed(2).padStart(16)}${`${median(lagMs)} ms`.padStart(38)}${`${p95(lagMs)} ms`.padStart(9)}`);
  }
} finally {
  await running.close();
}
