// The queue over time, for the dashboard and the metrics' gauges: every `intervalMs` the
// store's stats (counts kept by triggers, src/jobs/counts-sql.ts) are sampled and kept for an hour, with
// this instance's create-to-claim latencies of the interval. Every instance samples the same
// database, so on PostgreSQL each shows the whole queue; latencies are this instance's claims.
import type { Clock } from "../jobs/clock.js";
import type { JobStore, QueueStats } from "../jobs/store.js";

export interface QueueSample extends QueueStats {
  /** Epoch ms. */
  at: number;
  /** Create-to-claim of the first attempts claimed here since the previous sample (ms). */
  claimLatency?: { count: number; p50: number; p99: number } | undefined;
}

export class QueueSampler {
  private readonly samples: QueueSample[] = [];
  private latencies: number[] = [];
  private running?: Promise<QueueSample> | undefined;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: JobStore,
    private readonly clock: Clock,
    readonly intervalMs = 10_000,
    private readonly keepMs = 3_600_000,
  ) {}

  start(onError: (e: unknown) => void): void {
    this.timer = setInterval(() => this.sample().catch(onError), this.intervalMs);
    this.timer.unref();
    this.sample().catch(onError);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A first attempt was claimed `ms` after its job was created. */
  claimed(ms: number): void {
    if (this.latencies.length < 100_000) this.latencies.push(ms);
  }

  /** Takes a sample now (one at a time: a caller during a sample gets that sample). */
  sample(): Promise<QueueSample> {
    this.running ??= (async () => {
      try {
        const now = this.clock.now();
        const previous = this.samples.at(-1);
        const stats = await this.store.stats(now, previous?.at ?? now - this.intervalMs);
        const s: QueueSample = { at: now, ...stats };
        const l = this.latencies.sort((a, b) => a - b);
        this.latencies = [];
        if (l.length) s.claimLatency = { count: l.length, p50: l[Math.floor((l.length - 1) * 0.5)]!, p99: l[Math.floor((l.length - 1) * 0.99)]! };
        this.samples.push(s);
        while (this.samples.length && this.samples[0]!.at < now - this.keepMs) this.samples.shift();
        return s;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private peeking?: Promise<QueueStats> | undefined;

  /**
   * The queue now, not recorded in the history (for a scrape: the gauges read together share
   * one query).
   */
  now(): Promise<QueueStats> {
    if (!this.peeking) {
      const now = this.clock.now();
      this.peeking = this.store.stats(now, now).finally(() => (this.peeking = undefined));
    }
    return this.peeking;
  }

  /** The samples of the last hour, oldest first. */
  history(): readonly QueueSample[] {
    return this.samples;
  }
}
