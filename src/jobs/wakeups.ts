// Wake-ups at the times jobs come due (a scheduled job, the end of a retry's backoff): one
// timer, for the earliest; the others wait in a heap ordered by time.
//
// A timer a job was cheaper to write, and wrong twice over. setTimeout takes at most 2^31 - 1
// ms (24.8 days): a job due later fired at once, found its time not come and re-armed, every
// millisecond until then, on every instance that heard of it. And a backlog of scheduled jobs
// held a timer each in every instance. A heap entry is a few dozen bytes.
import TinyQueue from "tinyqueue";
import type { Clock } from "./clock.js";

/** The longest delay setTimeout keeps; a wake-up further off is re-armed when this runs out. */
const MAX_DELAY = 2 ** 31 - 1;

interface Due {
  at: number;
  name: string | undefined;
}

export class Wakeups {
  private readonly due = new TinyQueue<Due>([], (a, b) => a.at - b.at);
  private timer?: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  /** `wake(name)` is called once per wake-up added, at its time or just after. */
  constructor(
    private readonly clock: Clock,
    private readonly wake: (name: string | undefined) => void,
  ) {}

  /** Wakes `name`'s waiting claims at `at` (epoch ms). */
  add(at: number, name: string | undefined): void {
    this.due.push({ at, name });
    if (at < this.armedFor) this.arm();
  }

  /** How many wake-ups are waiting. */
  get size(): number {
    return this.due.length;
  }

  /** Drops every wake-up (on shutdown). */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    while (this.due.length) this.due.pop();
  }

  private arm(): void {
    clearTimeout(this.timer);
    const first = this.due.peek();
    if (!first) {
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    this.armedFor = first.at;
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_DELAY, Math.max(0, first.at - this.clock.now())));
    this.timer.unref();
  }

  /**
   * Wakes what is due and re-arms for the rest. A timer may fire while the wall clock still
   * reads a millisecond before its time (timers run on the monotonic clock): a claim then would
   * not see the job yet, so what is not due by the wall clock waits for the next timer.
   */
  private fire(): void {
    const now = this.clock.now();
    while (this.due.length && this.due.peek()!.at <= now) this.wake(this.due.pop()!.name);
    this.arm();
  }
}
