// DATABASE_URL -> JobStore.
import type { Config } from "./config.js";
import { ConfigError } from "./config.js";
import { SqliteJobStore } from "./jobs/sqlite-store.js";
import type { JobStore } from "./jobs/store.js";
import { storeProblem } from "./startup.js";

/** Opens the store DATABASE_URL names; a store that cannot be opened is a ConfigError naming it. */
export async function openStore(
  config: Pick<Config, "databaseUrl" | "sqliteSynchronous"> & Partial<Pick<Config, "maxAttempts">>,
  onIdleError?: (e: Error) => void,
): Promise<JobStore> {
  const url = config.databaseUrl;
  if (/^postgres(ql)?:\/\//.test(url)) {
    // Loaded only when used: node-postgres is not needed on the embedded default.
    const { PgJobStore } = await import("./jobs/pg-store.js");
    try {
      return await PgJobStore.open(url, { defaultMaxAttempts: config.maxAttempts }, onIdleError);
    } catch (e) {
      throw storeProblem(e, url);
    }
  }
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length);
    if (!file) throw new ConfigError("DATABASE_URL sqlite: needs a file path or :memory:");
    try {
      return new SqliteJobStore(file, { synchronous: config.sqliteSynchronous, defaultMaxAttempts: config.maxAttempts });
    } catch (e) {
      throw storeProblem(e, url);
    }
  }
  throw new ConfigError(`DATABASE_URL ${JSON.stringify(url.split(":")[0])}: is not a supported store (use sqlite:PATH or postgres://...)`);
}
