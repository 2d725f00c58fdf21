// The state machine's decisions, as a table: given a job (status and lease), a request and
// its token at a moment, what is decided. Every row is one rule of the worker table in docs/workers.md.
import { describe, expect, it } from "vitest";
import { decide, retryDelay, type JobState, type Transition } from "../../src/jobs/machine.js";

const NOW = 1_000_000;
const held: JobState = { status: "IN PROGRESS", lease: { token: "T", expiresAt: NOW + 1 } };
const lapsed: JobState = { status: "IN PROGRESS", lease: { token: "T", expiresAt: NOW } };
const released: JobState = { status: "IN PROGRESS", lease: { token: "T", expiresAt: 0 } };
const waiting: JobState = { status: "IN PROGRESS" };
const cancelled: JobState = { status: "CANCELLED", lease: { token: "T", expiresAt: NOW + 1 } };
const succeeded: JobState = { status: "SUCCESS", lease: { token: "T", expiresAt: NOW + 1 } };
const failed: JobState = { status: "FAILED", lease: { token: "T", expiresAt: NOW + 1 } };

const cancel: Transition = { kind: "cancel" };
const success: Transition = { kind: "end", to: "SUCCESS" };
const fail: Transition = { kind: "end", to: "FAILED" };
const progress: Transition = { kind: "progress" };
const retry: Transition = { kind: "retry" };
const release: Transition = { kind: "release" };

type Want = "apply:live" | "apply:unheld" | "apply:lease" | "repeat" | "ended" | "cancelled" | "lease-mismatch";

const table: [string, JobState, Transition, string | undefined, Want][] = [
  ["a client cancels a held job", held, cancel, undefined, "apply:live"],
  ["a client cancels a waiting job", waiting, cancel, undefined, "apply:live"],
  ["cancelling again", cancelled, cancel, undefined, "repeat"],
  ["cancelling a succeeded job", succeeded, cancel, undefined, "ended"],
  ["the holder heartbeats", held, progress, "T", "apply:lease"],
  ["the holder finishes", held, success, "T", "apply:lease"],
  ["the holder retries", held, retry, "T", "apply:lease"],
  ["the holder releases", held, release, "T", "apply:lease"],
  ["no token while held", held, success, undefined, "lease-mismatch"],
  ["another token while held", held, progress, "X", "lease-mismatch"],
  ["the holder after its lease expired", lapsed, progress, "T", "lease-mismatch"],
  ["the holder after giving the job back", released, success, "T", "lease-mismatch"],
  ["no token once the lease expired (a backend that did not claim)", lapsed, success, undefined, "apply:unheld"],
  ["no token on a job never claimed", waiting, progress, undefined, "apply:unheld"],
  ["a token on a job never claimed", waiting, progress, "X", "lease-mismatch"],
  ["the holder of a cancelled job", cancelled, progress, "T", "cancelled"],
  ["anyone finishing a cancelled job", cancelled, success, undefined, "cancelled"],
  ["the holder repeating its success", succeeded, success, "T", "repeat"],
  ["no token repeating a success", succeeded, success, undefined, "repeat"],
  ["a stale token repeating a success", succeeded, success, "X", "lease-mismatch"],
  ["the holder contradicting its success", succeeded, fail, "T", "ended"],
  ["progress after success", succeeded, progress, "T", "ended"],
  ["the holder repeating the retry that exhausted the job", failed, retry, "T", "repeat"],
  ["releasing a failed job", failed, release, "T", "ended"],
];

describe("decide", () => {
  it.each(table)("%s", (_name, job, t, token, want) => {
    const d = decide(job, t, token, NOW);
    const got = d.kind === "apply" ? `apply:${d.fence.kind}` : d.kind === "repeat" ? "repeat" : d.type;
    expect(got).toBe(want);
    if (d.kind === "apply" && d.fence.kind === "lease") expect(d.fence).toEqual({ kind: "lease", token, now: NOW });
  });
});

describe("retryDelay", () => {
  it.each([
    // attempt, base, cap, random, want
    [1, 1000, 300_000, 0, 500],
    [1, 1000, 300_000, 1, 1000],
    [2, 1000, 300_000, 0.5, 1500],
    [3, 1000, 300_000, 1, 4000],
    [10, 1000, 300_000, 1, 300_000],
    [40, 1000, 300_000, 0, 150_000],
  ])("attempt %i, base %i, cap %i, random %f: %i ms", (attempt, base, cap, random, want) => {
    expect(retryDelay(attempt, base, cap, () => random)).toBe(want);
  });

  it("spreads retries of jobs that failed together", () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelay(3, 1000, 300_000)));
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(2000), expect(d).toBeLessThanOrEqual(4000);
  });
});
