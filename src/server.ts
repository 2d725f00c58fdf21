// Wires config, store, engine, app and HTTP server together; used by main.ts and by tests.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { pinoHttp } from "pino-http";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import { systemClock, type Clock } from "./jobs/clock.js";
import { JobService } from "./jobs/service.js";
import type { JobStore } from "./jobs/store.js";
import { openStore } from "./stores.js";
import type { ResponseValidationFailure } from "../generated/index.js";

export interface RunningServer {
  server: Server;
  url: string;
  service: JobService;
  store: JobStore;
  logger: Logger;
  /** Stops accepting, finishes in-flight requests, stops the sweeper, closes the store. */
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  store?: JobStore;
  onResponseValidationError?: (f: ResponseValidationFailure) => void;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  const store = opts.store ?? (await openStore(config, (err) => logger.warn({ err }, "idle database connection lost")));
  const service = new JobService(store, {
    clock: opts.clock ?? systemClock,
    deadlineMs: config.deadlineSeconds * 1000,
    retentionMs: config.retentionSeconds * 1000,
  });
  const app = createApp({
    service,
    retryAfterSeconds: config.retryAfterSeconds,
    logger,
    router: {
      bodyLimit: config.bodyLimitBytes,
      maxJsonDepth: config.maxJsonDepth,
      validateResponses: config.validateResponses,
      onResponseValidationError: opts.onResponseValidationError ?? ((f) => logger.error({ failure: f }, "response violates the spec")),
      onError: (err, operation) => logger.error({ err, operation }, "handler failed"),
    },
  });
  const httpLogger = pinoHttp({
    logger,
    quietReqLogger: true,
    serializers: {
      req: (req) => ({ method: req.method, url: req.url }),
      res: (res) => ({ statusCode: res.statusCode }),
    },
  });
  // One log line per request at `info`; above it, no per-request logging work at all.
  const server = logger.isLevelEnabled("info")
    ? createServer((req, res) => {
        httpLogger(req, res);
        app(req, res);
      })
    : createServer(app);
  const sweep = async () => {
    try {
      const r = await service.sweep();
      if (r.expired || r.purged) logger.info(r, "sweep");
    } catch (err) {
      logger.error({ err }, "sweep failed");
    }
  };
  const timer = setInterval(sweep, config.sweepIntervalSeconds * 1000);
  timer.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}`,
    service,
    store,
    logger,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutSeconds * 1000);
        await closed;
        clearTimeout(force);
        await store.close();
      })();
      return closing;
    },
  };
}
