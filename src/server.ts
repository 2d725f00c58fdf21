// Wires config, store, engine, app and HTTP server together; used by main.ts and by tests.
import { hostname } from "node:os";
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { createRequestListener } from "./app.js";
import { SECURITY_HEADERS } from "./pages.js";
import { PROBLEM_JSON, problem } from "../generated/index.js";
import { ConfigError, type Config } from "./config.js";
import { systemClock, type Clock } from "./jobs/clock.js";
import { JobService } from "./jobs/service.js";
import { Scheduler } from "./schedules/scheduler.js";
import { WebhookDispatcher } from "./jobs/webhooks.js";
import { toJob, toTask } from "./handlers.js";
import { Dispatcher } from "./jobs/dispatch.js";
import type { JobStore } from "./jobs/store.js";
import { openStore } from "./stores.js";
import { unwatchFile, watchFile } from "node:fs";
import { adminCheck, authenticators } from "./auth/authenticators.js";
import { Metrics } from "./ops/metrics.js";
import { QueueSampler } from "./ops/sampler.js";
import { startTracing, validTraceparent } from "./ops/tracing.js";
import { KeyRing } from "./auth/keys.js";
import { RateLimiter } from "./auth/rate-limit.js";
import { assignRequestId, requestIdOf } from "./request-id.js";
import type { ResponseValidationFailure } from "../generated/index.js";

const STARTED = Symbol("started");
type Timed = ServerResponse & { [STARTED]?: number };

/**
 * One JSON line per request when its answer is finished: method, URL, status and time, in the
 * shape pino writes its lines. One shared listener (no closure per request); the start time
 * rides on the response. With a destination, the line (whose shape never changes) is
 * formatted here and written to it directly: a fifth of the cost of a logger call.
 */
export function requestLog(
  logger: Logger,
  destination?: { write(line: string): unknown },
  /** Also called with each finished response (the metrics' count). */
  then?: (res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const prefix = `{"level":30,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"time":`;
  const elapsed = (res: Timed) => Math.round((performance.now() - (res[STARTED] ?? 0)) * 1000) / 1000;
  // The lines of one turn of the event loop go to the destination in one write (its cost per
  // write grows with what it holds).
  let pending = "";
  const flush = () => {
    const lines = pending;
    pending = "";
    destination!.write(lines);
  };
  const finished = destination
    ? function (this: Timed) {
        const req = this.req;
        if (pending === "") setImmediate(flush);
        // The method is a token Node's parser has checked; the URL may hold anything: escaped.
        // The request id is a token of safe characters (src/request-id.ts): written as it is.
        pending += `${prefix}${Date.now()},"req":{"id":"${requestIdOf(req)}","method":"${req.method}","url":${JSON.stringify(req.url)}},"res":{"statusCode":${this.statusCode}},"responseTime":${elapsed(this)},"msg":"request completed"}\n`;
        then?.(this);
      }
    : function (this: Timed) {
        const req = this.req;
        logger.info({ req: { id: requestIdOf(req), method: req.method, url: req.url }, res: { statusCode: this.statusCode }, responseTime: elapsed(this) }, "request completed");
        then?.(this);
      };
  return (_req, res) => {
    (res as Timed)[STARTED] = performance.now();
    res.on("finish", finished);
  };
}

export interface RunningServer {
  server: Server;
  url: string;
  service: JobService;
  store: JobStore;
  logger: Logger;
  /** Re-reads API_KEYS_FILE (also done on SIGHUP by main.ts, and when the file changes). */
  reloadKeys(): void;
  /** Stops accepting, finishes in-flight requests, stops the sweeper, closes the store. */
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  store?: JobStore | undefined;
  /** Source of retry jitter (tests). */
  random?: (() => number) | undefined;
  onResponseValidationError?: ((f: ResponseValidationFailure) => void) | undefined;
}

/**
 * What Node's HTTP parser rejects by itself (malformed requests, oversized heads, requests
 * that do not arrive in time) is answered as problem+json too, then the connection closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
  const detail =
    status === 431 ? "the request head is larger than the server accepts" : status === 408 ? "the request did not arrive in time" : "the request is not valid HTTP";
  const body = JSON.stringify(problem(status, detail));
  const headers = { ...SECURITY_HEADERS, "Content-Type": PROBLEM_JSON, "Content-Length": String(Buffer.byteLength(body)), Connection: "close" };
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n${body}`);
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  // Log lines are buffered and written in chunks of 4 KiB, and at least every second: a system
  // call per line would cost more than the request it logs. Flushed when the server closes.
  const destination = opts.logger ? undefined : pino.destination({ dest: 1, minLength: 65_536, maxWrite: 262_144, sync: false });
  const flushing = destination && setInterval(() => destination.flush(), 1000).unref();
  // Keys never reach a log line, wherever a request's headers would be logged (the request
  // log below has no headers).
  const logger = opts.logger ?? pino({ level: config.logLevel, redact: ["req.headers.authorization", "headers.authorization", "*.headers.authorization"] }, destination);

  let keys: KeyRing | undefined;
  if (config.apiKeysFile) {
    try {
      keys = new KeyRing(config.apiKeysFile);
    } catch (e) {
      throw new ConfigError(`API_KEYS_FILE: ${(e as Error).message}`);
    }
  }
  const reloadKeys = () => {
    if (!keys) return;
    try {
      keys.reload();
      logger.info({ file: keys.file, keys: keys.size }, "API keys reloaded");
    } catch (err) {
      logger.error({ err: (err as Error).message }, "API keys file not reloaded: the keys in force stay");
    }
  };
  if (keys) watchFile(keys.file, { interval: 1000 }, (now, before) => now.mtimeMs !== before.mtimeMs && reloadKeys());
  const store = opts.store ?? (await openStore(config, (err) => logger.warn({ err }, "idle database connection lost")));
  const sampler = new QueueSampler(store, opts.clock ?? systemClock, config.queueSampleSeconds * 1000);
  const metrics = config.metrics ? new Metrics({ store, sampler }) : undefined;
  const tracing = await startTracing(config.otel);
  if (tracing) logger.info("OpenTelemetry tracing on (OTLP)");
  const service = new JobService(store, {
    observer: metrics,
    clock: opts.clock ?? systemClock,
    deadlineMs: config.deadlineSeconds * 1000,
    retentionMs: config.retentionSeconds * 1000,
    defaultMaxAttempts: config.maxAttempts,
    retryBackoffMs: config.retryBackoffMs,
    retryBackoffMaxMs: config.retryBackoffMaxMs,
    random: opts.random,
  });
  const scheduler = new Scheduler(store.schedules, service, {
    clock: opts.clock ?? systemClock,
    graceMs: config.scheduleGraceSeconds * 1000,
    onError: (err) => logger.error({ err }, "schedules: a look failed"),
  });
  const listener = createRequestListener({
    service,
    clock: opts.clock ?? systemClock,
    retryAfterSeconds: config.retryAfterSeconds,
    corsOrigins: config.corsOrigins,
    longPollMaxSeconds: config.longPollMaxSeconds,
    callbacks: config.webhooks,
    logger,
    metrics: metrics && (() => metrics.render()),
    queue: sampler,
    tracing: tracing ?? { traceparentOf: (req) => validTraceparent(req.headers["traceparent"]), claimed: () => undefined },
    admin: adminCheck(keys),
    security: authenticators(keys, logger),
    createLimit: config.createRatePerSecond > 0 ? new RateLimiter(config.createRatePerSecond, config.createRateBurst) : undefined,
    router: {
      bodyLimit: config.bodyLimitBytes,
      maxJsonDepth: config.maxJsonDepth,
      validateResponses: config.validateResponses,
      onResponseValidationError: opts.onResponseValidationError ?? ((f, req) => logger.error({ reqId: requestIdOf(req), failure: f }, "response violates the spec")),
      onError: (err, operation, req) => logger.error({ reqId: requestIdOf(req), err, operation }, "handler failed"),
      onRoute:
        metrics && tracing
          ? (op, req, res) => (metrics.onRoute(op, req, res), tracing.onRoute(op, req, res))
          : (metrics?.onRoute ?? tracing?.onRoute),
    },
  });
  const limits = {
    maxHeaderSize: config.maxHeaderBytes,
    requestTimeout: config.requestTimeoutSeconds * 1000,
    headersTimeout: Math.min(config.requestTimeoutSeconds * 1000, 30_000),
    // How often Node looks for requests past their time (its default, 30 s, would let a
    // shorter REQUEST_TIMEOUT_SECONDS run long).
    connectionsCheckingInterval: Math.min(1000, config.requestTimeoutSeconds * 500),
  };
  // One log line per request at `info`; above it, no per-request logging work at all.
  // One 'finish' listener per request at most: the request log's, which also counts the
  // answer for the metrics, or, with the log turned down, one that only counts.
  const count = metrics?.finished;
  const log = logger.isLevelEnabled("info") ? requestLog(logger, destination, count) : undefined;
  const counted = !log && count ? function (this: ServerResponse) { count(this); } : undefined;
  const server = createServer(limits, (req, res) => {
    // X-Request-Id goes on the answer where it is written (src/app.ts).
    assignRequestId(req);
    if (log) log(req, res);
    else if (counted) res.on("finish", counted);
    listener(req, res);
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
  const sweep = async () => {
    try {
      const r = await service.sweep();
      if (r.expired || r.exhausted || r.purged) logger.info(r, "sweep");
    } catch (err) {
      logger.error({ err }, "sweep failed");
    }
  };
  const timer = setInterval(sweep, config.sweepIntervalSeconds * 1000);
  timer.unref();
  scheduler.start();
  const webhooks = config.webhooks
    ? new WebhookDispatcher(store, {
        ...config.webhooks,
        maxAgeMs: config.webhooks.maxAgeSeconds * 1000,
        clock: opts.clock ?? systemClock,
        logger,
        render: toJob,
        onDelivery: metrics && ((result) => metrics.deliveries.inc({ kind: "webhook", result })),
      })
    : undefined;
  webhooks?.start();
  const dispatcher =
    config.dispatch && config.webhooks
      ? new Dispatcher(service, {
          ...config.dispatch,
          secret: config.webhooks.secret,
          timeoutMs: config.webhooks.timeoutMs,
          backoffMs: config.webhooks.backoffMs,
          clock: opts.clock ?? systemClock,
          logger,
          render: toTask,
          onDelivery: metrics && ((result) => metrics.deliveries.inc({ kind: "dispatch", result })),
        })
      : undefined;
  dispatcher?.start();
  sampler.start((err) => logger.warn({ err }, "queue sample failed"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  // Said once it runs (a start that fails says only why).
  if (keys) logger.info({ file: config.apiKeysFile, keys: keys.size }, "API keys loaded");
  else logger.warn("running without API keys (API_KEYS_FILE): anyone who can reach this service can do anything");
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}`,
    service,
    store,
    logger,
    reloadKeys,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await scheduler.stop();
        sampler.stop();
        if (keys) unwatchFile(keys.file);
        await dispatcher?.stop();
        service.stopWaiting();
        await webhooks?.stop();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutSeconds * 1000);
        await closed;
        clearTimeout(force);
        await store.close();
        await tracing?.shutdown().catch(() => {});
        clearInterval(flushing);
        try {
          destination?.flushSync();
        } catch {
          // not open yet: nothing was written
        }
      })();
      return closing;
    },
  };
}
