// `npm run -s key:new -- <principal> <role>`: a new API key on the first line (give it to the
// caller; it is not stored anywhere), and on the second the line to add to API_KEYS_FILE.
import { hashKey, newKey, ROLES } from "../src/auth/keys.js";

const [principal, role] = process.argv.slice(2);
if (!principal || !role || !/^[A-Za-z0-9._@:-]{1,64}$/.test(principal) || !(ROLES as readonly string[]).includes(role)) {
  console.error(`usage: npm run -s key:new -- <principal> <role>\n  principal: 1-64 of A-Z a-z 0-9 . _ @ : -\n  role: ${ROLES.join(" | ")}`);
  process.exit(2);
}
const key = newKey();
console.log(key);
console.log(`${principal} ${role} ${hashKey(key)}`);
