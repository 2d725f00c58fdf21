// A PostgreSQL store's writes that share commits: creates, and workers' outcomes, that arrive
// while a batch is being written go together in the next one (one statement, one round trip,
// one commit), each still answered on its own; a create with dependencies, and every other
// transition, go alone.
import pg from "pg";
import { IN_PROGRESS, type Fence } from "./machine.js";
import { DEFAULT_MAX_ATTEMPTS, StoreUnavailableError, type NewJob } from "./store.js";
import { fenceParams, fenceSql, TRANSITION_SET, transitionSql, type TransitionKind } from "./queue-sql.js";
import type { JobRow } from "./row.js";
import { AVAILABLE, AVAILABLE_PAYLOAD, CHANNEL } from "./pg-announce.js";
import { fairTag } from "./fair-sql.js";
import { CANCEL_DEPENDANT, dependencyFailedError, SET_DEPENDENCIES } from "./deps-sql.js";
import { OUTBOX } from "./pg-sql.js";
import { retried, type PgSession } from "./pg-session.js";
import type { Inserted } from "./sql-store.js";

interface PendingEnd {
  id: string;
  params: Record<string, unknown>;
  fence: Fence & { kind: "lease" };
  resolve: (r: JobRow | undefined) => void;
  reject: (e: unknown) => void;
}

/** The end's columns, as the batch of ends takes them from its arrays (`i.<name>`), with their types. */
const END_COLUMNS: [string, string][] = [
  ["id", "text"],
  ["to", "text"],
  ["end", "text"],
  ["endedMs", "bigint"],
  ["progress", "int"],
  ["hasResult", "int"],
  ["result", "text"],
  ["error", "text"],
  ["by", "text"],
  ["token", "text"],
  ["now", "bigint"],
];

export class PgWrites {
  constructor(private readonly s: PgSession) {}

  /**
   * Group commit: creates that arrive while a batch is being written are written together in
   * the next one, one statement and one commit for all of them. Each promise resolves only
   * once the batch holding its job has committed. (Creates serialize on the counter's row lock
   * anyway, so one batch at a time loses nothing and a lone create is written at once.)
   */
  insert(job: NewJob): Promise<Inserted> {
    if (job.dependsOn) return this.s.run(() => retried(() => this.insertDependant(job, job.dependsOn!)));
    return new Promise((resolve, reject) => {
      this.pendingCreates.push({ job, resolve, reject });
      if (!this.writing) void this.writeCreates();
    });
  }

  private pendingCreates: { job: NewJob; resolve: (r: boolean) => void; reject: (e: unknown) => void }[] = [];
  private writing = false;

  private async writeCreates(): Promise<void> {
    this.writing = true;
    while (this.pendingCreates.length) {
      const batch = this.pendingCreates.splice(0, 500);
      try {
        const created = await this.s.run(() => this.insertBatch(batch.map((b) => b.job)));
        for (const b of batch) b.resolve(created.has(b.job.id));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.writing = false;
  }

  /**
   * A job with dependencies, in a transaction of its own: its parents locked (a parent's end
   * waits for this commit, so that its trigger sees the new dependant, or ended before and is
   * counted as ended), checked to be the owner's own, the row inserted, linked, its parents
   * marked; cancelled at once if a parent has already failed and it is not to run anyway.
   * Run again whole when PostgreSQL picks it as a deadlock's victim (retried()).
   */
  private async insertDependant(job: NewJob, deps: NonNullable<NewJob["dependsOn"]>): Promise<Inserted> {
    const c = await this.s.pool.connect();
    try {
      await c.query("BEGIN");
      const locked = await this.s.q<{ id: string; status: string; owner: string | null }>(
        `SELECT id, status, owner FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`,
        [deps.ids],
        c,
      );
      const byId = new Map(locked.rows.map((r) => [r.id, r]));
      const unknown = deps.ids.findIndex((id) => byId.get(id)?.owner !== (job.owner ?? null) || !byId.has(id));
      if (unknown !== -1) {
        await c.query("ROLLBACK");
        return { unknownDependency: unknown };
      }
      if (!(await this.insertBatch([job], c, false)).has(job.id)) {
        await c.query("ROLLBACK");
        return false;
      }
      const parents = deps.ids.map((id) => byId.get(id)!);
      const waiting = parents.filter((p) => p.status === IN_PROGRESS).length;
      await this.s.exec(SET_DEPENDENCIES, { id: job.id, blockers: waiting, dependsOn: JSON.stringify(deps.ids), mode: deps.onFailure }, c);
      await this.s.q("INSERT INTO job_deps (child_id, parent_id) SELECT $1, unnest($2::text[])", [job.id, deps.ids], c);
      await this.s.q("UPDATE jobs SET has_dependants = TRUE WHERE id = ANY($1::text[]) AND NOT has_dependants", [deps.ids], c);
      const failed = deps.onFailure === "cancel" && parents.find((p) => p.status === "FAILED" || p.status === "CANCELLED");
      if (failed) {
        const now = Date.parse(job.start);
        const error = JSON.stringify(dependencyFailedError(failed.id, failed.status));
        await this.s.exec(`WITH ended AS (${CANCEL_DEPENDANT}), ${OUTBOX} SELECT pg_notify('${CHANNEL}', id) FROM ended`, { id: job.id, end: job.start, now, error }, c);
      }
      // Announced to waiting claims only if a worker may take it now (every parent has
      // succeeded); otherwise the trigger announces it when its last parent ends, and it is
      // announced as changed (live views hear of it; no claim wakes for it).
      const available = waiting === 0 && !failed;
      if (available) await this.s.q(`SELECT pg_notify('${AVAILABLE}', ${AVAILABLE_PAYLOAD}) FROM jobs WHERE id = $1`, [job.id], c);
      else if (!failed) await this.s.q(`SELECT pg_notify('${CHANNEL}', $1)`, [job.id], c);
      await c.query("COMMIT");
      return available ? true : "waiting";
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  private async insertBatch(jobs: NewJob[], on: pg.Pool | pg.PoolClient = this.s.pool, announce = true): Promise<Set<string>> {
    // One statement, one round trip. The counter's row lock is held until this statement's
    // transaction commits, so seq order is commit order, and a concurrent create with the
    // same Idempotency-Key has committed before this one looks (ON CONFLICT sees it).
    // Long-polling claims on every instance hear of each new job when it commits (one
    // notification per job: the payload carries its id, so that none are merged).
    const col = <T>(f: (j: NewJob) => T) => jobs.map(f);
    const inserted = await this.s.q<{ id: string }>(
      `WITH rows AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $12::text[], $13::bigint[], $14::text[], $15::bigint[], $16::text[], $17::text[], $18::text[])
           WITH ORDINALITY AS t(id, started_at, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, max_attempts, owner, touched_ms, traceparent, run_after_ms, singleton_key, schedule_id, concurrency_key, ord)),
       -- A client's jobs in one batch take consecutive turns (the tags' lookups see none of the batch).
       input AS (SELECT *, row_number() OVER (PARTITION BY name, owner ORDER BY ord) - 1 AS turn FROM rows),
       next AS (UPDATE job_seq SET value = value + $11 RETURNING value),
       ins AS (
         INSERT INTO jobs (seq, id, status, started_at, request, deadline_ms, idem_key, idem_fingerprint, callback_url, name, priority, max_attempts, owner, touched_ms, traceparent, run_after_ms, singleton_key, schedule_id, concurrency_key, vtag)
         SELECT next.value - $11 + input.ord, input.id, '${IN_PROGRESS}', input.started_at, input.request, input.deadline_ms, input.idem_key,
           input.idem_fingerprint, input.callback_url, input.name, input.priority, input.max_attempts, input.owner, input.touched_ms, input.traceparent, input.run_after_ms,
           input.singleton_key, input.schedule_id, input.concurrency_key,
           ${fairTag("GREATEST", { name: "input.name", owner: "input.owner", priority: "input.priority", now: "input.touched_ms" })} + input.turn
         FROM input, next ORDER BY input.ord
         ON CONFLICT DO NOTHING RETURNING id, name, run_after_ms)
       SELECT id${announce ? `, pg_notify('${AVAILABLE}', ${AVAILABLE_PAYLOAD})` : ""} FROM ins`,
      [
        col((j) => j.id),
        col((j) => j.start),
        col((j) => JSON.stringify(j.request ?? null)),
        col((j) => j.deadlineAt),
        col((j) => j.idempotency?.key ?? null),
        col((j) => j.idempotency?.fingerprint ?? null),
        col((j) => j.callbackUrl ?? null),
        col((j) => j.name ?? null),
        col((j) => j.priority ?? 0),
        col((j) => j.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
        jobs.length,
        col((j) => j.owner ?? null),
        col((j) => Date.parse(j.start)),
        col((j) => j.traceparent ?? null),
        col((j) => j.runAfter ?? 0),
        col((j) => j.singleton?.key ?? null),
        col((j) => j.scheduleId ?? null),
        col((j) => j.concurrencyKey ?? null),
      ],
      on,
    );
    return new Set(inserted.rows.map((r) => r.id));
  }

  /**
   * A worker's outcome (a lease fence) joins the group commit of ends: outcomes that arrive
   * while a batch is being written are written together in the next one, one statement and
   * one commit for all of them (each still under its own fence). Other transitions (cancels,
   * heartbeats, the deadline, the last lease running out) go alone.
   */
  transition(kind: TransitionKind, id: string, fence: Fence, params: Record<string, unknown>): Promise<JobRow | undefined> {
    if (kind !== "end" || fence.kind !== "lease") return this.s.run(() => this.transitionOne(kind, fence, params));
    return new Promise((resolve, reject) => {
      this.pendingEnds.push({ id, params: fenceParams(fence, params), fence, resolve, reject });
      if (!this.ending) void this.writeEnds();
    });
  }

  /** One compare-and-set; an end writes its completion push; every change is announced. */
  private async transitionOne(kind: TransitionKind, fence: Fence, params: Record<string, unknown>): Promise<JobRow | undefined> {
    const update = `${transitionSql(kind, fence.kind)} RETURNING *`;
    const announce = kind === "requeue" ? `, pg_notify('${AVAILABLE}', ${AVAILABLE_PAYLOAD})` : "";
    const sql = kind === "end" ? `WITH ended AS (${update}), ${OUTBOX} SELECT *, pg_notify('${CHANNEL}', id) FROM ended` : `WITH changed AS (${update}) SELECT *, pg_notify('${CHANNEL}', id)${announce} FROM changed`;
    return (await this.s.exec(sql, fenceParams(fence, params))).rows[0];
  }

  private pendingEnds: PendingEnd[] = [];
  private ending = false;

  private async writeEnds(): Promise<void> {
    this.ending = true;
    while (this.pendingEnds.length) {
      // A job at most once per batch: a second outcome for it waits for the next batch and
      // then meets the first one's result, as it would alone.
      const batch: PendingEnd[] = [];
      const later: PendingEnd[] = [];
      const ids = new Set<string>();
      for (const e of this.pendingEnds) {
        if (batch.length < 500 && !ids.has(e.id)) {
          ids.add(e.id);
          batch.push(e);
        } else later.push(e);
      }
      this.pendingEnds = later;
      const alone = (e: PendingEnd) => this.s.run(() => this.transitionOne("end", e.fence, e.params)).then(e.resolve, e.reject);
      if (batch.length === 1) {
        await alone(batch[0]!);
        continue;
      }
      let rows: JobRow[];
      try {
        rows = await this.s.run(() => this.endBatch(batch));
      } catch (err) {
        // The database away, or a statement it cannot even read (class 42: a syntax error, an
        // unknown column): every outcome of the batch fails, loudly. Going on alone would hide
        // such a fault behind a statement and a commit per outcome, as it once did.
        if (err instanceof StoreUnavailableError || String((err as { code?: unknown }).code).startsWith("42")) {
          for (const e of batch) e.reject(err);
          continue;
        }
        // Anything else (a deadlock with a sweeper, a value one row's constraint refuses): each
        // outcome on its own, so that one cannot fail the others.
        await Promise.all(batch.map(alone));
        continue;
      }
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const e of batch) e.resolve(byId.get(e.id));
    }
    this.ending = false;
  }

  /** Many ends, one statement: the same SET and fence as one end's, each row's values from arrays. */
  private async endBatch(batch: PendingEnd[]): Promise<JobRow[]> {
    // Quoted: some of the names are PostgreSQL's reserved words (`to`, `end`), which a column
    // list refuses bare. (Unquoted, every batch was a syntax error and each outcome went alone.)
    const fromArrays = (sql: string) => sql.replace(/(?<!:):([a-zA-Z_]\w*)/g, 'i."$1"');
    const arrays = END_COLUMNS.map(([, type], n) => `$${n + 1}::${type}[]`).join(", ");
    // In id order, the order a create locks its parents in: the update takes the rows' locks
    // as it meets them, and two lockers in one order queue behind each other instead of each
    // holding what the other waits for (a deadlock either way is run again: pg-session.ts).
    const inOrder = [...batch].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const r = await this.s.q(
      `WITH i AS (SELECT * FROM unnest(${arrays}) AS t(${END_COLUMNS.map(([name]) => `"${name}"`).join(", ")})),
       ended AS (
         UPDATE jobs SET ${fromArrays(TRANSITION_SET.end)}
         FROM i WHERE jobs.id = i.id AND jobs.status = '${IN_PROGRESS}'${fromArrays(fenceSql("lease"))} RETURNING jobs.*), ${OUTBOX}
       SELECT *, pg_notify('${CHANNEL}', id) FROM ended`,
      END_COLUMNS.map(([name]) => inOrder.map((e) => e.params[name] ?? null)),
    );
    return r.rows;
  }
}
