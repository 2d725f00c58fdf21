// The CLI's last line of defence: an error that is a bug in ramlgen (here, a generate() that
// throws a TypeError) is said in one plain line, exit code 3, and no stack trace unless asked.
import { afterEach, describe, expect, it, vi } from "vitest";

vi.mock("../../generator/generate.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../generator/generate.js")>()),
  generate: () => {
    throw new TypeError("Cannot read properties of undefined (reading 'x')");
  },
}));

const { main } = await import("../../generator/cli/cli.js");

describe("ramlgen on an internal error", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    delete process.env["RAMLGEN_DEBUG"];
  });

  it("exits 3 with a plain message and no stack trace", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void lines.push(args.join(" ")));
    expect(await main(["generate", "test/fixtures/full/api.raml", "--out", "/tmp/never-written"])).toBe(3);
    expect(lines[0]).toBe("ramlgen: internal error: Cannot read properties of undefined (reading 'x')");
    expect(lines.join("\n")).not.toMatch(/\n\s+at /);
    expect(lines[1]).toMatch(/a bug in ramlgen, not in your spec; RAMLGEN_DEBUG=1 shows where/);
  });

  it("shows the stack with RAMLGEN_DEBUG=1", async () => {
    process.env["RAMLGEN_DEBUG"] = "1";
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void lines.push(args.join(" ")));
    expect(await main(["generate", "test/fixtures/full/api.raml", "--out", "/tmp/never-written"])).toBe(3);
    expect(lines.join("\n")).toMatch(/TypeError: Cannot read properties[\s\S]*\n\s+at /);
  });
});
