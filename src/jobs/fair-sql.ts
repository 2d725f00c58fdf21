// Fair share between clients: start-time fair queueing over the queue's order. Each job gets a
// virtual start tag (`vtag`) when it is created: one more than its client's latest waiting job
// in the same queue (name and priority), but never less than the tag at the head of that queue
// (its lowest tag among the jobs waiting there not held by a worker). Claims take jobs by
// priority, then tag, then age. So within a priority the clients with waiting jobs take turns
// (A's 1st, B's 1st, A's 2nd, B's 2nd, ...): a client that enqueues 20,000 jobs gets one turn
// in each round like any other, and a client arriving later starts at the head, not behind the
// backlog. A client's own jobs keep their order (its tags only grow).
//
// Both lookups walk an index from one end (jobs_fair and jobs_queue_name, partial over the
// jobs waiting), so a create costs the same whatever the backlog; the claim is still a walk of
// the queue index that stops at its limit. A job given back, re-run or let go by its
// dependencies keeps its tag (it was waiting already, so it comes early). Jobs without a name
// or an owner compare equal to the head: first come, first served among themselves.
import { IN_PROGRESS } from "./machine.js";

const WAITING = `status = '${IN_PROGRESS}' AND blockers = 0`;

/** Migration: the tag, and the queue indexes ordered by it. */
export const FAIR_MIGRATION_SQL = (big: string) => `ALTER TABLE jobs ADD COLUMN vtag ${big} NOT NULL DEFAULT 0;
   DROP INDEX jobs_queue;
   DROP INDEX jobs_queue_name;
   CREATE INDEX jobs_queue ON jobs (priority DESC, vtag, seq) WHERE ${WAITING};
   CREATE INDEX jobs_queue_name ON jobs (name, priority DESC, vtag, seq) WHERE ${WAITING};
   CREATE INDEX jobs_fair ON jobs (name, owner, priority, vtag) WHERE ${WAITING};`;

/**
 * A new job's tag, as an expression of its name, owner, priority and creation time (SQL
 * expressions of the insert), with the dialect's two-argument maximum (`MAX` or `GREATEST`).
 */
export function fairTag(greatest: string, v: { name: string; owner: string; priority: string; now: string }): string {
  return `${greatest}(
    COALESCE((SELECT f.vtag + 1 FROM jobs f WHERE f.name = ${v.name} AND f.owner = ${v.owner} AND f.priority = ${v.priority} AND f.${WAITING.replace(" AND ", " AND f.")}
      ORDER BY f.vtag DESC LIMIT 1), 0),
    COALESCE((SELECT h.vtag FROM jobs h WHERE h.name = ${v.name} AND h.priority = ${v.priority} AND h.${WAITING.replace(" AND ", " AND h.")}
      AND h.lease_expires_ms <= ${v.now} ORDER BY h.vtag LIMIT 1), 0))`;
}
