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

/** A long-polling claim's place among the waiters (see ClaimWaiters). */
export interface ClaimWaiter {
  /**
   * Call after each look at the queue with how many jobs it took. True: look again at once
   * (a job arrived while the look was under way and it may have missed it); false: the claim
   * is answered (it took jobs) or may wait.
   */
  looked(taken: number): boolean;
  /** Resolves when a job arrives for this claim, after `ms`, or when the signal aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** Leaves the waiters; notices of jobs it was counted to take and did not are passed on. */
  done(): void;
}

interface Entry {
  names: string[] | undefined;
  /** How many jobs its next look may take. */
  room: number;
  /** looking: its statement is under way; waiting: idle; woken: about to look. */
  state: "looking" | "waiting" | "woken";
  /** Jobs announced to it that its next look will see (it was woken for them, or about to look). */
  promised: (string | undefined)[];
  /** Jobs announced while it was looking: its statement may not have seen them. */
  unseen: (string | undefined)[];
  wake: () => void;
}

/**
 * Long-polling claims waiting for work. A job that becomes available is counted against one
 * claim that would take it: a claim already woken and about to look, while it has room (its
 * look takes every job it has room for, so waking another for the same commit would only send
 * a second claim to the database to find nothing), else the longest waiting one, else one
 * that is looking (which then looks again if it found nothing). Notices a claim did not use
 * (it took fewer jobs than it was counted for) are passed on when it leaves, so that a job
 * announced is never left to the periodic re-check (JobService.claim) while a claim waits.
 */
export class ClaimWaiters {
  private readonly queue = new Set<Entry>();

  /** A claim about to look for up to `room` jobs (with these names, when given). */
  add(names: string[] | undefined, room: number): ClaimWaiter {
    let resolve: () => void = () => {};
    const entry: Entry = { names, room, state: "looking", promised: [], unseen: [], wake: () => resolve() };
    this.queue.add(entry);
    return {
      looked: (taken) => {
        // Taken: what it was counted for beyond what it took is passed on when it leaves (it
        // may have taken other jobs). None taken: the jobs it was woken for went to other
        // claims; it looks again only for jobs that arrived during the look.
        const again = taken === 0 && entry.unseen.length > 0;
        entry.promised = taken === 0 ? [] : entry.promised.slice(taken);
        if (taken === 0) entry.unseen = [];
        return again;
      },
      wait: async (ms, signal) => {
        entry.state = "waiting";
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => resolve();
        signal?.addEventListener("abort", onAbort, { once: true });
        try {
          await new Promise<void>((r) => {
            resolve = r;
            timer = setTimeout(r, ms);
          });
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve = () => {};
        }
        // What was announced until now is committed: the look it starts next will see it.
        entry.state = "looking";
      },
      done: () => {
        this.queue.delete(entry);
        const leftover = [...entry.promised, ...entry.unseen];
        entry.promised = entry.unseen = [];
        for (const name of leftover) this.notify(name);
      },
    };
  }

  private static wants(e: Entry, name: string | undefined): boolean {
    return !e.names || (name !== undefined && e.names.includes(name));
  }

  /** A job with this name (undefined: none) may be available. */
  notify(name: string | undefined): void {
    let waiting: Entry | undefined;
    let looking: Entry | undefined;
    for (const e of this.queue) {
      if (!ClaimWaiters.wants(e, name)) continue;
      if (e.state === "woken" && e.promised.length < e.room) {
        e.promised.push(name);
        return;
      }
      if (e.state === "waiting") waiting ??= e;
      else if (e.state === "looking" && e.unseen.length < e.room) looking ??= e;
    }
    if (waiting) {
      waiting.state = "woken";
      waiting.promised.push(name);
      waiting.wake();
    } else if (looking) looking.unseen.push(name);
  }

  wakeAll(): void {
    for (const e of this.queue) e.wake();
    this.queue.clear();
  }
}
