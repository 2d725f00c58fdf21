// Handlers for the full fixture's golden router (test/fixtures/full/golden), shared by every
// host the host suite runs (test/generator/hosts.test.ts), in this process or in another
// runtime (bun-host.ts): what they saw and what the router reported are kept here.
import { createHash } from "node:crypto";
import { unimplementedHandlers, type Handlers, type HandlerContext, type ResponseValidationFailure } from "../fixtures/full/golden/index.js";

export const thing = { id: "a-1", name: "First", created: "2024-01-01T10:00:00Z", note: null };

export type Mode = "ok" | "bad-body" | "bad-status" | "throw";

export interface FixtureState {
  seen: unknown[];
  invalid: ResponseValidationFailure[];
  mode: Mode;
}

export function fixtureState(): FixtureState {
  return { seen: [], invalid: [], mode: "ok" };
}

/** What a handler saw of its request, as JSON would carry it (bytes as their length and hash). */
function seenOf(req: { body?: unknown }): unknown {
  if (!(req.body instanceof Uint8Array)) return req;
  return { ...req, body: { bytes: req.body.byteLength, sha256: createHash("sha256").update(req.body).digest("hex") } };
}

export function fixtureHandlers(state: FixtureState): Handlers<HandlerContext> {
  return {
    ...unimplementedHandlers(),
    listThings(req) {
      state.seen.push(seenOf(req));
      return { status: 200, body: [thing] };
    },
    createThing(req) {
      state.seen.push(seenOf(req));
      return { status: 201, headers: { Location: `/api/v2/things/${req.body.id}` }, body: req.body };
    },
    getThing(req) {
      state.seen.push(seenOf(req));
      if (state.mode === "throw") throw new Error("boom");
      if (state.mode === "bad-body") return { status: 200, body: { ...thing, name: "" } };
      if (state.mode === "bad-status") return { status: 418 } as never;
      if (req.params["thing-id"] === "gone") return { status: 303, headers: { Location: "/elsewhere", "Retry-After": 3 } };
      return { status: 200, body: { ...thing, id: req.params["thing-id"] } };
    },
    putThingsByThingIdLabels(req) {
      state.seen.push(seenOf(req));
      return req.mediaType === "text/plain"
        ? { status: 200, contentType: "text/plain", body: req.body.toUpperCase() }
        : { status: 200, contentType: "application/json", body: req.body };
    },
    async postProfile(req) {
      const fields: Record<string, unknown> = {};
      const files: { field: string; name: string; type: string; size: number; sha256: string }[] = [];
      for (const [name, value] of Object.entries(req.body)) {
        for (const v of Array.isArray(value) ? value : [value]) {
          if (v instanceof Blob) {
            const bytes = new Uint8Array(await v.arrayBuffer());
            files.push({ field: name, name: v instanceof File ? v.name : "", type: v.type, size: v.size, sha256: createHash("sha256").update(bytes).digest("hex") });
          } else fields[name] = value;
        }
      }
      state.seen.push({ mediaType: req.mediaType, fields, files });
      return { status: 200, body: { fields, files } };
    },
    postPets(req) {
      state.seen.push(seenOf(req));
      return { status: 200, body: [req.body] };
    },
    putAttachment(req) {
      state.seen.push(seenOf(req));
      const bytes = req.body ?? new Uint8Array();
      return { status: 200, body: { size: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") } };
    },
  };
}

/** The router options every host gets (the callbacks see node's `req` or the host's context: both have method and url). */
export function fixtureOptions(state: FixtureState) {
  return {
    bodyLimit: 1024,
    fileLimit: 2 * 1024 * 1024,
    validateResponses: true,
    onResponseValidationError: (f: ResponseValidationFailure) => state.invalid.push(f),
    onError: () => {},
    headers: { "X-Static": "on every answer" },
    addHeaders: (r: { method?: string | undefined; url?: string | undefined }, head: (string | number)[]) => {
      head.push("X-Answer-For", `${r.method} ${r.url}`);
    },
  };
}
