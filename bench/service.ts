// The service as the benchmarks run it: its own process, answering once /healthz does.
import type { ChildProcess } from "node:child_process";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once the service at `url` answers /healthz; throws if `child` exits or 10 s pass. */
export async function untilHealthy(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      return;
    } catch {
      if (i > 400 || child.exitCode !== null) throw new Error("the service did not start");
      await sleep(25);
    }
  }
}
