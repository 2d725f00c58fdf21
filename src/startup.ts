// What keeps the service from starting, said in one line that names the setting to change and
// its value: a port already taken, an address this machine does not have, a data folder it may
// not write, a database that does not answer. Anything else is a bug, reported whole.
import type { Config } from "./config.js";
import { ConfigError } from "./config.js";

/** A URL as it may be printed: its password replaced. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

const errno = (e: unknown) => e as NodeJS.ErrnoException & { syscall?: string; address?: string; port?: number };

/** The listening socket could not be had. */
export function listenProblem(e: unknown, setting: { port: string; host: string }, address: { host: string; port: number }): string | undefined {
  const err = errno(e);
  if (err.syscall !== "listen") return undefined;
  const where = `${address.host}:${address.port}`;
  if (err.code === "EADDRINUSE") return `${setting.port}=${address.port}: ${where} is already in use by another process; set ${setting.port} to a free port`;
  if (err.code === "EACCES") return `${setting.port}=${address.port}: this user may not listen on ${where} (ports below 1024 need privileges); set ${setting.port} to 1024 or above`;
  if (err.code === "EADDRNOTAVAIL") return `${setting.host}=${address.host}: this machine has no such address; set ${setting.host} to one of its addresses, or 0.0.0.0`;
  return `${setting.port}=${address.port}: cannot listen on ${where} (${err.code ?? err.message})`;
}

/** The store could not be opened: said as the DATABASE_URL that needs changing. */
export function storeProblem(e: unknown, databaseUrl: string): ConfigError {
  const err = errno(e);
  const url = `DATABASE_URL=${redactedUrl(databaseUrl)}`;
  if (databaseUrl.startsWith("sqlite:")) {
    const reason = err.code && err.path ? `${err.code} on ${err.path}` : err.message;
    return new ConfigError(`${url}: cannot create or open the database file (${reason}); point DATABASE_URL at a folder this user may write`);
  }
  const code = err.code ?? "";
  if (["ECONNREFUSED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"].includes(code) || /timeout/i.test(err.message)) {
    return new ConfigError(`${url}: PostgreSQL does not answer there (${code || "timeout"}); start it, or fix the host and port`);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new ConfigError(`${url}: no such host (${code}); fix the host name`);
  if (code === "28P01" || code === "28000") return new ConfigError(`${url}: PostgreSQL refused the login (${err.message}); fix the user or password`);
  if (code === "3D000") return new ConfigError(`${url}: ${err.message}; create it, or name another database`);
  return new ConfigError(`${url}: cannot open the job store (${err.message})`);
}

/** The one line to print for an error that stopped the start, or undefined for a bug. */
export function startupLine(e: unknown, config: Pick<Config, "port" | "host"> | undefined): string | undefined {
  if (e instanceof ConfigError) return `configuration error: ${e.message}`;
  if (!config) return undefined;
  const listen = listenProblem(e, { port: "PORT", host: "HOST" }, { host: config.host, port: config.port });
  return listen && `configuration error: ${listen}`;
}
