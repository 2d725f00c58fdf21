// The scheduler every instance runs: a few times a second it reads the schedules due within
// its look-ahead and creates each due time's job (to run at that time) under an
// Idempotency-Key made of the schedule and the due time, then moves the schedule on with a
// compare-and-set (schedule-sql.ts says why that makes one job per due time across instances).
// Jobs are created ahead of their time, so that workers long-polling get them at their time
// (the run-later wake-up), not one look later.
import type { JobRequest } from "../../generated/types.js";
import type { Clock } from "../jobs/clock.js";
import type { JobService } from "../jobs/service.js";
import type { ScheduleRecord, ScheduleStore } from "./store.js";
import { nextAfter } from "./timing.js";

export interface SchedulerOptions {
  clock: Clock;
  /** A due time later than this when looked at was missed (downtime): its schedule's catch-up policy decides. */
  graceMs: number;
  /** How far ahead jobs are created (default 1 s). */
  lookaheadMs?: number | undefined;
  /** How often to look (default 250 ms). */
  tickMs?: number | undefined;
  onError?: ((e: unknown) => void) | undefined;
}

/** Most due times one schedule gets jobs for in one look (the rest in the next). */
const PER_LOOK = 100;

/**
 * The Idempotency-Key of a schedule's job for a due time. The job's record reads its due time
 * back from it (row.ts), so that a job made late (after downtime) still says what it is for.
 */
export function scheduledJobKey(scheduleId: string, due: number): string {
  return `schedule:${scheduleId}@${due}`;
}

export class Scheduler {
  private timer?: NodeJS.Timeout | undefined;
  private looking?: Promise<void> | undefined;

  constructor(
    private readonly store: ScheduleStore,
    private readonly jobs: JobService,
    private readonly opts: SchedulerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.look(), this.opts.tickMs ?? 250);
    this.timer.unref();
  }

  /** Stops looking; resolves once a look under way has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.looking;
  }

  /** One look (one at a time: a look still running is waited for, not doubled). */
  look(): Promise<void> {
    this.looking ??= this.lookOnce()
      .catch((e) => this.opts.onError?.(e))
      .finally(() => (this.looking = undefined));
    return this.looking;
  }

  private async lookOnce(): Promise<void> {
    const now = this.opts.clock.now();
    const until = now + (this.opts.lookaheadMs ?? 1000);
    for (const s of await this.store.due(until, 100)) await this.fire(s, now, until);
  }

  /** Creates the schedule's jobs due up to `until`, moving it on after each. */
  private async fire(s: ScheduleRecord, now: number, until: number): Promise<void> {
    const missedBefore = now - this.opts.graceMs;
    for (let i = 0; i < PER_LOOK && s.next !== undefined && s.next <= until; i++) {
      const due = s.next;
      const missed = due < missedBefore;
      // Missed due times: `once` makes one job (the first's) for all of them, `skip` none;
      // the schedule then goes on from the first due time not missed.
      const job = !missed || s.catchUp === "once" ? await this.create(s, due) : undefined;
      const next = nextAfter(s, missed ? missedBefore : due);
      if (!(await this.store.advance(s.id, due, next, job === undefined ? undefined : due, job))) {
        // Another instance moved it on, or it was paused or retimed since it was read: the job
        // made is still this due time's, and the schedule's last run says so.
        if (job !== undefined) await this.store.recordRun(s.id, due, job);
        return;
      }
      s.next = next;
    }
  }

  private async create(s: ScheduleRecord, due: number): Promise<string> {
    const request = { ...s.template, runAt: new Date(due).toISOString() } as JobRequest;
    // Another instance's create for the same due time is replayed (or, had the schedule's job
    // changed in between, refused as a key conflict): either way that job is this due time's.
    const r = await this.jobs.create(request, scheduledJobKey(s.id, due), s.owner, undefined, s.id);
    if (!("job" in r)) throw new Error(`schedule ${s.id}: its job was refused (${r.kind})`);
    return r.job.id;
  }
}
