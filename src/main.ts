// `npm start`: the job API on its embedded SQLite store.
import { loadConfig, type Config } from "./config.js";
import { startupLine } from "./startup.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  let config: Config | undefined;
  let running;
  try {
    config = loadConfig();
    running = await startServer(config);
  } catch (e) {
    // A setting to change: one line naming it and its value, exit 2. Anything else is a bug.
    const line = startupLine(e, config);
    if (line === undefined) throw e;
    console.error(line);
    process.exit(2);
  }
  running.logger.info({ url: running.url, store: config.databaseUrl }, "listening");
  // The log is buffered (flushed every second); whoever waits for "listening" should not.
  running.logger.flush();
  const stop = (signal: string) => {
    running.logger.info({ signal }, "shutting down");
    running.close().then(
      () => process.exit(0),
      (err) => {
        running.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // Keys rotate without a restart: `kill -HUP <pid>` re-reads API_KEYS_FILE.
  process.on("SIGHUP", () => running.reloadKeys());
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
