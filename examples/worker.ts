// `npm run worker:example`: a worker that does visible work. For each job it goes through
// `input.steps` steps (default 10) of `input.stepMs` each (default 500 ms), reporting
// progress after each, and succeeds with a small summary. `input.fail` makes an attempt fail
// (retryable, unless `input.fail` is "permanent"). Ctrl-C (SIGINT) or SIGTERM stops it
// gracefully: it takes no more jobs, finishes what it holds or gives it back.
//
// Environment: API_URL (default http://127.0.0.1:3000), API_KEY (a worker's key, when the
// service has keys), WORKER_NAMES (comma-separated job
// names; default any), WORKER_CONCURRENCY (default 2), WORKER_LEASE_SECONDS (default 30),
// WORKER_SHUTDOWN_TIMEOUT_MS (default 25000).
import { setTimeout as sleep } from "node:timers/promises";
import { PermanentJobError, runWorker, type Task } from "../src/client/worker.js";

const env = process.env;
const who = `example-worker:${process.pid}`;

/** A setting that cannot work: one line naming it and its value, exit 2. */
function refuse(setting: string, why: string): never {
  console.error(`configuration error: ${setting}=${JSON.stringify(env[setting])}: ${why}`);
  process.exit(2);
}

function whole(setting: string, fallback: number, min: number, max: number): number {
  const raw = env[setting];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) refuse(setting, `must be a whole number from ${min} to ${max}`);
  return n;
}

const apiUrl = env["API_URL"] ?? "http://127.0.0.1:3000";
if (!/^https?:\/\/[^/]/.test(apiUrl) || !URL.canParse(apiUrl)) refuse("API_URL", "must be the service's http:// or https:// address");
const concurrency = whole("WORKER_CONCURRENCY", 2, 1, 1000);
const leaseSeconds = whole("WORKER_LEASE_SECONDS", 30, 5, 3600);
const shutdownTimeoutMs = whole("WORKER_SHUTDOWN_TIMEOUT_MS", 25_000, 0, 3_600_000);

const bar = (p: number) => `${"#".repeat(Math.round(p / 10))}${".".repeat(10 - Math.round(p / 10))} ${String(p).padStart(3)}%`;
const label = (t: Task) => `${t.id} ${JSON.stringify(t.name ?? "")} attempt ${t.attempt}/${t.maxAttempts}`;

const worker = runWorker({
  baseUrl: apiUrl,
  apiKey: env["API_KEY"] || undefined,
  names: env["WORKER_NAMES"] ? env["WORKER_NAMES"].split(",") : undefined,
  concurrency,
  leaseSeconds,
  shutdownTimeoutMs,
  worker: who,
  async handler(task, { signal, progress }) {
    const input = (task.input ?? {}) as { steps?: number; stepMs?: number; fail?: boolean | string };
    const steps = Math.max(1, Math.min(1000, Number(input.steps ?? 10)));
    const stepMs = Math.max(0, Number(input.stepMs ?? 500));
    for (let i = 1; i <= steps; i++) {
      // Node's own abortable sleep: it removes its abort listener when the time is up.
      await sleep(stepMs, undefined, { signal });
      const p = Math.round((i / steps) * 100);
      console.log(`[worker] ${task.id} ${bar(p)}`);
      if (i < steps) await progress(p);
    }
    if (input.fail === "permanent") throw new PermanentJobError("the input asks to fail for good");
    if (input.fail) throw new Error("the input asks this attempt to fail");
    return { steps, by: who, finishedAt: new Date().toISOString() };
  },
  onEvent(e) {
    if (e.type === "claimed") console.log(`[worker] took ${label(e.task)}`);
    else if (e.type === "succeeded") console.log(`[worker] ${e.task.id} SUCCESS`);
    else if (e.type === "failed") console.log(`[worker] ${e.task.id} FAILED (${e.retryable ? "will be retried" : "for good"}): ${e.error.title}`);
    else if (e.type === "cancelled") console.log(`[worker] ${e.task.id} was cancelled; stopped`);
    else if (e.type === "lease-lost") console.log(`[worker] ${e.task.id} lease lost (${e.reason}); stopped`);
    else if (e.type === "released") console.log(`[worker] ${e.task.id} given back unfinished`);
    else console.log(`[worker] error: ${(e.error as Error)?.message ?? String(e.error)}`);
  },
});
console.log(`[worker] ${who} waiting for jobs at ${apiUrl}`);
await worker.done;
console.log("[worker] stopped");
