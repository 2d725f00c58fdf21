// Which waiting claim a new job is counted against (src/jobs/changes.ts): the decisions that
// keep one commit of several jobs from sending several claims to the database, without ever
// leaving an announced job to the periodic re-check while a claim waits.
import { describe, expect, it } from "vitest";
import { ClaimWaiters } from "../../src/jobs/changes.js";

/** A claim that has looked once, found nothing and now waits; `woken` turns true when it is woken. */
function waiting(w: ClaimWaiters, room: number, names?: string[]) {
  const waiter = w.add(names, room);
  expect(waiter.looked(0)).toBe(false);
  const state = { waiter, woken: false };
  void waiter.wait(60_000).then(() => (state.woken = true));
  return state;
}
const tick = () => new Promise((r) => setImmediate(r));

describe("ClaimWaiters", () => {
  it("one job wakes one waiting claim, the longest waiting first; the others keep waiting", async () => {
    const w = new ClaimWaiters();
    const a = waiting(w, 1);
    const b = waiting(w, 1);
    w.notify("x");
    await tick();
    expect([a.woken, b.woken]).toEqual([true, false]);
    w.wakeAll();
  });

  it("jobs of one commit go to one woken claim while it has room for them", async () => {
    const w = new ClaimWaiters();
    const a = waiting(w, 3);
    const b = waiting(w, 3);
    for (const n of ["x", "x", "x"]) w.notify(n);
    await tick();
    expect([a.woken, b.woken]).toEqual([true, false]);
    // A fourth is more than the first can take: it wakes the second.
    w.notify("x");
    await tick();
    expect(b.woken).toBe(true);
    w.wakeAll();
  });

  it("a claim that took fewer jobs than it was woken for passes the rest on when it leaves", async () => {
    const w = new ClaimWaiters();
    const a = waiting(w, 3);
    const b = waiting(w, 3);
    w.notify("x");
    w.notify("x");
    await tick();
    expect([a.woken, b.woken]).toEqual([true, false]);
    // Its look took one (another claim, elsewhere, took the other): one notice is passed on.
    expect(a.waiter.looked(1)).toBe(false);
    a.waiter.done();
    await tick();
    expect(b.woken).toBe(true);
    w.wakeAll();
  });

  it("a claim that took nothing drops what it was woken for (others took it), and waits", async () => {
    const w = new ClaimWaiters();
    const a = waiting(w, 3);
    const b = waiting(w, 3);
    w.notify("x");
    await tick();
    expect(a.waiter.looked(0)).toBe(false);
    a.waiter.done();
    await tick();
    expect(b.woken).toBe(false);
    w.wakeAll();
  });

  it("a job announced while a claim is looking makes it look again if it found nothing, or is passed on if it took jobs", async () => {
    const w = new ClaimWaiters();
    const looking = w.add(undefined, 5);
    w.notify("x");
    expect(looking.looked(0)).toBe(true);
    w.notify("x");
    const other = waiting(w, 1);
    expect(looking.looked(2)).toBe(false);
    looking.done();
    await tick();
    expect(other.woken).toBe(true);
    w.wakeAll();
  });

  it("names: a job wakes only a claim that asked for its name, or for any", async () => {
    const w = new ClaimWaiters();
    const reports = waiting(w, 1, ["report"]);
    const any = waiting(w, 1);
    const thumbs = waiting(w, 1, ["thumbnail"]);
    w.notify("thumbnail");
    await tick();
    expect([reports.woken, any.woken, thumbs.woken]).toEqual([false, true, false]);
    w.notify("thumbnail");
    w.notify(undefined); // a job without a name: only a claim for any name takes it
    await tick();
    expect([reports.woken, thumbs.woken]).toEqual([false, true]);
    w.wakeAll();
  });

  it("a claim that leaves unanswered (its wait ran out, or its worker went away) passes on what it was woken for", async () => {
    const w = new ClaimWaiters();
    const a = waiting(w, 2);
    const b = waiting(w, 2);
    w.notify("x");
    await tick();
    a.waiter.done();
    await tick();
    expect(b.woken).toBe(true);
    w.wakeAll();
  });
});
