// `npm run -s key:new -- <principal> <role>`: a new API key for a principal. The key goes to
// data/keys/<principal>.key (readable by this user only: hand it to the caller), its hash to
// data/keys.txt, the file API_KEYS_FILE names (it holds hashes only). Both are under data/,
// which .gitignore keeps out of the repository. `--stdout` prints the key and its line
// instead (first and second line), and writes nothing.
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashKey, newKey, ROLES } from "../src/auth/keys.js";
import { makeDir } from "../src/make-dir.js";

const args = process.argv.slice(2);
const toStdout = args.includes("--stdout");
const [principal, role] = args.filter((a) => a !== "--stdout");
if (!principal || !role || !/^[A-Za-z0-9._@:-]{1,64}$/.test(principal) || !(ROLES as readonly string[]).includes(role)) {
  console.error(`usage: npm run -s key:new -- <principal> <role> [--stdout]\n  principal: 1-64 of A-Z a-z 0-9 . _ @ : -\n  role: ${ROLES.join(" | ")}`);
  process.exit(2);
}
const key = newKey();
const line = `${principal} ${role} ${hashKey(key)}`;
if (toStdout) {
  console.log(key);
  console.log(line);
} else {
  const dir = path.join("data", "keys");
  const keyFile = path.join(dir, `${principal}.key`);
  const hashes = path.join("data", "keys.txt");
  if (existsSync(keyFile)) {
    console.error(`key:new: ${keyFile} exists: ${principal} has a key already (remove its file and its line in ${hashes} to replace it)`);
    process.exit(2);
  }
  makeDir(dir, 0o700);
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  appendFileSync(hashes, `${line}\n`);
  console.log(`key:new: ${principal} (${role}): key in ${keyFile} (give it to ${principal}; it is kept nowhere else), its hash added to ${hashes} (API_KEYS_FILE=${hashes})`);
}
