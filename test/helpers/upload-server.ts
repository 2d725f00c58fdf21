// A server for the streaming upload test (`tsx test/helpers/upload-server.ts`): the full
// fixture's router on node:http with a 100 MiB file limit, whose postProfile handler hashes each
// file as a stream, and reports the highest RSS the process reached while the request ran.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRouter, unimplementedHandlers } from "../fixtures/full/golden/index.js";

let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
const router = createRouter(
  {
    ...unimplementedHandlers(),
    async postProfile(req) {
      const files = [];
      for (const [field, value] of Object.entries(req.body)) {
        for (const v of Array.isArray(value) ? value : [value]) {
          if (!(v instanceof File)) continue;
          const hash = createHash("sha256");
          for await (const chunk of v.stream() as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
          files.push({ field, name: v.name, type: v.type, size: v.size, sha256: hash.digest("hex") });
        }
      }
      return { status: 200, body: { fields: { name: req.body.name }, files } };
    },
  },
  { fileLimit: 100 * 1024 * 1024 },
);
const server = createServer((req, res) => {
  if (req.url === "/__rss") {
    global.gc?.();
    res.end(JSON.stringify({ rss: process.memoryUsage().rss, peak }));
    peak = 0;
    return;
  }
  const timer = setInterval(sample, 5);
  res.once("close", () => clearInterval(timer));
  router(req, res);
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${(server.address() as AddressInfo).port}`));
