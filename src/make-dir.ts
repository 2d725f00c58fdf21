// A folder and its missing parents, made one level at a time. Node's `mkdirSync(dir, {
// recursive: true })` never returns for a path under /proc or /sys (Linux answers ENOENT for a
// folder that cannot be made there, which the recursive walk reads as "make the parent first",
// forever): a DATA folder pointed at such a place would hang the start at full CPU instead of
// failing with one line.
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";

export function makeDir(dir: string, mode?: number): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  // Made from the outermost in; the first that cannot be made throws (ENOENT, EACCES, ENOTDIR).
  for (const d of missing) mkdirSync(d, mode === undefined ? undefined : { mode });
}
