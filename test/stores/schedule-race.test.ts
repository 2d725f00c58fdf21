// A schedule paused, or retimed, while the scheduler is making its due job: the job made is
// that due time's all the same, and the schedule's last run must say so (the scheduler's
// move-on is a compare-and-set that fails here). The race is made to happen every time: the
// job service's create pauses the schedule before it answers.
import { afterAll, describe, expect, it } from "vitest";
import type { JobRequest } from "../../generated/types.js";
import { ManualClock } from "../../src/jobs/clock.js";
import { JobService } from "../../src/jobs/service.js";
import { Scheduler } from "../../src/schedules/scheduler.js";
import type { ScheduleRecord } from "../../src/schedules/store.js";
import { openStore } from "../../src/stores.js";
import { dropTestSchemas, freshDatabaseUrl, STORE_KINDS } from "../helpers/stores.js";

afterAll(() => dropTestSchemas());

describe.each(STORE_KINDS)("a schedule changed while its job is being made (%s)", (kind) => {
  it.each([
    ["paused", (s: ScheduleRecord) => ({ ...s, paused: true })],
    ["retimed", (s: ScheduleRecord) => ({ ...s, everyMs: 120_000, next: s.next! + 60_000 })],
  ] as const)("%s: the job made is still recorded as its last run, and the change stands", async (_, change) => {
    const store = await openStore({ databaseUrl: freshDatabaseUrl(kind), sqliteSynchronous: "NORMAL" });
    try {
      const clock = new ManualClock();
      const now = clock.now();
      const schedule: ScheduleRecord = { id: "sch_race", everyMs: 60_000, anchor: now, template: { name: "report" }, catchUp: "once", paused: false, next: now + 500, created: now };
      await store.schedules.create(schedule);
      const service = new JobService(store, { clock, deadlineMs: 3_600_000, retentionMs: 86_400_000 });
      const changed = change(schedule);
      const create = service.create.bind(service);
      service.create = async (...args: Parameters<JobService["create"]>) => {
        const made = await create(...args);
        // Between the job's create and the scheduler's move-on, an admin's update lands.
        await store.schedules.update(changed, clock.now());
        return made;
      };
      const scheduler = new Scheduler(store.schedules, service, { clock, graceMs: 60_000, onError: (e) => { throw e; } });
      await scheduler.look();
      const jobs = (await store.list({ limit: 10 })).jobs;
      expect(jobs).toHaveLength(1);
      expect((jobs[0]!.request as JobRequest).name).toBe("report");
      const after = (await store.schedules.get("sch_race"))!;
      expect(after).toMatchObject({ last: now + 500, lastJob: jobs[0]!.id, paused: changed.paused, next: changed.next });
      // A later look changes nothing more: a paused schedule makes no job, a retimed one's next is not due.
      await scheduler.look();
      expect((await store.list({ limit: 10 })).jobs).toHaveLength(1);
      service.stopWaiting();
    } finally {
      await store.close();
    }
  });
});
