// The benchmarks run the service with authentication on, as it runs in production: a keys
// file with one admin key (it may use both the clients' and the workers' resources, and sees
// every job), and the header that presents it.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { hashKey, newKey } from "../src/auth/keys.js";

export function benchKey(dir: string): { file: string; authorization: string } {
  const key = newKey();
  const file = path.join(dir, "api-keys");
  writeFileSync(file, `bench admin ${hashKey(key)}\n`);
  return { file, authorization: `Bearer ${key}` };
}
