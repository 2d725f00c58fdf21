// A token bucket per caller, for job creation: `ratePerSecond` tokens refill continuously up
// to `burst`; a request takes one or is told how long until one is there. Per process (each
// instance behind a load balancer limits on its own).
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly ratePerSecond: number, private readonly burst: number, private readonly now: () => number = Date.now) {}

  /** Takes a token for `who`: undefined when granted, else the seconds to wait (at least 1). */
  take(who: string): number | undefined {
    const t = this.now();
    let b = this.buckets.get(who);
    if (!b) {
      // Bounded memory: callers who have been idle long enough to be full again are forgotten.
      if (this.buckets.size >= 10_000) this.prune(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(who, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerSecond);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.ratePerSecond));
  }

  private prune(t: number): void {
    const full = (this.burst / this.ratePerSecond) * 1000;
    for (const [k, b] of this.buckets) if (t - b.at >= full) this.buckets.delete(k);
    if (this.buckets.size >= 10_000) this.buckets.clear();
  }
}
