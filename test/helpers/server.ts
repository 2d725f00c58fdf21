// The job API in-process, on a real SQLite file in a temporary folder, over real HTTP.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino, type Logger } from "pino";
import { loadConfig, type Config } from "../../src/config.js";
import type { Clock } from "../../src/jobs/clock.js";
import { startServer, type RunningServer } from "../../src/server.js";
import type { ResponseValidationFailure } from "../../generated/index.js";

export interface TestServer extends RunningServer {
  dir: string;
  /** Responses that violated the spec; tests assert this stays empty. */
  invalidResponses: ResponseValidationFailure[];
}

export function tempDir(prefix = "jobs-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startTestServer(
  opts: { clock?: Clock | undefined; env?: Record<string, string> | undefined; dir?: string | undefined; databaseUrl?: string | undefined; random?: (() => number) | undefined; logger?: Logger | undefined } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? tempDir();
  const config: Config = {
    ...loadConfig({ DATABASE_URL: opts.databaseUrl ?? `sqlite:${path.join(dir, "jobs.db")}`, ...opts.env }),
    port: 0,
    host: "127.0.0.1",
    validateResponses: true,
  };
  const invalidResponses: ResponseValidationFailure[] = [];
  const running = await startServer(config, {
    clock: opts.clock,
    random: opts.random,
    logger: opts.logger ?? pino({ level: "silent" }),
    onResponseValidationError: (f) => invalidResponses.push(f),
  });
  return Object.assign(running, { dir, invalidResponses });
}
