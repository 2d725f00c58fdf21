// The files a spec is made of (itself, its libraries and its !includes), for --watch.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const INCLUDE = /!include\s+([^\s#,}\]]+)/g;
const EXTENDS = /^extends:\s*([^\s#]+)/m;
const USES_BLOCK = /^uses:\s*\n((?:[ \t]+[^\n]*\n?)*)/m;
const USES_ENTRY = /^[ \t]+[\w.-]+:\s*([^\s#]+)/gm;

export function specFiles(root: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    const full = path.resolve(file);
    if (seen.has(full)) return;
    seen.add(full);
    if (!existsSync(full) || !/\.(raml|ya?ml)$/i.test(full)) return;
    const text = readFileSync(full, "utf8");
    const dir = path.dirname(full);
    const refs = [...text.matchAll(INCLUDE)].map((m) => m[1]!);
    // An overlay or extension depends on the API it extends.
    const extended = EXTENDS.exec(text);
    if (extended) refs.push(extended[1]!);
    const uses = USES_BLOCK.exec(text);
    if (uses) refs.push(...[...uses[1]!.matchAll(USES_ENTRY)].map((m) => m[1]!));
    for (const r of refs) if (!/^[a-z]+:\/\//i.test(r)) visit(path.resolve(dir, r));
  };
  visit(root);
  return [...seen].sort();
}
