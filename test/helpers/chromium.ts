// Debian's Chromium for the browser tests (/docs, /dashboard). .ci/run installs it and sets
// REQUIRE_CHROMIUM; elsewhere a missing Chromium skips those tests with a message.
import { existsSync } from "node:fs";

export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

export function chromiumOrSkip(what: string): string | undefined {
  if (!CHROMIUM) {
    if (process.env["REQUIRE_CHROMIUM"]) throw new Error("REQUIRE_CHROMIUM is set but Chromium is not installed");
    console.warn(`${what} SKIPPED: Debian's chromium is not installed (apt-get install chromium)`);
  }
  return CHROMIUM;
}

export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
