// `npm start`: the job API on its embedded SQLite store.
import { ConfigError, loadConfig } from "./config.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  let running;
  try {
    running = await startServer(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`configuration error: ${(e as Error).message}`);
      process.exit(2);
    }
    throw e;
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
