#!/usr/bin/env node
// Entry point of `npx ramlgen`. Runs the compiled generator (dist/generator, built by
// `npm ci` through the prepare script) when it is at least as new as every source file,
// and the TypeScript sources through tsx otherwise, so an edited generator is never stale.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const compiled = path.join(root, "dist/generator/cli.js");

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

let cli;
if (existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource(path.join(root, "generator"))) {
  cli = await import(compiled);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import("../generator/cli.ts");
}
const argv = process.argv.slice(2);
const code = await cli.main(argv);
const watching = argv.includes("--watch") || argv.includes("-w") || argv[0] === "mock";
if (!watching || code !== 0) process.exit(code);
