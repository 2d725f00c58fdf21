// The service as a separate process (`src/main.ts` through tsx), for crash, restart and
// scale-out tests. It is ready when it answers /healthz on its port (whatever its log level).
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "../../scripts/free-port.js";

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = env["PORT"] && env["PORT"] !== "0" ? Number(env["PORT"]) : await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", path.resolve("src/main.ts")], {
    env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "info", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  let gone = false;
  const exited = new Promise<number | null>((r) =>
    child.once("exit", (code) => {
      gone = true;
      r(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  for (;;) {
    if (gone) throw new Error(`server exited:\n${out}`);
    if (Date.now() - t0 > 20_000) throw new Error(`server did not start:\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { child, url, output: () => out, exited };
}

/** Several instances started at the same moment (schema creation and migration must not collide). */
export async function spawnServers(n: number, env: Record<string, string>): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => spawnServer(env)));
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    for (const node of nodes) node.child.kill("SIGKILL");
    throw failed.reason;
  }
  return nodes;
}
