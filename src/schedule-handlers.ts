// The schedules' handlers (/schedules): a client's own schedules, an admin's view of all. The
// scheduler (src/schedules/scheduler.ts) makes their jobs.
import type { Handlers, NodeContext, Problem, Schedule, ScheduledJob, ScheduleRequest, ScheduleUpdate } from "../generated/index.js";
import { invalid } from "./problems.js";
import { basePath } from "../generated/router.js";
import { maySee, type Caller } from "./auth/authenticators.js";
import type { Clock } from "./jobs/clock.js";
import { newJobId } from "./jobs/ids.js";
import { callbackUrlProblem } from "./jobs/webhooks.js";
import type { ScheduleRecord, ScheduleStore } from "./schedules/store.js";
import { nextAfter, timingProblem } from "./schedules/timing.js";

type ScheduleHandlers = Pick<Handlers<Caller, NodeContext>, "listSchedules" | "createSchedule" | "getSchedule" | "updateSchedule" | "deleteSchedule">;

export interface ScheduleHandlerOptions {
  clock: Clock;
  /** Which callback URLs a schedule's job may carry; undefined: completion push is off. */
  callbacks?: { allowedHosts: string[]; allowPrivate: boolean } | undefined;
}

/** Most schedules a list answers. */
const LIST_LIMIT = 1000;

const schedulePath = (id: string) => `${basePath}/schedules/${encodeURIComponent(id)}`;

export function toSchedule(s: ScheduleRecord): Schedule {
  return {
    id: s.id,
    href: schedulePath(s.id),
    ...(s.cron !== undefined && { cron: s.cron }),
    ...(s.timezone !== undefined && { timezone: s.timezone }),
    ...(s.everyMs !== undefined && { everySeconds: s.everyMs / 1000 }),
    job: s.template as ScheduledJob,
    catchUp: s.catchUp,
    paused: s.paused,
    ...(!s.paused && s.next !== undefined && { nextRunAt: new Date(s.next).toISOString() }),
    ...(s.last !== undefined && { lastRunAt: new Date(s.last).toISOString() }),
    ...(s.lastJob !== undefined && { lastJob: s.lastJob }),
    created: new Date(s.created).toISOString(),
  };
}

function notFound(id: string): Problem {
  return { type: "about:blank", title: "Not Found", status: 404, detail: `no schedule with id ${JSON.stringify(id)}` };
}

export function scheduleHandlers(store: ScheduleStore, opts: ScheduleHandlerOptions): ScheduleHandlers {
  /** What is wrong with a schedule's settings, as a 400 problem. */
  const problem = (s: ScheduleRecord): Problem | undefined => {
    if ((s.cron === undefined) === (s.everyMs === undefined)) return invalid("body/cron", "give cron or everySeconds, one of the two");
    if (s.timezone !== undefined && s.cron === undefined) return invalid("body/timezone", "is only for a cron expression");
    const t = timingProblem(s.cron, s.timezone);
    if (t) return invalid(t.field, t.detail);
    const url = (s.template as ScheduledJob).callbackUrl;
    if (url !== undefined) {
      const why = opts.callbacks ? callbackUrlProblem(url, opts.callbacks) : "completion push is not enabled on this server";
      if (why) return invalid("body/job/callbackUrl", why);
    }
    return undefined;
  };
  const visible = async (id: string, caller: Caller) => {
    const s = await store.get(id);
    return s && maySee(caller, s.owner) ? s : undefined;
  };
  /** The timing of a request or update as the record keeps it. */
  const timing = (r: ScheduleRequest | ScheduleUpdate) => ({ cron: r.cron, timezone: r.timezone, everyMs: r.everySeconds === undefined ? undefined : r.everySeconds * 1000 });

  return {
    async listSchedules({ auth }) {
      const owner = maySee(auth.principal, undefined) ? undefined : auth.principal.name;
      return { status: 200, body: { schedules: (await store.list(owner, LIST_LIMIT)).map(toSchedule) } };
    },

    async createSchedule({ body, auth }) {
      const now = opts.clock.now();
      const s: ScheduleRecord = {
        id: `sch_${newJobId()}`,
        ...(auth.principal.open ? {} : { owner: auth.principal.name }),
        ...timing(body),
        anchor: now,
        template: body.job as Record<string, unknown>,
        catchUp: body.catchUp ?? "once",
        paused: body.paused ?? false,
        created: now,
      };
      const bad = problem(s);
      if (bad) return { status: 400, body: bad };
      s.next = nextAfter(s, now);
      await store.create(s);
      return { status: 201, headers: { Location: schedulePath(s.id) }, body: toSchedule(s) };
    },

    async getSchedule({ params, auth }) {
      const s = await visible(params.id, auth.principal);
      return s ? { status: 200, body: toSchedule(s) } : { status: 404, body: notFound(params.id) };
    },

    async updateSchedule({ params, body, auth }) {
      const s = await visible(params.id, auth.principal);
      if (!s) return { status: 404, body: notFound(params.id) };
      const now = opts.clock.now();
      const retimed = body.cron !== undefined || body.everySeconds !== undefined || body.timezone !== undefined;
      const resumed = s.paused && body.paused === false;
      const next: ScheduleRecord = { ...s };
      if (body.cron !== undefined || body.everySeconds !== undefined) Object.assign(next, timing(body));
      else if (body.timezone !== undefined) next.timezone = body.timezone;
      if (body.job !== undefined) next.template = body.job as Record<string, unknown>;
      if (body.catchUp !== undefined) next.catchUp = body.catchUp;
      if (body.paused !== undefined) next.paused = body.paused;
      const bad = problem(next);
      if (bad) return { status: 400, body: bad };
      // A new timing, or a resume, counts from now: due times while paused are not made up for.
      if (retimed || resumed) {
        next.anchor = now;
        next.next = nextAfter(next, now);
      }
      if (!(await store.update(next, now))) return { status: 404, body: notFound(params.id) };
      return { status: 200, body: toSchedule(next) };
    },

    async deleteSchedule({ params, auth }) {
      const s = await visible(params.id, auth.principal);
      if (!s || !(await store.delete(s.id))) return { status: 404, body: notFound(params.id) };
      return { status: 204 };
    },
  };
}
