#!/usr/bin/env node
// Entry point of `npx ramlgen`. An installed package runs its compiled JavaScript (dist/,
// built when the package is packed). In this repository, where the TypeScript sources sit
// beside dist/, it runs dist/ only while dist/ is at least as new as every source, and the
// sources through tsx otherwise, so an edited generator is never stale.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const compiled = path.join(pkg, "dist/cli/cli.js");
const source = path.join(pkg, "cli/cli.ts");

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "dist" || entry.name === "node_modules") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

let cli;
if (!existsSync(source) || (existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource(pkg))) {
  cli = await import(compiled);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import(source);
}
const argv = process.argv.slice(2);
const code = await cli.main(argv);
const watching = argv.includes("--watch") || argv.includes("-w") || argv[0] === "mock";
if (!watching || code !== 0) process.exit(code);
