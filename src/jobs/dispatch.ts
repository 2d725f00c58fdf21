// Push dispatch, for backends that prefer to be called: with DISPATCH_URL set, the service
// itself claims each waiting job (as a worker named "dispatch") and POSTs it, lease token
// included, to the backend, signed like the completion webhooks. The backend then moves the
// job on with PUT /tasks/{id} like any worker: heartbeats, outcome, retryable failure.
//
// The jobs table is the durable outbox: a job not yet accepted by the backend is simply a
// waiting job, so nothing is lost across restarts, several instances share the work (claims
// never hand a job out twice), and retried or lease-expired jobs are dispatched again. A
// delivery the backend does not accept (not 2xx, unreachable, timeout) gives the job back
// without spending an attempt, to be dispatched again after a backoff.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { JobService } from "./service.js";
import type { JobRecord } from "./store.js";
import { deliveryBackoff, postSigned } from "./webhooks.js";

export interface DispatchOptions {
  url: string;
  /** Signing key (the webhooks' secret). */
  secret: string;
  /** Only jobs with these names (default all). */
  names?: string[] | undefined;
  /** Deliveries in flight at once. */
  concurrency: number;
  /** The lease each dispatched job gets; the backend extends it with heartbeats. */
  leaseSeconds: number;
  timeoutMs: number;
  /** First redelivery delay after a failed delivery (doubling, capped at 5 min). */
  backoffMs: number;
  clock: Clock;
  logger: Logger;
  /** The job as the backend gets it (a claimed task). */
  render: (job: JobRecord) => unknown;
  /** Told of each delivery's outcome (metrics). */
  onDelivery?: ((result: "delivered" | "retry") => void) | undefined;
}

export class Dispatcher {
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Failed deliveries per job, for the backoff (reset by a restart: the next one is prompt). */
  private readonly failures = new Map<string, number>();
  private running?: Promise<void>;

  constructor(private readonly service: JobService, private readonly opts: DispatchOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await Promise.all(this.inFlight);
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      const free = this.opts.concurrency - this.inFlight.size;
      if (free <= 0) {
        await Promise.race(this.inFlight);
        continue;
      }
      let jobs: JobRecord[];
      try {
        // Long-polls like a worker's claim: woken as soon as a job is created or given back.
        jobs = await this.service.claim({ worker: "dispatch", names: this.opts.names, max: free, leaseSeconds: this.opts.leaseSeconds }, 30_000, signal);
      } catch (err) {
        this.opts.logger.warn({ err }, "dispatch: claiming failed");
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const job of jobs) {
        const p = this.deliver(job).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
    }
  }

  private async deliver(job: JobRecord): Promise<void> {
    // Unique per delivery: a redelivery carries a new lease token, which the backend must use.
    const id = `msg_${randomBytes(16).toString("hex")}`;
    const error = await postSigned(this.opts.url, { id, body: JSON.stringify(this.opts.render(job)) }, this.opts);
    if (error === undefined) {
      this.failures.delete(job.id);
      this.opts.onDelivery?.("delivered");
      this.opts.logger.info({ job: job.id, attempt: job.attempts, delivery: id }, "job dispatched");
      return;
    }
    this.opts.onDelivery?.("retry");
    const failures = this.failures.get(job.id) ?? 0;
    // Jobs cancelled while undeliverable leave entries behind: keep the map bounded.
    if (this.failures.size >= 10_000) this.failures.clear();
    this.failures.set(job.id, failures + 1);
    const retryAt = this.opts.clock.now() + deliveryBackoff(this.opts.backoffMs, failures);
    this.opts.logger.warn({ job: job.id, delivery: id, error, retryAt: new Date(retryAt).toISOString() }, "dispatch not accepted; will retry");
    try {
      await this.service.giveBack(job, retryAt);
    } catch (err) {
      // The lease runs out by itself; the job is dispatched again then.
      this.opts.logger.warn({ err, job: job.id }, "dispatch: could not give the job back");
    }
  }
}
