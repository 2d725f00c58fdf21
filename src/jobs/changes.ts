// Fan-out of store events (a job changed, a job became available) to waiting long-polls.
export class ChangeFeed<T = string> {
  private readonly listeners = new Set<(value: T) => void>();

  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(value: T): void {
    for (const l of this.listeners) l(value);
  }
}

export interface Waiter {
  /** Resolves when woken, after `ms`, or when the signal aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** Leaves the queue (whether woken or not). */
  done(): void;
}

/**
 * Long-polling claims waiting for work. A job that becomes available wakes one waiter that
 * would take it, the longest waiting first, so that one new job does not send every idle
 * worker to the database. A woken waiter looks again; if another claim was faster, it waits
 * again. Waiters also look again by themselves now and then (see JobService.claim).
 */
export class ClaimWaiters {
  private readonly queue = new Set<{ names?: string[] | undefined; wake: () => void; woken: boolean }>();

  add(names?: string[]): Waiter {
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    const entry = { names, wake: () => ((entry.woken = true), wake()), woken: false };
    this.queue.add(entry);
    return {
      wait: async (ms, signal) => {
        if (entry.woken) return;
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => entry.wake();
        signal?.addEventListener("abort", onAbort, { once: true });
        try {
          await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        }
      },
      done: () => {
        this.queue.delete(entry);
      },
    };
  }

  /** A job with this name (undefined: none) may be available. */
  notify(name: string | undefined): void {
    for (const w of this.queue) {
      if (w.woken || (w.names && (name === undefined || !w.names.includes(name)))) continue;
      this.queue.delete(w);
      w.wake();
      return;
    }
  }

  wakeAll(): void {
    for (const w of this.queue) w.wake();
    this.queue.clear();
  }
}
