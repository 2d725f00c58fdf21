// API keys files for tests: principals and roles in, the file and each one's key out.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { hashKey, newKey, type Role } from "../../src/auth/keys.js";
import { tempDir } from "./server.js";

export interface TestKeys<N extends string = string> {
  file: string;
  /** principal -> key */
  key: Record<N, string>;
  /** principal -> `{ Authorization: "Bearer <key>" }` */
  auth: Record<N, Record<string, string>>;
  /** Rewrites the file with these principals (new keys for new names, the same for the others). */
  rewrite(principals: Partial<Record<N, Role>> & Record<string, Role>): void;
}

export function writeKeys<N extends string>(principals: Record<N, Role>, dir = tempDir("keys-")): TestKeys<N> {
  const file = path.join(dir, "api-keys");
  const key: Record<string, string> = {};
  const auth: Record<string, Record<string, string>> = {};
  const out: TestKeys<N> = {
    file,
    key: key as Record<N, string>,
    auth: auth as Record<N, Record<string, string>>,
    rewrite(next) {
      const lines = ["# principal role sha256-of-key"];
      for (const [name, role] of Object.entries(next)) {
        const k = (key[name] ??= newKey());
        auth[name] = { Authorization: `Bearer ${k}` };
        lines.push(`${name} ${role} ${hashKey(k)}`);
      }
      writeFileSync(file, `${lines.join("\n")}\n`);
    },
  };
  out.rewrite(principals);
  return out;
}
