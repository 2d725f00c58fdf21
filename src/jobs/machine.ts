// The job state machine: IN PROGRESS -> SUCCESS | FAILED | CANCELLED, terminal states final.
// Pure decisions; the store applies them with compare-and-set so that racing transitions
// have exactly one winner.
export const IN_PROGRESS = "IN PROGRESS";
export type JobStatus = "IN PROGRESS" | "SUCCESS" | "FAILED" | "CANCELLED";
export type TerminalStatus = Exclude<JobStatus, "IN PROGRESS">;

export function isTerminal(s: JobStatus): s is TerminalStatus {
  return s !== IN_PROGRESS;
}

/** What a request asks of a job. */
export type Transition =
  | { kind: "end"; to: TerminalStatus }
  | { kind: "progress" };

export type Decision =
  /** Apply it (only valid while the job is IN PROGRESS). */
  | { kind: "apply" }
  /** The job already has this outcome: answer as before, change nothing. */
  | { kind: "repeat" }
  /** It contradicts the job's terminal state. */
  | { kind: "conflict"; reason: string };

export function decide(current: JobStatus, t: Transition): Decision {
  if (current === IN_PROGRESS) return { kind: "apply" };
  if (t.kind === "end" && t.to === current) return { kind: "repeat" };
  const what = t.kind === "progress" ? "progress cannot be updated" : `it cannot become ${t.to}`;
  return { kind: "conflict", reason: `the job has already ended as ${current}; ${what}` };
}
