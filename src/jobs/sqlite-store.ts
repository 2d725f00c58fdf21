// The embedded default store: one SQLite file (better-sqlite3, WAL), driven by the queue's
// statements (queue-sql.ts) under the store written once (sql-store.ts). Every state change is
// a single compare-and-set statement, so racing requests (even from several processes on one
// file) have exactly one winner. Every promise resolves only after its change is committed:
// a 202 is only sent for a committed job.
import { makeDir } from "../make-dir.js";
import path from "node:path";
import Database from "better-sqlite3";
import { IN_PROGRESS, type Fence } from "./machine.js";
import type { JobEventRow } from "./events.js";
import { MIGRATIONS } from "./sqlite-schema.js";
import { TurnBatch } from "./turn-batch.js";
import { dependencyFailedError } from "./deps-sql.js";
import { fenceParams, pageSql, replaceParams, transitionSql, values, type TransitionKind } from "./queue-sql.js";
import type { JobRow } from "./row.js";
import { COLUMNS, prepareOn, rowOf, sqliteStatements, type Claimable, type Prepared, type Raw, type SqliteStatements } from "./sqlite-sql.js";
import { SqlJobStore, type DeliveryRow, type Inserted, type ParentRow, type PausedRow, type QueueDriver, type StatsRows } from "./sql-store.js";
import { DEFAULT_MAX_ATTEMPTS, type ClaimQuery, type JobStore, type ListQuery, type NewJob } from "./store.js";

type Row = JobRow;

export { MIGRATIONS };

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

export interface SqliteOptions {
  /** `FULL` also survives power loss; `NORMAL` (default) survives process crashes. */
  synchronous?: "NORMAL" | "FULL" | undefined;
  /** What jobs created before workers existed get as their maxAttempts when migrated. */
  defaultMaxAttempts?: number | undefined;
}

/** Thrown by a write that could not undo its own part: the turn's whole transaction is rolled back. */
class BatchAbort {
  constructor(readonly error: unknown) {}
}

class SqliteDriver implements QueueDriver {
  readonly announces = false;
  private readonly db: Database.Database;
  private readonly stmt: SqliteStatements;

  constructor(file: string, opts: SqliteOptions = {}) {
    if (file !== ":memory:") makeDir(path.dirname(path.resolve(file)));
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${opts.synchronous ?? "NORMAL"}`);
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    // Statement journals (what lets one statement of a transaction roll back alone: every
    // insert or update here fires a history trigger) in memory, not in a temporary file: with
    // a file, a create wrote about 45 KB to it (one 4-byte and one 4 KiB write per page it
    // touched), half of the store's CPU per create. They hold the pages one statement changes.
    this.db.pragma("temp_store = MEMORY");
    // A dependant cancelled by its parent's trigger cancels its own dependants through the
    // same trigger (deps-sql.ts).
    this.db.pragma("recursive_triggers = ON");
    // Dependants changed by that trigger, announced once the transaction is over.
    this.db.function("job_announce", { deterministic: false, varargs: false }, (id: unknown, status: unknown, name: unknown, runAfter: unknown, blockers: unknown) => {
      this.announced.push({ id: id as string, available: status === IN_PROGRESS && blockers === 0, name: (name as string | null) ?? undefined, at: Number(runAfter) });
      if (this.announced.length === 1) setImmediate(this.announce);
      return null;
    });
    this.migrate({ defaultMaxAttempts: opts.defaultMaxAttempts ?? DEFAULT_MAX_ATTEMPTS });
    const db = this.db;
    this.stmt = sqliteStatements(db);
    this.endTx = db.transaction((id: string, fence: Fence, params: Record<string, unknown>) => {
      const row = this.fenced("end", fence, params);
      if (row?.callback_url) this.stmt.addDelivery.run(id, row.callback_url, params["endedMs"], params["endedMs"]);
      return row;
    });
    this.writeTx = db.transaction((writes: () => void) => writes());
    this.readTx = db.transaction((ids: string[]) => ids.map((id) => this.stmt.byId.get(id)));
    this.expireTx = db.transaction((params: Record<string, unknown>, now: number) => {
      const rows = this.run(this.stmt.expire, params, "all") as { id: string; callback_url: string | null }[];
      for (const r of rows) if (r.callback_url) this.stmt.addDelivery.run(r.id, r.callback_url, now, now);
      return rows;
    });
  }

  /** A statement of queue-sql.ts, prepared with `?` for each of its `:name` parameters. */
  private prepare<R = unknown>(sql: string, raw = false): Prepared<R> {
    return prepareOn(this.db, sql, raw);
  }

  private run<R>(p: Prepared<R>, params: Record<string, unknown>, how: "get" | "all" | "run"): unknown {
    const args = values(p, params);
    return how === "get" ? p.stmt.get(...args) : how === "all" ? p.stmt.all(...args) : p.stmt.run(...args);
  }

  private migrate(o: { defaultMaxAttempts: number }): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(`the job database has schema version ${version}, newer than this program knows (${MIGRATIONS.length})`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!(o));
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  /**
   * Group commit: the creates, claims and transitions asked for within one turn of the event
   * loop are written in one transaction, so they share one commit instead of paying one each
   * (a commit writes every page its transaction changed, and a few creates change as many
   * index pages as many do). Each promise still resolves only after the commit that holds its
   * change; one write that fails (a multi-statement one rolled back to its savepoint) fails alone.
   */
  private write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.writes.push({ run, resolve: resolve as (r: unknown) => void, reject });
      if (this.writes.length === 1) setImmediate(this.flush);
    });
  }

  private writes: { run: () => unknown; resolve: (r: unknown) => void; reject: (e: unknown) => void }[] = [];

  private readonly flush = () => {
    const batch = this.writes;
    this.writes = [];
    const results: ({ ok: unknown } | { error: unknown })[] = [];
    try {
      this.writeTx.immediate(() => {
        for (const w of batch) {
          try {
            results.push({ ok: w.run() });
          } catch (error) {
            if (error instanceof BatchAbort) throw error.error;
            results.push({ error });
          }
        }
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const r = results[i]!;
      if ("ok" in r) w.resolve(r.ok);
      else w.reject(r.error);
    });
  };

  insert(job: NewJob): Promise<Inserted> {
    return this.write(() => (job.dependsOn ? this.insertDependant(job, job.dependsOn) : this.insertNow(job)));
  }

  /**
   * A job with dependencies, in a savepoint of its own: its parents looked up (the owner's
   * own), the row, its links, and its parents marked; cancelled at once if a parent has
   * already failed and it is not to run anyway.
   */
  private readonly insertDependant = (job: NewJob, deps: NonNullable<NewJob["dependsOn"]>) =>
    this.db.transaction((): Inserted => {
      const parents = deps.ids.map((id) => this.stmt.parent.get(id));
      const unknown = parents.findIndex((p) => !p || p.owner !== (job.owner ?? null));
      if (unknown !== -1) return { unknownDependency: unknown };
      if (!this.insertNow(job)) return false;
      const waiting = parents.filter((p) => p!.status === IN_PROGRESS).length;
      this.run(this.stmt.setDependencies, { id: job.id, blockers: waiting, dependsOn: JSON.stringify(deps.ids), mode: deps.onFailure }, "run");
      for (const p of parents) {
        this.stmt.addDep.run(job.id, p!.id);
        this.run(this.stmt.markParent, { id: p!.id }, "run");
      }
      const failed = deps.onFailure === "cancel" && parents.find((p) => p!.status === "FAILED" || p!.status === "CANCELLED");
      if (failed) {
        const now = Date.parse(job.start);
        const error = JSON.stringify(dependencyFailedError(failed.id, failed.status));
        const row = this.run(this.stmt.cancelDependant, { id: job.id, end: job.start, now, error }, "get") as { callback_url: string | null } | undefined;
        if (row?.callback_url) this.stmt.addDelivery.run(job.id, row.callback_url, now, now);
      }
      // Announced (sql-store.ts) only if a worker may take it now; else when its last parent ends.
      return waiting === 0 && !failed ? true : "waiting";
    })();

  async dependencies(ids: string[]): Promise<ParentRow[]> {
    return this.run(this.stmt.parents, { ids: JSON.stringify(ids) }, "all") as ParentRow[];
  }

  private announced: { id: string; available: boolean; name: string | undefined; at: number }[] = [];
  private heard?: { changed: (id: string) => void; available: (name: string | undefined, at: number) => void };

  listen(changed: (id: string) => void, available: (name: string | undefined, at: number) => void): void {
    this.heard = { changed, available };
  }

  private readonly announce = () => {
    const batch = this.announced;
    this.announced = [];
    for (const a of batch) {
      this.heard?.changed(a.id);
      if (a.available) this.heard?.available(a.name, a.at);
    }
  };

  async pause(name: string, by: string | undefined, now: number): Promise<PausedRow> {
    return this.write(() => {
      this.run(this.stmt.pause, { name, now, by: by ?? null }, "run");
      return this.run(this.stmt.pausedOne, { name }, "get") as PausedRow;
    });
  }

  async resume(name: string, now: number): Promise<boolean> {
    return this.write(() =>
      // Its own savepoint within the turn's transaction: both statements or neither.
      this.db.transaction(() => {
        const paused = this.run(this.stmt.pausedOne, { name }, "get") as PausedRow | undefined;
        if (!paused) return false;
        this.run(this.stmt.resumeDeadlines, { name, now, since: paused.since_ms }, "run");
        this.run(this.stmt.unpause, { name }, "run");
        return true;
      })(),
    );
  }

  async paused(): Promise<PausedRow[]> {
    return this.run(this.stmt.paused, {}, "all") as PausedRow[];
  }

  rerun(_id: string, params: Record<string, unknown>): Promise<Row | undefined> {
    return this.write(() => this.run(this.stmt.rerun, params, "get") as Row | undefined);
  }

  async redrive(params: Record<string, unknown>): Promise<{ rows: Row[]; more: boolean }> {
    const rows = await this.write(() => this.run(this.stmt.redrive, params, "all") as Row[]);
    return { rows, more: this.run(this.stmt.redriveMore, params, "get") !== undefined };
  }

  async singletonHolder(job: NewJob, replace: boolean): Promise<Row | undefined> {
    if (!replace) return this.run(this.stmt.singletonHolder, { key: job.singleton!.key }, "get") as Row | undefined;
    return this.write(() => this.run(this.stmt.replaceSingleton, replaceParams(job), "get") as Row | undefined);
  }

  /**
   * A create: the job's row and its created event. The event is a statement of its own rather
   * than an insert trigger: a trigger makes SQLite keep a statement journal for the insert (its
   * body could fail after the row is written), which cost 8-10 µs a create, a fifth of the
   * store's share (measured on the store alone, batches of 16). Should the event's insert fail,
   * the row is taken out again, so that the create fails alone and whole; should that fail
   * too, the whole turn's transaction is rolled back (BatchAbort).
   */
  private insertNow(job: NewJob): boolean {
    const touched = Date.parse(job.start);
    const owner = job.owner ?? null;
    const { changes } = this.stmt.insert.run(
      job.id,
      job.start,
      JSON.stringify(job.request ?? null),
      job.deadlineAt,
      job.idempotency?.key ?? null,
      job.idempotency?.fingerprint ?? null,
      job.callbackUrl ?? null,
      job.name ?? null,
      job.priority ?? 0,
      job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      owner,
      touched,
      job.traceparent ?? null,
      job.runAfter ?? 0,
      job.singleton?.key ?? null,
      job.scheduleId ?? null,
      job.concurrencyKey ?? null,
    );
    if (changes !== 1) return false;
    try {
      this.stmt.created.run(job.id, touched, owner);
    } catch (error) {
      try {
        this.stmt.undoInsert.run(job.id);
      } catch {
        throw new BatchAbort(error);
      }
      throw error;
    }
    return true;
  }

  /**
   * Reads, like writes, are grouped: the reads asked for within one turn of the event loop run
   * in one read transaction. Each statement outside a transaction takes and drops SQLite's
   * shared lock (two fcntl calls and an fstat); one transaction of 16 reads cost 7.4 µs a read
   * against 16.6 alone.
   */
  row(id: string): Promise<JobRow | undefined> {
    return this.reads.add(id);
  }

  private readonly reads = new TurnBatch<string, JobRow | undefined>((ids) => {
    const rows = ids.length === 1 ? [this.stmt.byId.get(ids[0]!)] : this.readTx(ids);
    return rows.map((row) => row && rowOf(row));
  });

  async rowByKey(key: string): Promise<JobRow | undefined> {
    const raw = this.stmt.byKey.get(key);
    return raw && rowOf(raw);
  }

  /** One prepared statement per combination of list filters, made on first use. */
  private readonly pages = new Map<string, Prepared<Raw>>();

  async page(q: ListQuery, after: number, limit: number): Promise<JobRow[]> {
    const f = { status: !!q.status, name: q.name !== undefined, owner: q.owner !== undefined, newestFirst: !!q.newestFirst };
    const key = JSON.stringify(f);
    let p = this.pages.get(key);
    if (!p) this.pages.set(key, (p = this.prepare<Raw>(pageSql(f, COLUMNS), true)));
    return (this.run(p, { after, limit, status: q.status, name: q.name, owner: q.owner }, "all") as Raw[]).map(rowOf);
  }

  private readonly endTx: (id: string, fence: Fence, params: Record<string, unknown>) => JobRow | undefined;
  private readonly expireTx: (params: Record<string, unknown>, now: number) => { id: string; callback_url: string | null }[];
  private readonly readTx: (ids: string[]) => (Raw | undefined)[];
  private readonly writeTx: Database.Transaction<(writes: () => void) => void>;

  /** Compare-and-set statements by kind and fence, prepared on first use. */
  private readonly cas = new Map<string, Prepared<Raw>>();

  private fenced(kind: TransitionKind, fence: Fence, params: Record<string, unknown>): JobRow | undefined {
    const key = `${kind}:${fence.kind}`;
    let p = this.cas.get(key);
    if (!p) this.cas.set(key, (p = this.prepare<Raw>(`${transitionSql(kind, fence.kind)} RETURNING ${COLUMNS}`, true)));
    const row = this.run(p, fenceParams(fence, params), "get") as Raw | undefined;
    return row && rowOf(row);
  }

  // Transitions join the turn's group commit (see write).
  transition(kind: TransitionKind, id: string, fence: Fence, params: Record<string, unknown>): Promise<JobRow | undefined> {
    return this.write(() => (kind === "end" ? this.endTx(id, fence, params) : this.fenced(kind, fence, params)));
  }

  /**
   * Claims join the turn's group commit too: a claim alone in its transaction paid a commit
   * (every page it changed, written to the WAL) for one job. Within the turn's transaction
   * claims run one after another, so none takes a job another took. A claim whose first take
   * fails fails alone (nothing written); one failing after an earlier take of the same claim
   * rolls the turn back, so that no job is left leased to a worker that never heard of it.
   */
  claim(q: ClaimQuery): Promise<JobRow[]> {
    return this.write(() => this.take(q));
  }

  private take(q: ClaimQuery): JobRow[] {
    const max = q.tokens.length;
    const ids = q.names ? this.claimableByNames(q.names, q.now, max) : (this.run(this.stmt.claimable, { now: q.now, max }, "all") as Claimable[]);
    const taken: JobRow[] = [];
    ids.forEach(({ id, expired }, i) => {
      let raw: Raw | undefined;
      try {
        raw = this.run(this.stmt.take, { id, token: q.tokens[i]!, expires: q.now + q.leaseMs, ms: q.leaseMs, worker: q.worker, now: q.now }, "get") as Raw | undefined;
      } catch (error) {
        if (taken.length === 0) throw error;
        throw new BatchAbort(error);
      }
      // Nothing: a limit of its group held it back (limits-sql.ts: the trigger skips the take).
      if (!raw) return;
      const row = rowOf(raw);
      row.previous_lease_expired = expired;
      taken.push(row);
    });
    return taken;
  }

  /**
   * The jobs a claim by names takes: each name's first `max` from its own walk of the queue
   * index (which stops at the limit), merged in the claim's order. (One statement with the
   * names as a list would read every waiting job of those names and sort them.)
   */
  private claimableByNames(names: string[], now: number, max: number): Claimable[] {
    const each = [...new Set(names)].map((name) => this.run(this.stmt.claimableByName, { now, max, name }, "all") as Claimable[]);
    if (each.length === 1) return each[0]!;
    return each
      .flat()
      .sort((a, b) => b.priority! - a.priority! || a.vtag! - b.vtag! || a.seq! - b.seq!)
      .slice(0, max);
  }

  async expire(now: number, end: string, error: string): Promise<string[]> {
    return this.expireTx({ now, end, error }, now).map((r) => r.id);
  }

  async exhausted(now: number, limit: number): Promise<string[]> {
    return (this.run(this.stmt.exhausted, { now, limit }, "all") as { id: string }[]).map((r) => r.id);
  }

  async stats(now: number, since: number): Promise<StatsRows> {
    this.db.transaction(() => {
      const sums = this.run(this.stmt.countSums, {}, "all") as { name: string | null; delta: number }[];
      this.run(this.stmt.countClear, {}, "run");
      for (const s of sums) this.run(this.stmt.countPut, s, "run");
    }).immediate();
    return this.db.transaction(() => ({
      queues: this.run(this.stmt.queues, { now }, "all") as StatsRows["queues"],
      ended: this.run(this.stmt.endedSince, { since }, "all") as StatsRows["ended"],
      outbox: (this.run(this.stmt.outbox, {}, "get") as { n: number }).n,
    }))();
  }

  async events(jobId: string, after: number, limit: number): Promise<JobEventRow[]> {
    return this.run(this.stmt.events, { id: jobId, after, limit }, "all") as JobEventRow[];
  }

  async purge(before: number): Promise<number> {
    return (this.run(this.stmt.purge, { before }, "run") as Database.RunResult).changes;
  }

  async claimDeliveries(until: number, now: number, limit: number): Promise<DeliveryRow[]> {
    return this.run(this.stmt.claimDeliveries, { until, now, limit }, "all") as DeliveryRow[];
  }

  async settle(id: string, outcome: Parameters<JobStore["settleDelivery"]>[1]): Promise<void> {
    if (outcome.kind === "delivered") this.run(this.stmt.delivered, { id }, "run");
    else if (outcome.kind === "retry") this.run(this.stmt.retry, { id, at: outcome.at, error: outcome.error }, "run");
    else this.run(this.stmt.failed, { id, error: outcome.error }, "run");
  }

  async ping(): Promise<void> {
    this.stmt.ping.get();
  }

  /** Statements by text, prepared on first use. */
  private readonly adhoc = new Map<string, Prepared<unknown>>();

  async query<T>(sql: string, params: Record<string, unknown>): Promise<{ rows: T[]; changes: number }> {
    let p = this.adhoc.get(sql);
    if (!p) this.adhoc.set(sql, (p = this.prepare(sql)));
    if (p.stmt.reader) return { rows: this.run(p, params, "all") as T[], changes: 0 };
    return { rows: [], changes: (this.run(p, params, "run") as Database.RunResult).changes };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * The SQLite store. Changes are announced to this process's listeners only (other processes on
 * the same file are not heard).
 */
export class SqliteJobStore extends SqlJobStore {
  constructor(file: string, opts: SqliteOptions = {}) {
    super(new SqliteDriver(file, opts));
  }
}
