#!/usr/bin/env node
// Entry point of `npx ramlgen`: runs the TypeScript sources of generator/ through tsx.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../generator/cli.ts");
const argv = process.argv.slice(2);
const code = await main(argv);
const watching = argv.includes("--watch") || argv.includes("-w");
if (!watching || code !== 0) process.exit(code);
