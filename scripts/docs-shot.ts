// npm run docs:shot: serves the service on a temporary store and takes a screenshot of /docs
// with headless Chromium, to docs.png, for people to look at.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { loadConfig } from "../src/config.js";
import { startServer } from "../src/server.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "docs-shot-"));
const running = await startServer({ ...loadConfig({ DATABASE_URL: `sqlite:${path.join(dir, "jobs.db")}` }), port: 0, host: "127.0.0.1" }, { logger: pino({ level: "silent" }) });
try {
  // Asynchronously: the server answering Chromium runs in this process.
  await promisify(execFile)(
    "chromium",
    ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
      `--user-data-dir=${path.join(dir, "chromium")}`, "--window-size=1280,2400", `--screenshot=${path.resolve("docs.png")}`, `${running.url}/docs`],
  );
  console.log("wrote docs.png");
} finally {
  await running.close();
}
