// Polls a job until it ends, as the contract asks clients to: waiting `Retry-After` between
// polls, following the 303 to the result, stopping at SUCCESS, FAILED or CANCELLED.
import { ApiClient, type Job } from "../../generated/client.js";

export type JobOutcome =
  | { status: "SUCCESS"; job: Job; result: unknown }
  | { status: "FAILED"; job: Job }
  | { status: "CANCELLED"; job: Job };

export interface WaitOptions {
  signal?: AbortSignal | undefined;
  /** Give up after this many milliseconds (rejects with a TimeoutError). */
  timeout?: number | undefined;
  /** Wait used when the server sends no Retry-After (ms); default 1000. */
  defaultInterval?: number | undefined;
}

/** The server refused to show the job to this caller (401 or 403). */
export class JobAccessError extends Error {
  constructor(readonly id: string, readonly status: number, detail: string) {
    super(`job ${id}: ${status} ${detail}`);
    this.name = "JobAccessError";
  }
}

export class JobNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`no job with id ${id}`);
    this.name = "JobNotFoundError";
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export async function waitForJob(client: ApiClient, id: string, opts: WaitOptions = {}): Promise<JobOutcome> {
  const signals = [opts.signal, opts.timeout !== undefined ? AbortSignal.timeout(opts.timeout) : undefined].filter((s): s is AbortSignal => !!s);
  const signal = signals.length ? AbortSignal.any(signals) : new AbortController().signal;
  for (;;) {
    signal.throwIfAborted();
    const r = await client.getJob({ params: { id } }, { signal });
    switch (r.status) {
      case 303: {
        const result = await client.getJobResult({ params: { id } }, { signal });
        if (result.status !== 200) throw new Error(`job ${id} succeeded but its result answered ${result.status}`);
        return { status: "SUCCESS", job: r.body, result: result.body };
      }
      case 500:
        return { status: "FAILED", job: r.body };
      case 404:
        throw new JobNotFoundError(id);
      case 200:
        if (r.body.status === "CANCELLED") return { status: "CANCELLED", job: r.body };
        await sleep(r.headers?.["Retry-After"] !== undefined ? r.headers["Retry-After"] * 1000 : (opts.defaultInterval ?? 1000), signal);
        break;
      default:
        // 401/403: the key is missing, unknown or of the wrong role; polling again will not help.
        throw new JobAccessError(id, r.status, r.body.detail ?? r.body.title);
    }
  }
}
