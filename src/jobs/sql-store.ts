// The job store written once over a small driver per database (River's shape): what a result
// means (an Idempotency-Key replayed or refused, a compare-and-set that lost, a page and its
// cursor), which statements a transition runs (queue-sql.ts), and who hears of a change. The
// drivers (sqlite-store.ts, pg-store.ts) only say how statements run on their database:
// migrations, connections, how writes of one moment share a commit, and announcements across
// instances where the database has them.
import { ScheduleStore } from "../schedules/store.js";
import { ChangeFeed } from "./changes.js";
import { LimitStore } from "./limits.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { toEvent, type JobEventPage, type JobEventRow } from "./events.js";
import type { Fence, TerminalStatus } from "./machine.js";
import type { TransitionKind } from "./queue-sql.js";
import { newRecord, toRecord, type JobRow } from "./row.js";
import type {
  ClaimQuery,
  CreateResult,
  Delivery,
  Dependency,
  EndPatch,
  JobError,
  JobPage,
  JobRecord,
  JobStore,
  ListQuery,
  NewJob,
  PausedName,
  QueueStats,
  Requeue,
  Rerun,
  TransitionResult,
} from "./store.js";

/** A pending completion push as a driver reads it. */
export interface DeliveryRow {
  id: string;
  job_id: string;
  url: string;
  attempts: number;
  created_ms: number | string;
}

/** A parent job as a driver reads it for its dependant's worker. */
export interface ParentRow {
  id: string;
  status: JobRow["status"];
  has_result: number | boolean;
  result: string | null;
  owner: string | null;
}

/** A paused name as a driver reads it. */
export interface PausedRow {
  name: string;
  since_ms: number | string;
  paused_by: string | null;
}

/** The queue's numbers as a driver reads them (counts may come as strings: PostgreSQL's bigints). */
export interface StatsRows {
  queues: { name: string | null; running: number | string; total: number | string }[];
  ended: { status: TerminalStatus; n: number | string }[];
  outbox: number | string;
}

/** What an insert did: made the job (true; "waiting" while it waits for its parents), found its key taken (false), or found a dependency unknown. */
export type Inserted = boolean | "waiting" | { unknownDependency: number };

/** What one database does, one method per queue operation; every promise resolves after its change is committed. */
export interface QueueDriver {
  /**
   * Whether the database itself announces changes and new jobs to every instance (LISTEN/NOTIFY),
   * this one included; then the store does not announce them again.
   */
  readonly announces: boolean;
  /**
   * Inserts a job with its created event; false when its Idempotency-Key or singleton key was
   * taken. A job with dependencies (deps-sql.ts) is inserted with its links in one transaction
   * that holds its parents still, unless one is no job of its owner; "waiting" when it was
   * made but may not be handed out yet (a parent has not ended, or one failed and it was
   * cancelled at once), so that no waiting claim is woken for it.
   */
  insert(job: NewJob): Promise<Inserted>;
  /** Parent jobs by id (those not found left out). */
  dependencies(ids: string[]): Promise<ParentRow[]>;
  /**
   * The waiting job holding the create's singleton key, as it is (join) or once it has taken
   * the create's request (replace: queue-sql.ts REPLACE_SINGLETON, announced as a change and
   * as available); undefined when none holds it any more.
   */
  singletonHolder(job: NewJob, replace: boolean): Promise<JobRow | undefined>;
  row(id: string): Promise<JobRow | undefined>;
  rowByKey(key: string): Promise<JobRow | undefined>;
  /** A page after `after` (a `seq`), `limit` rows at most. */
  page(q: ListQuery, after: number, limit: number): Promise<JobRow[]>;
  /** Takes jobs under new leases (queue-sql.ts: claimSelect, TAKE_SET), each row with previous_lease_expired. */
  claim(q: ClaimQuery): Promise<JobRow[]>;
  /** One compare-and-set (queue-sql.ts: transitionSql); an end also writes its completion push. Undefined: it changed nothing. */
  transition(kind: TransitionKind, id: string, fence: Fence, params: Record<string, unknown>): Promise<JobRow | undefined>;
  /** Fails the jobs past their deadline (with their completion pushes); their ids. */
  expire(now: number, end: string, error: string): Promise<string[]>;
  exhausted(now: number, limit: number): Promise<string[]>;
  stats(now: number, since: number): Promise<StatsRows>;
  events(jobId: string, after: number, limit: number): Promise<JobEventRow[]>;
  purge(before: number): Promise<number>;
  claimDeliveries(until: number, now: number, limit: number): Promise<DeliveryRow[]>;
  settle(id: string, outcome: Parameters<JobStore["settleDelivery"]>[1]): Promise<void>;
  /** PAUSE, then the name's row. */
  pause(name: string, by: string | undefined, now: number): Promise<PausedRow>;
  /** RESUME_DEADLINES and UNPAUSE in one transaction, announcing the name as available; false if it was not paused. */
  resume(name: string, now: number): Promise<boolean>;
  paused(): Promise<PausedRow[]>;
  /** RERUN (announced as a change and as available). */
  rerun(id: string, params: Record<string, unknown>): Promise<JobRow | undefined>;
  /** REDRIVE (each announced), then REDRIVE_MORE. */
  redrive(params: Record<string, unknown>): Promise<{ rows: JobRow[]; more: boolean }>;
  ping(): Promise<void>;
  /** Any statement with `:name` parameters (the schedules' store runs its own through this). */
  query<T>(sql: string, params: Record<string, unknown>): Promise<{ rows: T[]; changes: number }>;
  close(): Promise<void>;
  connections?(): { total: number; idle: number; waiting: number };
  /** Where the database announces changes: starts hearing them (called once, by the store). */
  listen?(changed: (id: string) => void, available: (name: string | undefined, at: number) => void): void;
}

export class SqlJobStore implements JobStore {
  private readonly feed = new ChangeFeed<string>();
  /** A job that may be handed out: its name, and from when (epoch ms; 0: now). */
  private readonly available = new ChangeFeed<{ name: string | undefined; at: number }>();
  /** Whether this process must tell its own listeners of what it changed. */
  private readonly local: boolean;

  /** Recurring schedules, in the same database. */
  readonly schedules: ScheduleStore;
  /** Admins' concurrency and rate limits. */
  readonly limits: LimitStore;

  constructor(protected readonly driver: QueueDriver) {
    this.local = !driver.announces;
    this.schedules = new ScheduleStore((sql, params) => driver.query(sql, params));
    this.limits = new LimitStore((sql, params) => driver.query(sql, params));
    driver.listen?.(
      (id) => this.feed.publish(id),
      (name, at) => this.available.publish({ name, at }),
    );
    if (driver.connections) this.connections = () => driver.connections!();
  }

  connections?: () => { total: number; idle: number; waiting: number };

  async create(job: NewJob): Promise<CreateResult> {
    // A unique key was taken: its Idempotency-Key (by the same request again, or by another),
    // or its singleton key, by a waiting job. That job may be claimed (the key freed) before it
    // is read here: then insert again. A claim frees a key at most once per create it wins
    // over, so the loop ends; it is bounded all the same.
    for (let tries = 0; tries < 100; tries++) {
      const inserted = await this.driver.insert(job);
      if (typeof inserted === "object") return { kind: "unknown-dependency", index: inserted.unknownDependency };
      if (inserted) {
        // A job waiting for its parents wakes no claim (nothing could take it), only live views.
        if (this.local && inserted === true) this.available.publish({ name: job.name, at: job.runAfter ?? 0 });
        else if (this.local) this.feed.publish(job.id);
        return { kind: "created", job: newRecord(job) };
      }
      const prior = job.idempotency && (await this.driver.rowByKey(job.idempotency.key));
      if (prior) return prior.idem_fingerprint === job.idempotency!.fingerprint ? { kind: "replayed", job: toRecord(prior) } : { kind: "key-conflict", job: toRecord(prior) };
      if (!job.singleton) break;
      const replace = job.singleton.mode === "replace";
      const holder = await this.driver.singletonHolder(job, replace);
      if (holder) {
        const record = toRecord(holder);
        if (replace && this.local) {
          this.feed.publish(record.id);
          this.available.publish({ name: record.name, at: record.runAfter });
        }
        return { kind: replace ? "replaced" : "joined", job: record };
      }
    }
    throw new Error(`create of job ${job.id}: a unique key was taken, but no job holds it`);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = await this.driver.row(id);
    return row && toRecord(row);
  }

  async dependencies(ids: string[]): Promise<Dependency[]> {
    if (!ids.length) return [];
    const rows = new Map((await this.driver.dependencies(ids)).map((r) => [r.id, r]));
    return ids.flatMap((id) => {
      const r = rows.get(id);
      if (!r) return [];
      return [{ id, status: r.status, ...(r.has_result ? { result: r.result === null ? null : (JSON.parse(r.result) as unknown) } : {}) }];
    });
  }

  async list(q: ListQuery): Promise<JobPage> {
    const after = q.after === undefined ? (q.newestFirst ? Number.MAX_SAFE_INTEGER : 0) : decodeCursor(q.after);
    const rows = await this.driver.page(q, after, q.limit + 1);
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    return { jobs: page.map(toRecord), next: more ? encodeCursor(Number(page[page.length - 1]!.seq)) : undefined };
  }

  async claim(q: ClaimQuery): Promise<JobRecord[]> {
    if (!q.tokens.length) return [];
    const rows = await this.driver.claim(q);
    // The claim's order (queue-sql.ts CLAIM_ORDER).
    return rows.sort((a, b) => b.priority - a.priority || Number(a.vtag ?? 0) - Number(b.vtag ?? 0) || Number(a.seq) - Number(b.seq)).map(toRecord);
  }

  end(id: string, p: EndPatch, fence: Fence): Promise<TransitionResult> {
    return this.transition("end", id, fence, {
      id,
      to: p.to,
      end: p.end,
      endedMs: Date.parse(p.end),
      progress: p.progress ?? null,
      hasResult: p.to === "SUCCESS" ? 1 : 0,
      result: p.to === "SUCCESS" && p.result !== undefined ? JSON.stringify(p.result) : null,
      error: p.error ? JSON.stringify(p.error) : null,
      by: p.by ?? null,
    });
  }

  progress(id: string, progress: number | undefined, fence: Fence, now: number): Promise<TransitionResult> {
    // Under a lease, a heartbeat: the lease is extended by its length from the fence's now.
    return fence.kind === "lease"
      ? this.transition("heartbeat", id, fence, { id, progress: progress ?? null })
      : this.transition("progress", id, fence, { id, progress: progress ?? null, touched: now });
  }

  async requeue(id: string, r: Requeue, fence: Fence & { kind: "lease" }): Promise<TransitionResult> {
    const result = await this.transition("requeue", id, fence, { id, runAfter: r.runAfter, uncount: r.uncount ? 1 : 0 });
    if (result.kind === "applied" && this.local) this.available.publish({ name: result.job.name, at: result.job.runAfter });
    return result;
  }

  /** A compare-and-set's outcome: the changed job, or, when it changed nothing, the job as it is now. */
  private async transition(kind: TransitionKind, id: string, fence: Fence, params: Record<string, unknown>): Promise<TransitionResult> {
    const row = await this.driver.transition(kind, id, fence, params);
    if (row) {
      if (this.local) this.feed.publish(id);
      return { kind: "applied", job: toRecord(row) };
    }
    const now = await this.driver.row(id);
    return now ? { kind: "lost", job: toRecord(now) } : { kind: "not-found" };
  }

  async expire(now: number, end: string, error: JobError): Promise<number> {
    const ids = await this.driver.expire(now, end, JSON.stringify(error));
    if (this.local) for (const id of ids) this.feed.publish(id);
    return ids.length;
  }

  exhausted(now: number, limit: number): Promise<string[]> {
    return this.driver.exhausted(now, limit);
  }

  async stats(now: number, since: number): Promise<QueueStats> {
    const s = await this.driver.stats(now, since);
    return {
      queues: s.queues.map((q) => {
        const running = Number(q.running ?? 0);
        return { ...(q.name === null ? {} : { name: q.name }), running, waiting: Number(q.total) - running };
      }),
      ended: Object.fromEntries(s.ended.map((r) => [r.status, Number(r.n)])),
      outbox: Number(s.outbox),
    };
  }

  async events(jobId: string, after: number, limit: number): Promise<JobEventPage> {
    const rows = await this.driver.events(jobId, after, limit + 1);
    const page = rows.slice(0, limit).map(toEvent);
    return rows.length > limit ? { events: page, next: page[page.length - 1]!.seq } : { events: page };
  }

  purge(before: number): Promise<number> {
    return this.driver.purge(before);
  }

  async claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]> {
    const rows = await this.driver.claimDeliveries(now + leaseMs, now, limit);
    return rows.map((d) => ({ id: d.id, jobId: d.job_id, url: d.url, attempts: d.attempts, createdAt: Number(d.created_ms) }));
  }

  settleDelivery(id: string, outcome: Parameters<JobStore["settleDelivery"]>[1]): Promise<void> {
    return this.driver.settle(id, outcome);
  }

  async pause(name: string, by: string | undefined, now: number): Promise<PausedName> {
    return pausedName(await this.driver.pause(name, by, now));
  }

  async resume(name: string, now: number): Promise<boolean> {
    const resumed = await this.driver.resume(name, now);
    if (resumed && this.local) this.available.publish({ name, at: 0 });
    return resumed;
  }

  async paused(): Promise<PausedName[]> {
    return (await this.driver.paused()).map(pausedName);
  }

  async rerun(id: string, r: Rerun): Promise<TransitionResult> {
    const row = await this.driver.rerun(id, { id, by: r.by ?? null, now: r.now, deadline: r.deadlineAt });
    if (row) {
      this.announceRerun(row);
      return { kind: "applied", job: toRecord(row) };
    }
    const now = await this.driver.row(id);
    return now ? { kind: "lost", job: toRecord(now) } : { kind: "not-found" };
  }

  async redrive(q: { name: string; status: "FAILED" | "CANCELLED"; limit: number }, r: Rerun): Promise<{ ids: string[]; more: boolean }> {
    const { rows, more } = await this.driver.redrive({ ...q, by: r.by ?? null, now: r.now, deadline: r.deadlineAt });
    for (const row of rows) this.announceRerun(row);
    return { ids: rows.map((row) => row.id), more };
  }

  private announceRerun(row: JobRow): void {
    if (!this.local) return;
    this.feed.publish(row.id);
    this.available.publish({ name: row.name ?? undefined, at: 0 });
  }

  ping(): Promise<void> {
    return this.driver.ping();
  }

  /** Changes through this store, and, where the database announces them, through every instance. */
  onChange(listener: (id: string) => void): () => void {
    return this.feed.subscribe(listener);
  }

  /** Jobs made available through this store, and, where the database announces them, through every instance. */
  onAvailable(listener: (name: string | undefined, at: number) => void): () => void {
    return this.available.subscribe(({ name, at }) => listener(name, at));
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

function pausedName(r: PausedRow): PausedName {
  return { name: r.name, since: Number(r.since_ms), ...(r.paused_by !== null && { by: r.paused_by }) };
}
