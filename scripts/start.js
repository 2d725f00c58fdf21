// `npm start`: build dist/ if a source changed since the last build, then run the service in
// this same process (a second Node process, or a second npm, would add a few hundred ms).
import { build } from "./prepare.js";

build();
await import("../dist/src/main.js");
