// Prometheus metrics (prom-client), one registry per server. Requests are counted by
// operation and status through the router's onRoute hook; the job engine reports claims,
// ends, retries and cancels as they happen here (JobObserver); what the queue holds is read
// from the latest queue sample when scraped. Label values come from the spec (operations,
// statuses) or from a small fixed set, never from what a caller sends, except job names in
// the queue gauges, which are bounded by the names that have jobs in progress.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
const requireCjs = createRequire(import.meta.url);
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { JobObserver } from "../jobs/service.js";
import type { JobRecord, JobStore } from "../jobs/store.js";
import type { QueueSampler } from "./sampler.js";

const OPERATION = Symbol("operation");
const STARTED = Symbol("started");
type Observed = ServerResponse & { [OPERATION]?: OperationStats; [STARTED]?: number };

/** One operation's requests: answers by status, and the duration histogram's buckets (the last is +Inf). */
interface OperationStats {
  statuses: Record<number, number>;
  buckets: number[];
  sum: number;
  count: number;
}

/** Seconds; from a fast poll to a long-poll held for its whole wait. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; from a waiting worker's long-poll to jobs queued for an hour. */
const JOB_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** http_request_duration_seconds as prom-client renders a histogram, from the plain counts. */
function requestDurations(perOperation: Map<string, OperationStats>) {
  const name = "http_request_duration_seconds";
  const metric = {
    name,
    help: "Time to answer an API request, by operation (long-polls included).",
    type: "histogram",
    aggregator: "sum",
    reset() {},
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [operation, o] of perOperation) {
        let cumulative = 0;
        REQUEST_BUCKETS.forEach((le, i) => {
          cumulative += o.buckets[i]!;
          values.push({ labels: { le, operation }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: { le: "+Inf", operation }, value: o.count, metricName: `${name}_bucket` });
        values.push({ labels: { operation }, value: o.sum, metricName: `${name}_sum` });
        values.push({ labels: { operation }, value: o.count, metricName: `${name}_count` });
      }
      return { name, help: metric.help, type: "histogram", values, aggregator: "sum" };
    },
  };
  return metric;
}

export class Metrics implements JobObserver {
  readonly registry = new Registry();
  /**
   * Per operation, counted on the request path with plain arithmetic (prom-client's own
   * counters hash their labels on every call, which cost 3-10 % of a request) and handed to
   * prom-client when scraped.
   */
  private readonly perOperation = new Map<string, OperationStats>();
  private readonly createdTotal = new Counter({ name: "jobs_created_total", help: "Jobs created through this instance.", registers: [this.registry] });
  private readonly endedTotal = new Counter({ name: "jobs_ended_total", help: "Jobs ended through this instance, by outcome.", labelNames: ["status"] as const, registers: [this.registry] });
  private readonly claims = new Counter({ name: "jobs_claimed_total", help: "Leases handed out by this instance (each one an attempt).", registers: [this.registry] });
  private readonly leaseExpiries = new Counter({ name: "jobs_lease_expired_total", help: "Leases that ran out without a report (found by a claim here, or failing the job's last attempt).", registers: [this.registry] });
  private readonly retries = new Counter({ name: "jobs_retries_total", help: "Retryable failures queued again after backoff.", registers: [this.registry] });
  private readonly cancelsSeen = new Counter({ name: "jobs_cancels_seen_by_worker_total", help: "Worker updates answered that the job was cancelled (a cancel reaching its worker).", registers: [this.registry] });
  private readonly createToClaim = new Histogram({ name: "jobs_create_to_claim_seconds", help: "From a job's creation to its first claim.", buckets: JOB_BUCKETS, registers: [this.registry] });
  private readonly claimToEnd = new Histogram({ name: "jobs_claim_to_end_seconds", help: "From a claim to the end its worker reported.", labelNames: ["status"] as const, buckets: JOB_BUCKETS, registers: [this.registry] });
  /** Delivery outcomes of completion pushes (webhooks) and of dispatches to a backend. */
  readonly deliveries = new Counter({ name: "deliveries_total", help: "Outbound deliveries by kind (webhook, dispatch) and result (delivered, retry, failed).", labelNames: ["kind", "result"] as const, registers: [this.registry] });

  constructor(opts: { store: JobStore; sampler: QueueSampler }) {
    // prom-client's default metrics, but for its GC duration histogram: its observer of every
    // garbage collection cost 2-3 % of a request in `npm run bench` (poll), the rest about 1 %.
    // (collectDefaultMetrics has no way to leave one out; these are its own modules.)
    for (const m of ["processCpuTotal", "processStartTime", "osMemoryHeap", "processOpenFileDescriptors", "processMaxFileDescriptors", "eventLoopLag", "processResources", "processHandles", "processRequests", "heapSizeAndUsed", "heapSpacesSizeAndUsed", "version"]) {
      (requireCjs(`prom-client/lib/metrics/${m}`) as (r: Registry, c: object) => void)(this.registry, { eventLoopMonitoringPrecision: 10 });
    }
    const { store, sampler } = opts;
    const perOperation = this.perOperation;
    new Counter({
      name: "http_requests_total",
      help: "API requests answered, by operation and status.",
      labelNames: ["operation", "status"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [operation, o] of perOperation) for (const status in o.statuses) this.inc({ operation, status }, o.statuses[status]);
      },
    });
    this.registry.registerMetric(requestDurations(perOperation) as never);
    const queue = (name: string, help: string, pick: (q: { waiting: number; running: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["name"] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const q of (await sampler.now()).queues) this.set({ name: q.name ?? "" }, pick(q));
        },
      });
    queue("jobs_waiting", "IN PROGRESS jobs no worker holds (queued, in backoff, or whose lease ran out), by job name.", (q) => q.waiting);
    queue("jobs_running", "IN PROGRESS jobs held under an unexpired lease, by job name.", (q) => q.running);
    new Gauge({
      name: "webhook_outbox_pending",
      help: "Completion pushes written and not yet delivered or given up.",
      registers: [this.registry],
      async collect() {
        this.set((await sampler.now()).outbox);
      },
    });
    if (store.connections) {
      const connections = store.connections.bind(store);
      new Gauge({
        name: "db_pool_connections",
        help: "Database pool connections by state (total, idle, waiting: callers waiting for one).",
        labelNames: ["state"] as const,
        registers: [this.registry],
        collect() {
          const c = connections();
          this.set({ state: "total" }, c.total);
          this.set({ state: "idle" }, c.idle);
          this.set({ state: "waiting" }, c.waiting);
        },
      });
    }
    this.sampler = sampler;
  }

  private readonly sampler: QueueSampler;

  /**
   * The router's onRoute hook: marks the response with its operation. The server's one
   * 'finish' listener per request (the request log's, or its own) then calls `finished`:
   * a second listener per request cost more than the counting.
   */
  readonly onRoute = (operation: string, _req: IncomingMessage, res: ServerResponse): void => {
    let o = this.perOperation.get(operation);
    if (!o) this.perOperation.set(operation, (o = { statuses: {}, buckets: new Array<number>(REQUEST_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    (res as Observed)[OPERATION] = o;
    (res as Observed)[STARTED] = performance.now();
  };

  /** Counts a sent answer (of an API operation; others are not marked and not counted). */
  readonly finished = (res: ServerResponse): void => {
    const o = (res as Observed)[OPERATION];
    if (!o) return;
    o.statuses[res.statusCode] = (o.statuses[res.statusCode] ?? 0) + 1;
    const seconds = (performance.now() - (res as Observed)[STARTED]!) / 1000;
    let i = 0;
    while (i < REQUEST_BUCKETS.length && seconds > REQUEST_BUCKETS[i]!) i++;
    o.buckets[i]!++;
    o.sum += seconds;
    o.count++;
  };

  created(): void {
    this.createdTotal.inc();
  }

  claimed(job: JobRecord, now: number, leaseExpired: boolean): void {
    this.claims.inc();
    if (leaseExpired) this.leaseExpiries.inc();
    if (job.attempts === 1) {
      const ms = now - Date.parse(job.start);
      this.createToClaim.observe(ms / 1000);
      this.sampler.claimed(ms);
    }
  }

  ended(status: JobRecord["status"], job: JobRecord | undefined, now: number, count = 1): void {
    this.endedTotal.inc({ status }, count);
    // Reported by the lease's worker (a lease that ran out, or a cancel, ends no attempt of it).
    if (job?.lease && job.lease.claimedAt > 0 && status !== "CANCELLED" && job.lease.expiresAt >= now) {
      this.claimToEnd.observe({ status }, (now - job.lease.claimedAt) / 1000);
    }
  }

  leaseExhausted(): void {
    this.leaseExpiries.inc();
  }

  retryScheduled(): void {
    this.retries.inc();
  }

  cancelSeen(): void {
    this.cancelsSeen.inc();
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<{ type: string; body: string }> {
    return { type: this.registry.contentType, body: await this.registry.metrics() };
  }
}
