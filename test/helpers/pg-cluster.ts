// A throwaway PostgreSQL cluster (Debian's binaries, run as the postgres user), so a test can
// stop and start "the database" without touching the machine's shared server.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";

import os from "node:os";
import path from "node:path";
import { freePort } from "../../scripts/free-port.js";

function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, "bin")).find((d) => existsSync(path.join(d, "pg_ctl")));
}

/** Why a throwaway cluster cannot be made here, or undefined when it can. */
export function clusterUnavailableReason(): string | undefined {
  if (!binDir()) return "PostgreSQL server binaries are not installed";
  if (process.getuid?.() !== 0) return "making a throwaway cluster needs root (initdb runs as the postgres user)";
  return undefined;
}

export class ThrowawayCluster {
  private constructor(readonly dir: string, readonly port: number, private readonly bin: string) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private as(cmd: string, args: string[]): void {
    execFileSync("runuser", ["-u", "postgres", "--", path.join(this.bin, cmd), ...args], { stdio: "pipe" });
  }

  static async create(): Promise<ThrowawayCluster> {
    const bin = binDir()!;
    const dir = mkdtempSync(path.join(os.tmpdir(), "pgfault-"));
    chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
    const c = new ThrowawayCluster(dir, await freePort(), bin);
    c.as("initdb", ["-A", "trust", "-U", "postgres", "-D", path.join(dir, "data")]);
    c.start();
    return c;
  }

  start(): void {
    this.as("pg_ctl", ["-D", path.join(this.dir, "data"), "-l", path.join(this.dir, "log"), "-w", "-o", `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, "start"]);
  }

  stop(): void {
    this.as("pg_ctl", ["-D", path.join(this.dir, "data"), "-m", "fast", "-w", "stop"]);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
