// A folder and its missing parents, made one level at a time: Node's `mkdirSync(dir, {
// recursive: true })` never returns for a path under /proc or /sys (Linux answers ENOENT there,
// which the recursive walk reads as "make the parent first", forever), and `--out` or
// RAMLGEN_CACHE_DIR may point anywhere. (The service has the same few lines in src/make-dir.ts:
// the generator is a package of its own and imports nothing of the service's.)
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";

export function makeDir(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d);
}
