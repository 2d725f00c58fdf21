import { describe, expect, it } from "vitest";
import { ID_TIME_BYTES, newJobId, newLeaseToken } from "../../src/jobs/ids.js";

describe("job ids", () => {
  it("are 22 base64url characters, creation time first, then 80 random bits", () => {
    const at = Date.UTC(2026, 10, 30, 9, 0, 0, 123);
    const ids = Array.from({ length: 1000 }, () => newJobId(at));
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, "base64url").readUIntBE(0, ID_TIME_BYTES)).toBe(at);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // The random part differs in every id, not just in a counter's last bits.
    const tails = new Set(ids.map((id) => id.slice(8, 14)));
    expect(tails.size).toBeGreaterThan(990);
  });

  it("created in the same millisecond share their first 8 characters (index locality)", () => {
    const a = newJobId(1_800_000_000_000);
    const b = newJobId(1_800_000_000_000);
    expect(a.slice(0, 8)).toBe(b.slice(0, 8));
    expect(a).not.toBe(b);
  });

  it("lease tokens carry no time", () => {
    const tokens = Array.from({ length: 300 }, () => newLeaseToken());
    expect(new Set(tokens.map((t) => t.slice(0, 6))).size).toBeGreaterThan(250);
  });
});
