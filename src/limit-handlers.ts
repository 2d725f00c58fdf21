// Admins' concurrency and rate limits (/admin/limits). The store enforces them where jobs are
// taken (src/jobs/limits-sql.ts); here they are set, listed and lifted.
import type { Handlers, Limit as LimitBody, NodeContext } from "../generated/index.js";
import type { Caller } from "./auth/authenticators.js";
import { invalid } from "./problems.js";
import type { Clock } from "./jobs/clock.js";
import type { Limit, LimitStore } from "./jobs/limits.js";

type LimitHandlers = Pick<Handlers<Caller, NodeContext>, "listLimits" | "setLimit" | "deleteLimit">;

export function toLimit(l: Limit): LimitBody {
  return {
    kind: l.kind,
    value: l.value,
    ...(l.concurrency !== undefined && { concurrency: l.concurrency }),
    ...(l.ratePerSecond !== undefined && { ratePerSecond: l.ratePerSecond }),
    burst: l.burst,
    running: l.running,
    updated: new Date(l.updated).toISOString(),
    ...(l.by !== undefined && { by: l.by }),
  };
}

export function limitHandlers(store: LimitStore, clock: Clock): LimitHandlers {
  return {
    async listLimits() {
      return { status: 200, body: { limits: (await store.list()).map(toLimit) } };
    },

    async setLimit({ params, body, auth }) {
      if (body.concurrency === undefined && body.ratePerSecond === undefined) {
        return { status: 400, body: invalid("body/concurrency", "give concurrency, ratePerSecond or both") };
      }
      const by = auth.principal.open ? undefined : auth.principal.name;
      return { status: 200, body: toLimit(await store.set(params.kind, params.value, body, by, clock.now())) };
    },

    async deleteLimit({ params }) {
      await store.delete(params.kind, params.value);
      return { status: 204 };
    },
  };
}
