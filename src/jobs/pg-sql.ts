// PostgreSQL's own statements beside the shared ones of queue-sql.ts: its dialect, the claim
// as one statement, the outbox rows written by the statement that ends a job, and the
// announcements (LISTEN/NOTIFY, pg-announce.ts) sent by the statements that change jobs.
import { AVAILABLE, AVAILABLE_PAYLOAD, CHANNEL } from "./pg-announce.js";
import { unlimited } from "./limits-sql.js";
import { CLAIM_ORDER, claimSelect, type ClaimScope, numbered, TAKE_SET, type Compiled, type Dialect } from "./queue-sql.js";

// Writes the outbox row of every ended job that has a callback, in the statement that ends it.
export const OUTBOX = `outbox AS (
  INSERT INTO deliveries (id, job_id, url, status, created_ms, next_attempt_ms)
  SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), id, callback_url, 'pending', ended_ms, ended_ms
  FROM ended WHERE callback_url IS NOT NULL)`;

/** PostgreSQL's words: `$n` placeholders, claims that skip rows other claims hold, names in an array. */
export const POSTGRES: Dialect = {
  compile: (sql) => numbered(sql),
  skipLocked: " FOR UPDATE SKIP LOCKED",
  indexed: () => "",
  nameIn: (param) => `name = ANY(${param}::text[])`,
  unlimited: unlimited("LEAST", "GREATEST"),
};

/** The claim's parameters, in the order claimSql numbers them. */
const CLAIM_PARAMS = ["now", "max", "tokens", "expires", "ms", "worker"];

/**
 * The claim, one statement: the queue's selection (SKIP LOCKED: concurrent claims from any
 * instance take different jobs, and the row lock re-checks the conditions against a concurrent
 * change, so a job is never handed out twice), then the take, each job with the token at its
 * place in the order. With the table's statistics the planner walks the queue index and stops
 * at the limit. $1 now, $2 how many, $3 their tokens, $4 lease end, $5 lease ms, $6 worker,
 * $7 the name or names (when filtered). Exported for the query-plan test.
 */
export function claimSql(scope: ClaimScope): string {
  return claimStatement(scope).text;
}

const claimStatements = new Map<ClaimScope, Compiled>();

export function claimStatement(scope: ClaimScope): Compiled {
  let c = claimStatements.get(scope);
  if (c) return c;
  // The job updated is `j` (the query plans tell it from the jobs the selection reads).
  const take = TAKE_SET.replace(":token", "(:tokens::text[])[picked.n]").replaceAll("jobs.", "j.");
  c = numbered(
    `WITH c AS (${claimSelect(POSTGRES, scope, "priority, vtag, seq, ")}),
     picked AS (SELECT id, expired, row_number() OVER (ORDER BY ${CLAIM_ORDER}) AS n FROM c)
     UPDATE jobs j SET ${take} FROM picked WHERE j.id = picked.id
     RETURNING j.*, picked.expired AS previous_lease_expired`,
    [...CLAIM_PARAMS, ...(scope === "one" ? ["name"] : scope === "many" ? ["names"] : [])],
  );
  claimStatements.set(scope, c);
  return c;
}

/** An UPDATE of jobs whose rows are announced as changed and as available (a give-back's announcements). */
export function announced(update: string): string {
  return `WITH changed AS (${update} RETURNING *) SELECT *, pg_notify('${CHANNEL}', id), pg_notify('${AVAILABLE}', ${AVAILABLE_PAYLOAD}) FROM changed`;
}
