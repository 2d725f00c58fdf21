// The wake-ups of claims at the times jobs come due: in time order, once each, with one timer
// however many are waiting, and a time further off than setTimeout can hold (24.8 days)
// waited for, not fired at once.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Wakeups } from "../../src/jobs/wakeups.js";

const DAY = 86_400_000;

describe("wake-ups", () => {
  beforeEach(() => void vi.useFakeTimers({ now: Date.parse("2030-01-01T00:00:00Z") }));
  afterEach(() => void vi.useRealTimers());
  const clock = { now: () => Date.now() };

  it("wake each name at its time, in time order, with one timer for all", () => {
    const woken: (string | undefined)[] = [];
    const w = new Wakeups(clock, (name) => woken.push(name));
    const t0 = Date.now();
    for (const [ms, name] of [[300, "c"], [100, "a"], [200, "b"], [100, undefined], [5000, "late"]] as const) w.add(t0 + ms, name);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(woken).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(woken.sort()).toEqual(["a", undefined].sort());
    vi.advanceTimersByTime(200);
    expect(woken.slice(2)).toEqual(["b", "c"]);
    expect(w.size).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    // An earlier one added later re-arms the one timer.
    w.add(Date.now() + 10, "soon");
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(10);
    expect(woken.at(-1)).toBe("soon");
    vi.advanceTimersByTime(5000);
    expect(woken.at(-1)).toBe("late");
    expect(w.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("wait for a time 40 days off, past what one timer holds, and fire once then", () => {
    const woken: (string | undefined)[] = [];
    const w = new Wakeups(clock, (name) => woken.push(name));
    const at = Date.now() + 40 * DAY;
    w.add(at, "monthly");
    // setTimeout(f, 40 days) would fire at once; the wake-up waits its 24.8 days, then the rest.
    vi.advanceTimersByTime(1000);
    expect(woken).toEqual([]);
    vi.advanceTimersByTime(25 * DAY);
    expect(woken).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(15 * DAY - 1001);
    expect(woken).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(woken).toEqual(["monthly"]);
  });

  it("a timer firing while the wall clock reads a millisecond early waits out the rest", () => {
    let skew = 0;
    const woken: string[] = [];
    const w = new Wakeups({ now: () => Date.now() - skew }, (name) => woken.push(name!));
    w.add(Date.now() + 50, "x");
    skew = 1;
    vi.advanceTimersByTime(50);
    expect(woken).toEqual([]);
    skew = 0;
    vi.advanceTimersByTime(1);
    expect(woken).toEqual(["x"]);
  });

  it("clear drops them all", () => {
    const woken: string[] = [];
    const w = new Wakeups(clock, (name) => woken.push(name!));
    for (let i = 0; i < 100; i++) w.add(Date.now() + 10 + i, `n${i}`);
    w.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(woken).toEqual([]);
  });
});
