// `npm ci` runs this: compile TypeScript to dist/ (the service) and generator/dist/ (the
// generator, so that `npx ramlgen` starts fast); `npm start` builds the service only. Skipped where dev dependencies are not
// installed (`npm ci --omit=dev` on a machine that runs an already built dist/), and when
// dist/ is newer than every source it is built from: loading the compiler alone costs about
// a second, which `npm start` should not pay when nothing changed.
import { execFileSync } from "node:child_process";
import { readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The two TypeScript projects: the service (src/ and generated/) and the generator package. */
const projects = {
  service: { tsconfig: "tsconfig.build.json", stamp: "dist/.built", inputs: ["src", "generated", "tsconfig.json", "tsconfig.build.json", "package-lock.json"] },
  generator: { tsconfig: "generator/tsconfig.json", stamp: "generator/dist/.built", inputs: ["generator", "tsconfig.json", "package-lock.json"] },
};

/** Newest modification time under `p` (a file or a folder, not counting build output), in ms; 0 when absent. */
function newest(p) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs; // a deleted file shows as a newer folder
  for (const entry of readdirSync(p)) if (entry !== "dist" && entry !== "node_modules") max = Math.max(max, newest(path.join(p, entry)));
  return max;
}

/** Compiles a project unless its output is newer than every input (or `force`). */
export function build({ force = false, project = "service" } = {}) {
  const { tsconfig: config, stamp: stampPath, inputs } = projects[project];
  const stamp = path.join(root, stampPath);
  const builtAt = newest(stamp);
  if (!force && builtAt > 0 && inputs.every((p) => newest(path.join(root, p)) < builtAt)) return;
  const require = createRequire(import.meta.url);
  let tsc;
  try {
    tsc = path.join(path.dirname(require.resolve("typescript/package.json")), "bin/tsc");
  } catch {
    console.log("prepare: typescript is not installed; not building dist/");
    return;
  }
  const startedAt = new Date();
  execFileSync(process.execPath, [tsc, "-p", config], { cwd: root, stdio: "inherit" });
  // Stamped with the time the build started: a source saved during the build is then newer.
  writeFileSync(stamp, "");
  utimesSync(stamp, startedAt, startedAt);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes("--force");
  build({ force, project: "service" });
  build({ force, project: "generator" });
}
