// The fixture's router on the fetch host under Bun (`bun test/helpers/bun-host.ts`): prints
// its port, then serves the API and, outside it, /__state (what the handlers saw),
// /__mode/<mode> and /__reset, so that the host suite in Node can drive it like the hosts in its own process.
import { createFetchHandler } from "../fixtures/full/golden/index.js";
import { fixtureHandlers, fixtureOptions, fixtureState, type Mode } from "./fixture-handlers.js";

declare const Bun: { serve(o: { port: number; hostname: string; fetch(r: Request, server: unknown): Response | Promise<Response> }): { port: number }; version: string };

const state = fixtureState();
const handler = createFetchHandler(fixtureHandlers(state), fixtureOptions(state));
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request, server) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__state") return Response.json({ seen: state.seen, invalid: state.invalid, runtime: `bun ${Bun.version}` });
    if (pathname.startsWith("/__mode/")) {
      state.mode = pathname.slice("/__mode/".length) as Mode;
      return new Response(null, { status: 204 });
    }
    if (pathname === "/__reset") {
      state.seen.length = 0;
      state.invalid.length = 0;
      return new Response(null, { status: 204 });
    }
    return handler(request, server);
  },
});
console.log(`listening ${server.port}`);
