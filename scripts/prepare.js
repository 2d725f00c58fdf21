// `npm ci` runs this: compile TypeScript to dist/ (the service, and the generator so that
// `npx ramlgen` starts fast). Skipped where dev dependencies are not installed
// (`npm ci --omit=dev` on a machine that runs an already built dist/).
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = path.join(path.dirname(require.resolve("typescript/package.json")), "bin/tsc");
} catch {
  console.log("prepare: typescript is not installed; not building dist/");
  process.exit(0);
}
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
