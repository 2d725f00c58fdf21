import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // better-sqlite3 is a native addon: run test files in child processes, not worker threads.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    // Each file's temporary folders under one of its own, removed when it ends.
    setupFiles: ["./test/helpers/tmp-per-file.ts"],
  },
});
