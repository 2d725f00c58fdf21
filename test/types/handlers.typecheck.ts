// Type-level checks: handler code that disagrees with the spec does not compile.
// `npm run typecheck` fails if any marked line below stops being an error, and
// test/types/types.test.ts checks that each of them is an error for real.
import type { Handlers } from "../fixtures/full/golden/index.js";
import { ApiClient } from "../fixtures/full/golden/client.js";
import type { CreateNoteResponse, Handlers as SecuredHandlers, SecurityHandlers } from "../fixtures/secured/golden/index.js";
import { createRouter as createSecuredRouter, unimplementedHandlers as unimplementedSecured } from "../fixtures/secured/golden/index.js";

type Res<K extends keyof Handlers> = Awaited<ReturnType<Handlers[K]>>;
type Req<K extends keyof Handlers> = Parameters<Handlers[K]>[0];

const thing = { id: "a-1", name: "n", created: "2024-01-01T00:00:00Z", note: null };

export function undeclaredStatus(): Res<"getThing"> {
  // @ts-expect-error 418 is not a status the spec declares for getThing
  return { status: 418, body: thing };
}

export const undeclaredStatusInHandlers: Pick<Handlers, "getThing"> = {
  // @ts-expect-error 418 is not a status the spec declares for getThing (a handler as users write them)
  getThing: async () => ({ status: 418, body: thing }),
};

export function missingRequiredHeader(req: Req<"createThing">): Res<"createThing"> {
  // @ts-expect-error a 201 from createThing must carry the Location header
  return { status: 201, body: req.body };
}

export function wrongHeaderType(): Res<"getThing"> {
  // @ts-expect-error Retry-After is an integer in the spec
  return { status: 303, headers: { Location: "/x", "Retry-After": "soon" } };
}

export function wrongBody(): Res<"getThing"> {
  // @ts-expect-error the 200 body must be a Thing
  return { status: 200, body: { id: 1 } };
}

export function bodyOnBodilessStatus(): Res<"removeThing"> {
  // @ts-expect-error 204 declares no body
  return { status: 204, body: thing };
}

export function wrongParamType(req: Req<"listThings">): string {
  // @ts-expect-error limit is a number (coerced from the query string)
  return req.query.limit;
}

// And the correct versions compile, as full handlers.
export const correct: Pick<Handlers, "getThing" | "createThing" | "removeThing"> = {
  getThing: () => ({ status: 303, headers: { Location: "/x", "Retry-After": 1 } }),
  createThing: (req) => ({ status: 201, headers: { Location: `/things/${req.body.id}` }, body: req.body }),
  removeThing: () => ({ status: 204 }),
};

// Security (the secured fixture): the caller reaches handlers typed, and the 401/403 that the
// schemes' describedBy declare are part of the operations' responses.

interface User {
  name: string;
}

export const securedCorrect: Pick<SecuredHandlers<User>, "getNote" | "listNotes"> = {
  getNote: (req) => ({ status: 200, body: { id: "n", text: req.auth.principal.name } }),
  listNotes: (req) => ({ status: 200, body: [{ id: "n", text: req.auth?.principal.name ?? "anonymous" }] }),
};

export const anonymousMayBeAbsent: Pick<SecuredHandlers<User>, "listNotes"> = {
  // @ts-expect-error listNotes allows anonymous callers (securedBy has null): auth may be undefined
  listNotes: (req) => ({ status: 200, body: [{ id: "n", text: req.auth.principal.name }] }),
};

export function declared401(): Awaited<ReturnType<SecuredHandlers<User>["getNote"]>> {
  // @ts-expect-error the 401 declared by oauth2's describedBy carries a Problem, not a string
  return { status: 401, contentType: "application/problem+json", body: "no" };
}

/** Client code that handles createNote's answers but forgets the declared 401. */
export function handledExhaustively(r: CreateNoteResponse): string {
  switch (r.status) {
    case 201:
      return r.body.id;
    case 403:
      return "forbidden";
    default: {
      // @ts-expect-error 401 is declared too (by the schemes' describedBy), so it is not handled here
      const unhandled: never = r;
      return unhandled;
    }
  }
}

export function routerNeedsAuthenticators(security: SecurityHandlers<User>): void {
  createSecuredRouter(unimplementedSecured<User>(), { security });
  // @ts-expect-error a secured spec's router needs one authenticator per scheme
  createSecuredRouter(unimplementedSecured<User>(), {});
}

export async function clientNeedsRequiredBodies(client: ApiClient): Promise<void> {
  await client.createThing({ params: {}, body: thing });
  await client.listThings();
  // @ts-expect-error createThing's body is required by the spec
  await client.createThing({ params: {} });
  // @ts-expect-error postPets needs its body too: no default argument
  await client.postPets();
  // @ts-expect-error the body must be a Thing
  await client.createThing({ params: {}, body: { id: "a-1" } });
}
