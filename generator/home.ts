// Where the generator package lives: its templates and runtime sources are read from there,
// both when running from the TypeScript sources and compiled from dist/.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package folder: the folder of this file, or the parent of dist/ once compiled. */
export const packageDir = fileURLToPath(new URL(".", import.meta.url)).replace(/([\\/])dist[\\/]$/, "$1");

/** A file of the package, by its path inside the package. */
export const packageFile = (p: string) => path.join(packageDir, p);

let manifest: { version: string; dependencies: Record<string, string> } | undefined;
/** The package's package.json (its version and the dependency ranges it was built with). */
export function packageManifest(): { version: string; dependencies: Record<string, string> } {
  return (manifest ??= JSON.parse(readFileSync(packageFile("package.json"), "utf8")));
}

/** A path as messages and banners show it: forward slashes on every system. */
export function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}
