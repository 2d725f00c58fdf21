// Admins' concurrency and rate limits (limits-sql.ts), kept in the job store's database.
import type { Query } from "../schedules/store.js";
import { LIMIT_SQL, type LimitRow } from "./limits-sql.js";

export type LimitKind = "name" | "key";

export interface Limit {
  kind: LimitKind;
  value: string;
  /** At most this many of the group held by workers at once. */
  concurrency?: number | undefined;
  /** At most this many of the group taken per second (a token bucket of `burst`). */
  ratePerSecond?: number | undefined;
  burst: number;
  /** How many of the group workers hold now. */
  running: number;
  updated: number;
  by?: string | undefined;
}

function toLimit(r: LimitRow): Limit {
  return {
    kind: r.kind,
    value: r.value,
    ...(r.max_running !== null && { concurrency: Number(r.max_running) }),
    ...(r.per_second !== null && { ratePerSecond: Number(r.per_second) }),
    burst: Number(r.burst),
    running: Number(r.running),
    updated: Number(r.updated_ms),
    ...(r.updated_by !== null && { by: r.updated_by }),
  };
}

export class LimitStore {
  constructor(private readonly query: Query) {}

  /** Sets a group's limits (a new bucket starts full); the limit as it is now. */
  async set(kind: LimitKind, value: string, l: { concurrency?: number | undefined; ratePerSecond?: number | undefined; burst?: number | undefined }, by: string | undefined, now: number): Promise<Limit> {
    // Without a burst, a second's worth (at least one).
    const burst = l.burst ?? Math.max(1, Math.ceil(l.ratePerSecond ?? 1));
    await this.query(LIMIT_SQL.upsert, { kind, value, maxRunning: l.concurrency ?? null, perSecond: l.ratePerSecond ?? null, burst, tokens: burst, now, by: by ?? null });
    return (await this.list(kind, value))[0]!;
  }

  /** Every limit (or one), with how many of its group run now. */
  async list(kind?: LimitKind, value?: string): Promise<Limit[]> {
    return (await this.query<LimitRow>(LIMIT_SQL.list, { kind: kind ?? null, value: value ?? null })).rows.map(toLimit);
  }

  async delete(kind: LimitKind, value: string): Promise<boolean> {
    return (await this.query(LIMIT_SQL.delete, { kind, value })).changes === 1;
  }
}
