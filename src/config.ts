// Configuration from the environment, with defaults that run with no set-up.
export interface Config {
  port: number;
  host: string;
  /** `sqlite:./data/jobs.db` (default), `sqlite::memory:`. */
  databaseUrl: string;
  logLevel: string;
  retryAfterSeconds: number;
  deadlineSeconds: number;
  retentionSeconds: number;
  sweepIntervalSeconds: number;
  /** A schedule's due time later than this when looked at was missed (its catch-up policy decides). */
  scheduleGraceSeconds: number;
  bodyLimitBytes: number;
  maxJsonDepth: number;
  /** Check responses against the spec; default on unless NODE_ENV=production. */
  validateResponses: boolean;
  sqliteSynchronous: "NORMAL" | "FULL";
  shutdownTimeoutSeconds: number;
  /** Largest accepted request head (request line and headers); larger gets 431. */
  maxHeaderBytes: number;
  /** A request that has not fully arrived within this time is cut off with 408. */
  requestTimeoutSeconds: number;
  /** Origins allowed by CORS; empty: CORS is off. `*` allows any origin. */
  corsOrigins: string[];
  /** Longest a `Prefer: wait=N` long-poll (job poll or claim) is held (0 turns long-polling off). */
  longPollMaxSeconds: number;
  /** maxAttempts of a job whose request does not say. */
  maxAttempts: number;
  /** First delay before a retryable failure is retried (doubling per attempt, with jitter). */
  retryBackoffMs: number;
  /** Longest retry delay. */
  retryBackoffMaxMs: number;
  /** API keys (`<principal> <role> <sha256>` per line); undefined: the service runs open. */
  apiKeysFile?: string | undefined;
  /** Job creations per second per caller (token bucket); 0: no limit. */
  createRatePerSecond: number;
  /** How many creations a caller may make at once before the rate applies. */
  createRateBurst: number;
  /** Push dispatch of new jobs to a backend: on when DISPATCH_URL is set (needs WEBHOOK_SECRET to sign). */
  dispatch?:
    | {
        url: string;
        names?: string[] | undefined;
        concurrency: number;
        leaseSeconds: number;
      }
    | undefined;
  /** Prometheus metrics at /metrics (admins only when keys exist); default on. */
  metrics: boolean;
  /** How often the queue is sampled for the dashboard and the queue gauges. */
  queueSampleSeconds: number;
  /** The OTEL_* variables (OpenTelemetry tracing is on when an OTLP endpoint is among them). */
  otel: Record<string, string | undefined>;
  /** Completion push: on when a signing secret is configured. */
  webhooks?: {
    secret: string;
    allowedHosts: string[];
    allowPrivate: boolean;
    maxAgeSeconds: number;
    backoffMs: number;
    timeoutMs: number;
  } | undefined;
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = (env[name] ?? "").toLowerCase();
  if (raw === "") return def;
  if (["on", "true", "1"].includes(raw)) return true;
  if (["off", "false", "0"].includes(raw)) return false;
  throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(env[name])}`);
}

function num(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Keys, or explicitly none. In production a service without keys would let anyone do
 * anything, so it refuses to start unless AUTH=off says that is intended.
 */
function apiKeysFile(env: NodeJS.ProcessEnv): string | undefined {
  const file = env["API_KEYS_FILE"] || undefined;
  const off = env["AUTH"] === "off";
  if (env["AUTH"] !== undefined && env["AUTH"] !== "" && !off) throw new ConfigError(`AUTH may only be "off", got ${JSON.stringify(env["AUTH"])}`);
  if (file && off) throw new ConfigError("AUTH=off and API_KEYS_FILE contradict each other: set one of them");
  if (!file && !off && env["NODE_ENV"] === "production") {
    throw new ConfigError("NODE_ENV=production needs API_KEYS_FILE (create keys with `npm run -s key:new -- <principal> <role>`), or AUTH=off to run without authentication on purpose");
  }
  return file;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function logLevel(env: NodeJS.ProcessEnv): string {
  const level = env["LOG_LEVEL"] || "info";
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
  return level;
}

function dispatchConfig(env: NodeJS.ProcessEnv): Config["dispatch"] {
  const url = env["DISPATCH_URL"];
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`DISPATCH_URL must be an http or https URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConfigError(`DISPATCH_URL must be an http or https URL, got ${JSON.stringify(url)}`);
  if (!env["WEBHOOK_SECRET"]) throw new ConfigError("DISPATCH_URL needs WEBHOOK_SECRET: dispatched jobs are signed with it");
  const names = (env["DISPATCH_NAMES"] ?? "").split(",").map((n) => n.trim()).filter(Boolean);
  return {
    url,
    names: names.length ? names : undefined,
    concurrency: int(env, "DISPATCH_CONCURRENCY", 16, 1, 1000),
    leaseSeconds: int(env, "DISPATCH_LEASE_SECONDS", 300, 5, 3600),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const sync = (env["SQLITE_SYNCHRONOUS"] ?? "NORMAL").toUpperCase();
  if (sync !== "NORMAL" && sync !== "FULL") throw new ConfigError(`SQLITE_SYNCHRONOUS must be NORMAL or FULL, got ${JSON.stringify(sync)}`);
  const validate = env["VALIDATE_RESPONSES"];
  return {
    port: int(env, "PORT", 3000, 0, 65535),
    host: env["HOST"] || "0.0.0.0",
    databaseUrl: env["DATABASE_URL"] || "sqlite:./data/jobs.db",
    logLevel: logLevel(env),
    retryAfterSeconds: int(env, "RETRY_AFTER_SECONDS", 1, 0, 86400),
    deadlineSeconds: int(env, "JOB_DEADLINE_SECONDS", 3600, 1),
    retentionSeconds: int(env, "JOB_RETENTION_SECONDS", 7 * 24 * 3600, 0),
    sweepIntervalSeconds: int(env, "SWEEP_INTERVAL_SECONDS", 30, 1),
    scheduleGraceSeconds: int(env, "SCHEDULE_GRACE_SECONDS", 60, 1),
    bodyLimitBytes: int(env, "BODY_LIMIT_BYTES", 1024 * 1024, 1),
    maxJsonDepth: int(env, "MAX_JSON_DEPTH", 64, 1, 10000),
    validateResponses: validate === undefined || validate === "" ? env["NODE_ENV"] !== "production" : validate === "true" || validate === "1",
    sqliteSynchronous: sync,
    shutdownTimeoutSeconds: int(env, "SHUTDOWN_TIMEOUT_SECONDS", 10, 0),
    maxHeaderBytes: int(env, "MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024),
    requestTimeoutSeconds: int(env, "REQUEST_TIMEOUT_SECONDS", 30, 1, 3600),
    longPollMaxSeconds: int(env, "LONG_POLL_MAX_SECONDS", 30, 0, 300),
    maxAttempts: int(env, "JOB_MAX_ATTEMPTS", 3, 1, 20),
    retryBackoffMs: int(env, "JOB_RETRY_BACKOFF_MS", 1000, 1),
    retryBackoffMaxMs: int(env, "JOB_RETRY_BACKOFF_MAX_MS", 300_000, 1),
    webhooks: env["WEBHOOK_SECRET"]
      ? {
          secret: env["WEBHOOK_SECRET"],
          allowedHosts: (env["CALLBACK_ALLOWED_HOSTS"] ?? "").split(",").map((h) => h.trim()).filter(Boolean),
          allowPrivate: env["CALLBACK_ALLOW_PRIVATE"] === "true" || env["CALLBACK_ALLOW_PRIVATE"] === "1",
          maxAgeSeconds: int(env, "WEBHOOK_MAX_AGE_SECONDS", 24 * 3600, 1),
          backoffMs: int(env, "WEBHOOK_BACKOFF_MS", 1000, 1),
          timeoutMs: int(env, "WEBHOOK_TIMEOUT_MS", 10_000, 100),
        }
      : undefined,
    dispatch: dispatchConfig(env),
    apiKeysFile: apiKeysFile(env),
    createRatePerSecond: num(env, "CREATE_RATE_PER_SECOND", 0, 0, 1_000_000),
    createRateBurst: int(env, "CREATE_RATE_BURST", Math.max(1, Math.ceil(num(env, "CREATE_RATE_PER_SECOND", 0, 0, 1_000_000))), 1),
    corsOrigins: (env["CORS_ORIGINS"] ?? "").split(",").map((o) => o.trim()).filter(Boolean),
    metrics: bool(env, "METRICS", true),
    queueSampleSeconds: int(env, "QUEUE_SAMPLE_SECONDS", 10, 1, 3600),
    otel: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("OTEL_"))),
  };
}
