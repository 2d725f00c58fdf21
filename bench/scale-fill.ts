// The stored jobs of `npm run bench:scale`, written by bulk SQL (a few statements, not one
// request per job) into a store the service has migrated, so that filling 10 million jobs
// takes minutes rather than hours. The mix is what months of use leave behind:
//
// - jobs numbered 1..total in creation order, created over the last six days (inside the
//   default seven-day retention, so nothing is purged by the service itself);
// - the oldest (all but the backlog) ended: 90% SUCCESS with a result, 7% FAILED, 3%
//   CANCELLED, each with its history (created, then its end);
// - the newest `waiting` share IN PROGRESS: the backlog, of which the first `running` are
//   held by a worker under an unexpired lease;
// - five job names, eight clients (c0..c7, each creating runs of 100), priorities 0-2, ids laid
//   out as the service makes them (src/jobs/ids.ts: the creation time's 48 bits, then 80
//   random bits, base64url), so that old jobs' ids lie together in the indexes as they would.
//
// The fair-share tag of a waiting job rises with its age in steps of 120 (the number of name,
// client and priority combinations), as the service's own creates would leave it.
export interface FillPlan {
  total: number;
  /** Jobs still IN PROGRESS (the newest). */
  waiting: number;
  /** Of those, held under a lease (the oldest of the backlog). */
  running: number;
  /** Creation time of job 0 (ms) and the time between two creates (ms, fractional). */
  t0: number;
  step: number;
  /** When the held leases run out. */
  leaseUntil: number;
}

export const NAMES = ["thumbnail", "invoice", "export", "reindex", "report"];
export const CLIENTS = Array.from({ length: 8 }, (_, i) => `c${i}`);

export function fillPlan(total: number, waitingShare: number, now = Date.now()): FillPlan {
  const span = 6 * 86_400_000;
  const waiting = Math.max(1, Math.round(total * waitingShare));
  return { total, waiting, running: Math.min(32, waiting), t0: now - span, step: span / total, leaseUntil: now + 3_600_000 };
}

/** The created time of job `n` (ms), as the fill computes it. */
export function createdAt(p: FillPlan, n: number): number {
  return Math.floor(p.t0 + n * p.step);
}

type Dialect = "sqlite" | "postgres";

/** The statements that fill an empty, migrated store, in order. */
export function fillStatements(d: Dialect, p: FillPlan): string[] {
  const endedUpTo = p.total - p.waiting;
  const sqlite = d === "sqlite";
  const iso = (ms: string) =>
    sqlite ? `strftime('%Y-%m-%dT%H:%M:%fZ', ${ms} / 1000.0, 'unixepoch')` : `to_char(to_timestamp(${ms} / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const pick = (list: string[], index: string) => `CASE ${index} ${list.map((v, i) => `WHEN ${i} THEN '${v}'`).join(" ")} END`;
  const mod = (a: string, b: number) => (sqlite ? `(${a} % ${b})` : `mod(${a}, ${b})`);
  const div = (a: string, b: number) => (sqlite ? `(${a} / ${b})` : `div(${a}, ${b})`);
  // SQLite: job_id() is newJobId itself, registered on the fill's connection (scale.ts).
  // PostgreSQL: the same layout in SQL, the creation time's low 6 bytes then 10 random ones.
  const id = sqlite
    ? "job_id(c)"
    : "rtrim(translate(encode(substring(int8send(c) from 3) || substring(decode(md5(random()::text || n::text), 'hex') from 1 for 10), 'base64'), '+/', '-_'), '=')";
  const bool = (b: boolean) => (sqlite ? (b ? "1" : "0") : b ? "TRUE" : "FALSE");
  const series = sqlite
    ? `(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${p.total}) SELECT n FROM s)`
    : `generate_series(1, ${p.total})`;
  const status = `CASE WHEN n > ${endedUpTo} THEN 'IN PROGRESS' WHEN ${mod("n", 100)} < 90 THEN 'SUCCESS' WHEN ${mod("n", 100)} < 97 THEN 'FAILED' ELSE 'CANCELLED' END`;
  // One row per n with what the columns are made of; the outer SELECT makes the columns.
  const base = `SELECT n, CAST(${p.t0} + n * ${p.step} AS BIGINT) AS c, ${status} AS status,
      ${pick(NAMES, mod("n", NAMES.length))} AS name, ${pick(CLIENTS, mod(div("n", 100), CLIENTS.length))} AS owner,
      ${mod("n", 3)} AS priority, (n > ${endedUpTo} AND n <= ${endedUpTo + p.running}) AS held
    FROM ${series} AS s${sqlite ? "" : "(n)"}`;
  const ended = "status <> 'IN PROGRESS'";
  const endedMs = `CASE WHEN ${ended} THEN c + 1500 END`;
  const jobs = `INSERT INTO jobs (seq, id, status, started_at, ended_at, ended_ms, has_result, result, error, request, deadline_ms,
      name, priority, attempts, max_attempts, lease_token, lease_expires_ms, lease_ms, worker, owner, touched_ms, ended_by, claimed_ms, vtag)
    SELECT n, ${id}, status, ${iso("c")}, CASE WHEN ${ended} THEN ${iso("(c + 1500)")} ELSE '' END, ${endedMs},
      CASE WHEN status = 'SUCCESS' THEN ${bool(true)} ELSE ${bool(false)} END,
      CASE WHEN status = 'SUCCESS' THEN '{"url":"https://files.example/out/' || n || '.bin","bytes":' || (n * 7) || '}' END,
      CASE WHEN status = 'FAILED' THEN '{"type":"urn:async-api:job-failed","title":"The job failed","detail":"upstream answered 502"}'
           WHEN status = 'CANCELLED' THEN '{"type":"urn:async-api:job-cancelled","title":"cancelled"}' END,
      '{"name":"' || name || '","priority":' || priority || ',"input":{"n":' || n || ',"source":"s3://bucket/in/' || n || '.bin"}}',
      c + 86400000, name, priority,
      CASE WHEN ${ended} OR held THEN 1 ELSE 0 END, 3,
      CASE WHEN ${ended} OR held THEN 'lt' || n END,
      CASE WHEN held THEN ${p.leaseUntil} ELSE 0 END,
      CASE WHEN ${ended} OR held THEN 30000 ELSE 0 END,
      CASE WHEN ${ended} OR held THEN 'worker-' || ${mod("n", 16)} END,
      owner, COALESCE(${endedMs}, c), CASE WHEN ${ended} THEN 'worker-' || ${mod("n", 16)} END,
      CASE WHEN ${ended} OR held THEN c + 200 ELSE 0 END,
      CASE WHEN ${ended} THEN 0 ELSE ${div(`(n - ${endedUpTo})`, 120)} END
    FROM (${base}) AS b`;
  // The history (PostgreSQL's triggers are off during the fill: see fill in scale.ts): each
  // job's `created`, and each ended job's end.
  const created = `INSERT INTO job_events (job_id, at_ms, type, actor) SELECT id, CAST(${p.t0} + seq * ${p.step} AS BIGINT), 'created', owner FROM jobs ORDER BY seq`;
  const ends = `INSERT INTO job_events (job_id, at_ms, type, actor, attempt)
    SELECT id, ended_ms, CASE status WHEN 'SUCCESS' THEN 'succeeded' WHEN 'FAILED' THEN 'failed' ELSE 'cancelled' END, worker, 1
    FROM jobs WHERE ended_ms IS NOT NULL ORDER BY seq`;
  // The IN PROGRESS counts (counts-sql.ts): SQLite's triggers kept them during the fill.
  const counts = `INSERT INTO job_counts (name, delta) SELECT name, COUNT(*) FROM jobs WHERE status = 'IN PROGRESS' GROUP BY name`;
  return sqlite ? [jobs, created, ends] : [jobs, created, ends, counts, `UPDATE job_seq SET value = ${p.total}`];
}
