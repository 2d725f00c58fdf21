// The schedules' storage, written once over the job store's database (schedule-sql.ts): each
// store's driver only runs the statements (`query`).
import { SCHEDULE_SQL, type ScheduleRow } from "./schedule-sql.js";

/** Runs a statement with `:name` parameters on the job store's database; its rows and how many it changed. */
export type Query = <T>(sql: string, params: Record<string, unknown>) => Promise<{ rows: T[]; changes: number }>;

export type CatchUp = "skip" | "once";

/** A schedule as the service keeps it (times in epoch ms). */
export interface ScheduleRecord {
  id: string;
  owner?: string | undefined;
  /** A cron expression, read in `timezone` (default UTC); or `everyMs`. */
  cron?: string | undefined;
  timezone?: string | undefined;
  everyMs?: number | undefined;
  /** Interval schedules: due times are `anchor + k * everyMs`. */
  anchor: number;
  /** The job request to create at each due time. */
  template: Record<string, unknown>;
  catchUp: CatchUp;
  paused: boolean;
  /** The next due time; undefined when the expression has none left. */
  next?: number | undefined;
  last?: number | undefined;
  lastJob?: string | undefined;
  created: number;
}

function toRecord(r: ScheduleRow): ScheduleRecord {
  const s: ScheduleRecord = {
    id: r.id,
    anchor: Number(r.anchor_ms),
    template: JSON.parse(r.template) as Record<string, unknown>,
    catchUp: r.catch_up,
    paused: Number(r.paused) === 1,
    created: Number(r.created_ms),
  };
  if (r.owner !== null) s.owner = r.owner;
  if (r.cron !== null) s.cron = r.cron;
  if (r.timezone !== null) s.timezone = r.timezone;
  if (r.every_ms !== null) s.everyMs = Number(r.every_ms);
  if (r.next_ms !== null) s.next = Number(r.next_ms);
  if (r.last_ms !== null) s.last = Number(r.last_ms);
  if (r.last_job !== null) s.lastJob = r.last_job;
  return s;
}

function params(s: ScheduleRecord, now: number): Record<string, unknown> {
  return {
    id: s.id,
    owner: s.owner ?? null,
    cron: s.cron ?? null,
    timezone: s.timezone ?? null,
    every: s.everyMs ?? null,
    anchor: s.anchor,
    template: JSON.stringify(s.template),
    catchUp: s.catchUp,
    paused: s.paused ? 1 : 0,
    next: s.next ?? null,
    now,
  };
}

export class ScheduleStore {
  constructor(private readonly query: Query) {}

  async create(s: ScheduleRecord): Promise<void> {
    await this.query(SCHEDULE_SQL.insert, params(s, s.created));
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const { rows } = await this.query<ScheduleRow>(SCHEDULE_SQL.get, { id });
    return rows[0] && toRecord(rows[0]);
  }

  /** Oldest first: an owner's (undefined: everyone's). */
  async list(owner: string | undefined, limit: number): Promise<ScheduleRecord[]> {
    return (await this.query<ScheduleRow>(SCHEDULE_SQL.list, { owner: owner ?? null, limit })).rows.map(toRecord);
  }

  /** Writes a schedule's settings and next due time; false when it is gone. */
  async update(s: ScheduleRecord, now: number): Promise<boolean> {
    return (await this.query(SCHEDULE_SQL.update, params(s, now))).changes === 1;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.query(SCHEDULE_SQL.delete, { id })).changes === 1;
  }

  /** Schedules due up to `until`, earliest first. */
  async due(until: number, limit: number): Promise<ScheduleRecord[]> {
    return (await this.query<ScheduleRow>(SCHEDULE_SQL.due, { until, limit })).rows.map(toRecord);
  }

  /** Moves a schedule from due time `due` to `next`, recording the job made for `last`; false when another instance did first. */
  async advance(id: string, due: number, next: number | undefined, last: number | undefined, job: string | undefined): Promise<boolean> {
    return (await this.query(SCHEDULE_SQL.advance, { id, due, next: next ?? null, last: last ?? null, job: job ?? null })).changes === 1;
  }

  /** Records the job made for due time `last` when the schedule could not be moved on (paused or retimed meanwhile). */
  async recordRun(id: string, last: number, job: string): Promise<void> {
    await this.query(SCHEDULE_SQL.recordRun, { id, last, job });
  }
}
