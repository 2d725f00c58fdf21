// When a schedule is due: its cron expression read by croner (in its time zone, with daylight
// saving time), or a fixed interval from its anchor. Pure functions of the schedule and a time.
import { Cron } from "croner";
import type { ScheduleRecord } from "./store.js";

type Timing = Pick<ScheduleRecord, "cron" | "timezone" | "everyMs" | "anchor">;

/** Parsed expressions by time zone and text (a schedule's is read at every due time). */
const parsed = new Map<string, Cron>();

function cronOf(cron: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ""} ${cron}`;
  let c = parsed.get(key);
  if (!c) {
    if (parsed.size >= 1000) parsed.clear();
    // Five fields, or six with seconds first; `paused`: croner runs nothing here, it only reads.
    c = new Cron(cron, { paused: true, mode: "5-or-6-parts", ...(timezone !== undefined && { timezone }) });
    parsed.set(key, c);
  }
  return c;
}

/** What is wrong with a cron expression and time zone, as a field and a sentence; undefined if nothing. */
export function timingProblem(cron: string | undefined, timezone: string | undefined): { field: string; detail: string } | undefined {
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: timezone });
    } catch {
      return { field: "body/timezone", detail: `is not an IANA time zone: ${timezone}` };
    }
  }
  if (cron === undefined) return undefined;
  try {
    cronOf(cron, timezone).nextRun();
  } catch (e) {
    return { field: "body/cron", detail: `is not a cron expression: ${(e as Error).message.replace(/^CronPattern: /, "")}` };
  }
  return undefined;
}

/** The first due time after `t` (epoch ms); undefined when there is none. */
export function nextAfter(s: Timing, t: number): number | undefined {
  if (s.everyMs !== undefined) return s.anchor + s.everyMs * (Math.floor((t - s.anchor) / s.everyMs) + 1);
  const next = cronOf(s.cron!, s.timezone).nextRun(new Date(t));
  return next ? next.getTime() : undefined;
}
