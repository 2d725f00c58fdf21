// API keys files for tests: principals and roles in, the file and each one's key out.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { hashKey, newKey, type Role } from "../../src/auth/keys.js";
import { tempDir } from "./server.js";

export interface TestKeys {
  file: string;
  /** principal -> key */
  key: Record<string, string>;
  /** principal -> `{ Authorization: "Bearer <key>" }` */
  auth: Record<string, Record<string, string>>;
  /** Rewrites the file with these principals (new keys for new names, the same for the others). */
  rewrite(principals: Record<string, Role>): void;
}

export function writeKeys(principals: Record<string, Role>, dir = tempDir("keys-")): TestKeys {
  const file = path.join(dir, "api-keys");
  const out: TestKeys = {
    file,
    key: {},
    auth: {},
    rewrite(next) {
      const lines = ["# principal role sha256-of-key"];
      for (const [name, role] of Object.entries(next)) {
        out.key[name] ??= newKey();
        out.auth[name] = { Authorization: `Bearer ${out.key[name]}` };
        lines.push(`${name} ${role} ${hashKey(out.key[name])}`);
      }
      writeFileSync(file, `${lines.join("\n")}\n`);
    },
  };
  out.rewrite(principals);
  return out;
}
