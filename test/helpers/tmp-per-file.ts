// Each test file's temporary files (SQLite stores, key files, generated projects, browser
// profiles, uploads) go under one folder of its own, removed when the file ends. Helpers and
// tests make their folders with mkdtemp under os.tmpdir(), which reads TMPDIR at each call;
// the processes they start inherit it. Before this, every run left hundreds of folders in /tmp.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

// The machine's own temporary folder, kept across files should a process run more than one.
const shared = globalThis as { machineTmpdir?: string };
shared.machineTmpdir ??= os.tmpdir();
const dir = mkdtempSync(path.join(shared.machineTmpdir, "test-"));
// Others may pass through it (not list it): a throwaway PostgreSQL cluster runs as the
// postgres user in a folder made for it inside (pg-cluster.ts).
chmodSync(dir, 0o711);
process.env["TMPDIR"] = dir;

afterAll(() => {
  process.env["TMPDIR"] = shared.machineTmpdir;
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});
