// The mock's collections, kept as a real service keeps them: a POST stores the posted fields
// with what the server adds (an id that fits the spec's facets, timestamps, defaults) and
// answers that item; the item's GET, the list (newest last, paged and filtered as the spec's
// query parameters say), PUT and PATCH (merged) and DELETE (then 404) all agree with it.
// Nested collections live inside their parent's items. A fresh mock starts from the spec's
// examples, else from a few plausible items.
import type { ValidateFunction } from "ajv";
import type { Operation } from "../model/model.js";
import type { JsonSchema } from "../model/schema.js";
import { isJsonMedia } from "../model/media.js";
import { jsonExampleValue } from "../schema/examples.js";
import { HttpProblem, problem, type HandlerContext } from "../runtime/index.js";
import { fieldErrors } from "../runtime/problems.js";
import type { Plausible } from "./plausible.js";
import { fill, listSlot, okBody, resolveRef, type Collection } from "./resources.js";
import type { MockState } from "./state.js";

export type Respond = (op: Operation, ctx: HandlerContext, wanted?: number, patch?: (body: unknown) => unknown, first?: unknown[]) => unknown;
export type MockRequest = { params: Record<string, unknown>; query: Record<string, unknown>; headers: Record<string, unknown>; body?: unknown };
export type MockHandler = (req: MockRequest, ctx: HandlerContext) => unknown;

/** What the collections need from the mock around them. */
export interface CollectionKit {
  defs: Record<string, JsonSchema>;
  state: MockState;
  plausible: Plausible;
  /** An exact validator for a schema (cached). */
  check(schema: JsonSchema): ValidateFunction;
  /** A validator for a parameter's text as it arrives. */
  wire(schema: JsonSchema): ValidateFunction;
  respond: Respond;
  /** The operation's declared `status` answer as a problem saying `detail`; its usual answer when it declares none. */
  problem(op: Operation, ctx: HandlerContext, status: number, detail: string): unknown;
  /** The examples of a named type. */
  typeExamples(name: string): unknown[];
  /** Called after every change (the state file is written). */
  changed(): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const words = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
/** `Prefer: code=N` (or example=, dynamic=) asks for a declared answer as it is, whatever the state. */
const asked = (ctx: HandlerContext) => /\b(?:code|example|dynamic)\s*=/.test(String(ctx.headers["prefer"] ?? ""));

/** How many made-up items a fresh collection starts with when the spec gives no examples. */
const FRESH = { top: 3, nested: 2 };

export class Collections {
  constructor(
    private readonly all: Collection[],
    private readonly kit: CollectionKit,
  ) {}

  /** The handlers of every collection's operations. */
  install(handlers: Record<string, MockHandler>): void {
    for (const c of this.all) {
      if (c.create) handlers[c.create.name] = (req, ctx) => this.create(c, c.create!, req, ctx);
      if (c.list) handlers[c.list.name] = (req, ctx) => this.list(c, c.list!, req, ctx);
      if (c.get) handlers[c.get.name] = (req, ctx) => this.get(c, c.get!, req, ctx);
      if (c.put) handlers[c.put.name] = (req, ctx) => this.update(c, c.put!, req, ctx);
      if (c.patch) handlers[c.patch.name] = (req, ctx) => this.update(c, c.patch!, req, ctx);
      if (c.remove) handlers[c.remove.name] = (req, ctx) => this.remove(c, c.remove!, req, ctx);
    }
  }

  /** Fills the top-level collections (and the nested ones of their items) from the spec's examples, or plausible items. */
  seed(): void {
    for (const c of this.all) if (!c.parent && !/\{/.test(c.path)) this.seedOne(c, c.path, {});
  }

  private seedOne(c: Collection, path: string, params: Record<string, unknown>): void {
    const items = this.kit.state.items(path);
    const valid = this.kit.check(c.itemSchema);
    const examples = this.examples(c).filter((e) => valid(e));
    const fresh = examples.length ? examples : Array.from({ length: c.parent ? FRESH.nested : FRESH.top }, () => this.made(c));
    for (const value of fresh) {
      const item = structuredClone(value) as Record<string, unknown>;
      // An example's id is the designer's; a made-up item gets one as a created item would.
      const given = c.idProperty !== undefined && examples.length ? item[c.idProperty] : undefined;
      const id = given !== undefined && this.fitsId(c, String(given), items) ? String(given) : this.newId(c, items);
      if (id === undefined) continue;
      if (c.idProperty !== undefined) item[c.idProperty] = this.typedId(c, id);
      if (!valid(item)) continue;
      items.set(id, item);
      for (const child of c.children) this.seedOne(child, fill(child.path, { ...params, [c.idParam.name]: id }), { ...params, [c.idParam.name]: id });
    }
  }

  /** The spec's examples of one item: the list's, the item's answer's, its type's. */
  private examples(c: Collection): unknown[] {
    const out: unknown[] = [];
    const list = c.list && okBody(c.list);
    const slot = list && listSlot(list.schema, this.kit.defs);
    const answer = (op: Operation | undefined) => op?.responses.find((r) => r.status >= 200 && r.status < 300)?.bodies.find((b) => isJsonMedia(b.mediaType));
    for (const e of answer(c.list)?.examples ?? []) {
      const v = jsonExampleValue(e.value);
      const arr = slot?.property === undefined ? v : isObject(v) ? v[slot.property] : undefined;
      if (Array.isArray(arr)) out.push(...arr);
    }
    for (const e of answer(c.get)?.examples ?? []) out.push(jsonExampleValue(e.value));
    if (c.itemType) out.push(...this.kit.typeExamples(c.itemType));
    const seen = new Set<string>();
    return out.filter((v) => isObject(v) && !seen.has(JSON.stringify(v)) && seen.add(JSON.stringify(v)));
  }

  /** A plausible item, as the server would make one. */
  private made(c: Collection): Record<string, unknown> {
    const valid = this.kit.check(c.itemSchema);
    let v: unknown;
    for (let i = 0; i < 10; i++) {
      v = this.kit.plausible.value(c.itemSchema, this.kit.state.seed++);
      if (isObject(v)) totals(v, new Set(Object.keys(v)));
      if (valid(v)) break;
    }
    return isObject(v) ? v : {};
  }

  /** Whether `id` may name a new item: it fits the id parameter and the id property, and is free. */
  private fitsId(c: Collection, id: string, items: Map<string, unknown>): boolean {
    if (items.has(id) || id === "") return false;
    if (!this.kit.wire(c.idParam.schema)(id)) return false;
    const prop = this.idSchema(c);
    return !prop || this.kit.check(prop)(this.typedId(c, id));
  }

  private idSchema(c: Collection): JsonSchema | undefined {
    if (c.idProperty === undefined) return undefined;
    return (resolveRef(c.itemSchema, this.kit.defs).properties as Record<string, JsonSchema>)[c.idProperty];
  }

  /** The id as the item's property holds it: a number where the property is one. */
  private typedId(c: Collection, id: string): unknown {
    const prop = this.idSchema(c);
    const t = prop ? resolveRef(prop, this.kit.defs).type : undefined;
    return (t === "integer" || t === "number") && id.trim() !== "" && Number.isFinite(Number(id)) ? Number(id) : id;
  }

  /** A new id that fits the spec: the next number for numeric ids, else drawn from the id's facets (pattern, length, enum). */
  private newId(c: Collection, items: Map<string, unknown>): string | undefined {
    const p = resolveRef(c.idParam.schema, this.kit.defs);
    if (p.type === "integer" || p.type === "number") {
      const taken = [...items.keys()].map(Number).filter(Number.isFinite);
      const min = typeof p.minimum === "number" ? p.minimum : 1;
      const next = String(Math.max(min, ...taken.map((n) => n + 1)));
      if (this.fitsId(c, next, items)) return next;
    }
    const prop = this.idSchema(c);
    for (let i = 0; i < 50; i++) {
      // The parameter's facets first; those of the item's id property when the parameter has none.
      const from = i % 2 === 0 || !prop ? c.idParam.schema : prop;
      const id = String(this.kit.plausible.value(from, this.kit.state.seed++, c.idParam.name));
      if (this.fitsId(c, id, items)) return id;
    }
    return undefined;
  }

  private parentMissing(c: Collection, req: MockRequest): string | undefined {
    const p = c.parent;
    if (!p) return undefined;
    const id = String(req.params[p.idParam.name]);
    return this.kit.state.collections.get(fill(p.path, req.params))?.has(id) ? undefined : missing(p, req);
  }

  private notFound(c: Collection, op: Operation, req: MockRequest, ctx: HandlerContext): unknown {
    return this.kit.problem(op, ctx, 404, this.parentMissing(c, req) ?? missing(c, req));
  }

  private create(c: Collection, op: Operation, req: MockRequest, ctx: HandlerContext): unknown {
    if (asked(ctx) || !isObject(req.body)) return this.kit.respond(op, ctx);
    if (this.parentMissing(c, req)) return this.notFound(c, op, req, ctx);
    const path = fill(c.path, req.params);
    const items = this.kit.state.items(path);
    const posted = req.body;
    const given = c.idProperty !== undefined ? posted[c.idProperty] : undefined;
    const id = given !== undefined && this.fitsId(c, String(given), items) ? String(given) : this.newId(c, items);
    if (id === undefined) return this.kit.respond(op, ctx);
    const valid = this.kit.check(c.itemSchema);
    const shape = resolveRef(c.itemSchema, this.kit.defs);
    const props = (shape.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((shape.required as string[] | undefined) ?? []);
    const sent = requestProps(op, this.kit.defs);
    let item: Record<string, unknown> | undefined;
    // The posted fields, the id, and what the server adds: the fields the posted type does not
    // have (their defaults where the spec gives one), or, failing that, what the item requires.
    for (let i = 0; i < 10 && !item; i++) {
      const made = this.made(c);
      const added = Object.entries(made).filter(([k]) => !(k in posted) && ((sent ? !sent.has(k) : false) || (i > 0 && required.has(k))));
      const candidate: Record<string, unknown> = { ...Object.fromEntries(added.map(([k, v]) => [k, defaultOf(props[k], this.kit.defs) ?? v])), ...posted };
      if (c.idProperty !== undefined) candidate[c.idProperty] = this.typedId(c, id);
      totals(candidate, new Set(added.map(([k]) => k)));
      stamp(candidate, c, this.kit.defs, "create");
      if (valid(candidate)) item = candidate;
    }
    if (!item) return this.kit.respond(op, ctx);
    items.set(id, item);
    this.kit.changed();
    const answer = okBody(op);
    const out = this.kit.respond(op, ctx, answer?.status ?? op.responses.find((r) => r.status === 201 || r.status === 200)?.status, undefined, answer ? [project(item, answer.schema, this.kit.defs)] : []);
    return withLocation(out, fill(c.item, { ...req.params, [c.idParam.name]: id }), ctx, op, this.kit);
  }

  private list(c: Collection, op: Operation, req: MockRequest, ctx: HandlerContext): unknown {
    if (asked(ctx)) return this.kit.respond(op, ctx);
    if (this.parentMissing(c, req)) return this.notFound(c, op, req, ctx);
    const answer = okBody(op);
    const slot = answer && listSlot(answer.schema, this.kit.defs);
    if (!answer || !slot) return this.kit.respond(op, ctx);
    const props = (resolveRef(c.itemSchema, this.kit.defs).properties ?? {}) as Record<string, JsonSchema>;
    let items = [...(this.kit.state.collections.get(fill(c.path, req.params))?.values() ?? [])] as Record<string, unknown>[];
    const paging = pagingOf(op, req.query);
    // Filters: a query parameter named as a property of the items, sent, is equality on it.
    for (const q of op.query) {
      const v = req.query[q.name];
      const prop = Object.keys(props).find((p) => p === q.name) ?? Object.keys(props).find((p) => words(p) === words(q.name));
      if (v === undefined || prop === undefined || paging.names.has(q.name) || (q.default !== undefined && JSON.stringify(v) === JSON.stringify(q.default))) continue;
      const wanted = (Array.isArray(v) ? v : [v]).map(String);
      items = items.filter((it) => wanted.includes(String(it[prop])));
    }
    const total = items.length;
    const page = items.slice(paging.offset, paging.limit === undefined ? undefined : paging.offset + paging.limit).map((it) => project(it, slot.items, this.kit.defs));
    let body: unknown = page;
    if (slot.property !== undefined) {
      const wrapper = resolveRef(answer.schema, this.kit.defs);
      const base = this.kit.plausible.value(wrapper, 1);
      const out: Record<string, unknown> = { ...(isObject(base) ? base : {}), [slot.property]: page };
      for (const [name, s] of Object.entries((wrapper.properties ?? {}) as Record<string, JsonSchema>)) {
        const t = resolveRef(s, this.kit.defs).type;
        if (t !== "integer" && t !== "number") continue;
        const w = words(name);
        if (/^(total|count|totalcount|totalitems|totalresults|totalelements|size|length)$/.test(w)) out[name] = w === "size" || w === "length" ? page.length : total;
        else if (/^(offset|skip|start)$/.test(w)) out[name] = paging.offset;
        else if (/^(limit|pagesize|perpage)$/.test(w) && paging.limit !== undefined) out[name] = paging.limit;
        else if (/^(page|pagenumber)$/.test(w) && paging.page !== undefined) out[name] = paging.page;
      }
      body = out;
    }
    return this.kit.respond(op, ctx, answer.status, undefined, [body]);
  }

  private get(c: Collection, op: Operation, req: MockRequest, ctx: HandlerContext): unknown {
    if (asked(ctx)) return this.kit.respond(op, ctx);
    const item = this.kit.state.collections.get(fill(c.path, req.params))?.get(String(req.params[c.idParam.name]));
    if (item === undefined) return this.notFound(c, op, req, ctx);
    const answer = okBody(op);
    return this.kit.respond(op, ctx, answer?.status, undefined, answer ? [project(item, answer.schema, this.kit.defs)] : []);
  }

  private update(c: Collection, op: Operation, req: MockRequest, ctx: HandlerContext): unknown {
    if (asked(ctx) || !isObject(req.body)) return this.kit.respond(op, ctx);
    if (this.parentMissing(c, req)) return this.notFound(c, op, req, ctx);
    const items = this.kit.state.items(fill(c.path, req.params));
    const id = String(req.params[c.idParam.name]);
    const old = items.get(id) as Record<string, unknown> | undefined;
    // PUT of an item nobody made creates it where the spec says it may (201), else 404.
    if (!old && !(op.method === "put" && op.responses.some((r) => r.status === 201) && this.fitsId(c, id, items))) return this.notFound(c, op, req, ctx);
    const body = req.body;
    let next: Record<string, unknown>;
    if (op.method === "patch" && old) next = { ...old, ...body };
    else {
      // A PUT replaces what the client sends; what only the server sets (fields the request type lacks) stays.
      const sent = requestProps(op, this.kit.defs);
      const kept = old ? Object.fromEntries(Object.entries(old).filter(([k]) => sent !== undefined && !sent.has(k))) : this.made(c);
      next = { ...kept, ...body };
    }
    if (c.idProperty !== undefined) next[c.idProperty] = this.typedId(c, id);
    const sent = requestProps(op, this.kit.defs);
    if (sent) totals(next, new Set(Object.keys(next).filter((k) => !sent.has(k))));
    stamp(next, c, this.kit.defs, old ? "update" : "create");
    const valid = this.kit.check(c.itemSchema);
    if (!valid(next)) {
      throw new HttpProblem(problem(400, `the ${c.itemType ?? "item"} would no longer be valid`, { errors: fieldErrors("body", valid.errors) }));
    }
    items.set(id, next);
    this.kit.changed();
    const answer = okBody(op);
    const status = old ? answer?.status : (op.responses.find((r) => r.status === 201)?.status ?? answer?.status);
    return this.kit.respond(op, ctx, status, undefined, answer ? [project(next, answer.schema, this.kit.defs)] : []);
  }

  private remove(c: Collection, op: Operation, req: MockRequest, ctx: HandlerContext): unknown {
    if (asked(ctx)) return this.kit.respond(op, ctx);
    const items = this.kit.state.collections.get(fill(c.path, req.params));
    const id = String(req.params[c.idParam.name]);
    const old = items?.get(id);
    if (!items || old === undefined) return this.notFound(c, op, req, ctx);
    items.delete(id);
    this.kit.state.removeInside(fill(c.item, req.params));
    this.kit.changed();
    const answer = okBody(op);
    return this.kit.respond(op, ctx, op.responses.find((r) => r.status >= 200 && r.status < 300)?.status, undefined, answer ? [project(old, answer.schema, this.kit.defs)] : []);
  }
}

/** `There is no order ord_1 (/api/orders/ord_1)`: what a 404 says. */
function missing(c: Collection, req: MockRequest): string {
  const segment = c.path.split("/").filter((x) => x && !x.startsWith("{")).pop() ?? "item";
  const noun = segment.replace(/ies$/, "y").replace(/(ses|xes|ches|shes)$/, (m) => m.slice(0, -2)).replace(/s$/, "");
  return `There is no ${noun} ${String(req.params[c.idParam.name])} (${fill(c.item, req.params)})`;
}

/** A property's default as the spec gives it (beside a `$ref`, or on the type it names). */
function defaultOf(s: JsonSchema | undefined, defs: Record<string, JsonSchema>): unknown {
  if (!s) return undefined;
  return s.default !== undefined ? s.default : resolveRef(s, defs).default;
}

/**
 * A total the server computes (`total`, `amount`, `subtotal`, among `added`) from the item's
 * lines: the sum of each line's price times its quantity, so that an order adds up.
 */
function totals(item: Record<string, unknown>, added: Set<string>): void {
  const key = [...added].find((k) => /^(total|totalprice|totalamount|amount|subtotal|grandtotal)$/.test(words(k)) && typeof item[k] === "number");
  if (!key) return;
  for (const v of Object.values(item)) {
    if (!Array.isArray(v) || !v.length || !v.every(isObject)) continue;
    const price = (l: Record<string, unknown>) => Object.entries(l).find(([k, x]) => /^(price|unitprice|amount|cost)$/.test(words(k)) && typeof x === "number")?.[1] as number | undefined;
    const qty = (l: Record<string, unknown>) => Object.entries(l).find(([k, x]) => /^(quantity|qty|count)$/.test(words(k)) && typeof x === "number")?.[1] as number | undefined;
    if (!v.every((l) => price(l) !== undefined)) continue;
    item[key] = Math.round(v.reduce((sum: number, l) => sum + price(l)! * (qty(l) ?? 1), 0) * 100) / 100;
    return;
  }
}

/** The paging a list's query asks for, by the names specs give it. */
function pagingOf(op: Operation, query: Record<string, unknown>): { offset: number; limit?: number | undefined; page?: number | undefined; names: Set<string> } {
  const names = new Set<string>();
  let offset = 0;
  let limit: number | undefined;
  let page: number | undefined;
  let pageBase = 1;
  for (const q of op.query) {
    const v = Number(query[q.name]);
    const w = words(q.name);
    if (/^(offset|skip|start|from)$/.test(w)) {
      names.add(q.name);
      if (Number.isFinite(v)) offset = Math.max(0, v);
    } else if (/^(limit|perpage|pagesize|size|count|max|maxresults|top|first)$/.test(w)) {
      names.add(q.name);
      if (Number.isFinite(v) && v > 0) limit = v;
    } else if (/^(page|pagenumber|pageno|pageindex)$/.test(w)) {
      names.add(q.name);
      const s = q.schema as { minimum?: number };
      pageBase = s.minimum === 0 ? 0 : 1;
      if (Number.isFinite(v)) page = v;
    }
  }
  if (page !== undefined && limit !== undefined) offset = Math.max(0, page - pageBase) * limit;
  return { offset, limit, page, names };
}

/** An item as an answer's type shows it: only its declared properties where it allows no others. */
function project(item: unknown, schema: JsonSchema, defs: Record<string, JsonSchema>): unknown {
  const s = resolveRef(schema, defs);
  if (!isObject(item) || s.additionalProperties !== false || !s.properties) return item;
  const keep = new Set(Object.keys(s.properties as object));
  return Object.fromEntries(Object.entries(item).filter(([k]) => keep.has(k)));
}

/** The properties a request body's type declares (undefined: it declares no type to go by). */
function requestProps(op: Operation, defs: Record<string, JsonSchema>): Set<string> | undefined {
  const b = op.bodies.find((x) => isJsonMedia(x.mediaType));
  const s = b ? resolveRef(b.schema, defs) : undefined;
  return s?.properties ? new Set(Object.keys(s.properties as object)) : undefined;
}

/** Sets the timestamps a server keeps (createdAt on a create, updatedAt on both) where the item has them. */
function stamp(item: Record<string, unknown>, c: Collection, defs: Record<string, JsonSchema>, when: "create" | "update"): void {
  const props = (resolveRef(c.itemSchema, defs).properties ?? {}) as Record<string, JsonSchema>;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  for (const [name, s0] of Object.entries(props)) {
    const w = words(name);
    const created = /^(created|createdat|createdon|creationdate|datecreated|placedat|submittedat)$/.test(w);
    const updated = /^(updated|updatedat|updatedon|modified|modifiedat|lastmodified|datemodified)$/.test(w);
    if (!(created && when === "create") && !updated) continue;
    const s = resolveRef(s0, defs) as JsonSchema & { format?: string };
    if (s.type !== "string") continue;
    item[name] = s.format === "date" ? now.slice(0, 10) : s.format === "iso-date-time" ? now.slice(0, 19) : now;
  }
}

/** Sets a created item's Location (relative, or absolute where the header's type asks for a URI). */
function withLocation(out: unknown, path: string, ctx: HandlerContext, op: Operation, kit: CollectionKit): unknown {
  const headers = (out as { headers?: Record<string, unknown> }).headers;
  if (!headers) return out;
  const status = (out as { status?: number }).status;
  const declared = op.responses.find((r) => r.status === status)?.headers.find((h) => h.name.toLowerCase() === "location");
  for (const k of Object.keys(headers)) {
    if (k.toLowerCase() !== "location") continue;
    const absolute = `http://${String(ctx.headers["host"] ?? "localhost")}${path}`;
    headers[k] = declared && !kit.check(declared.schema)(path) && kit.check(declared.schema)(absolute) ? absolute : path;
  }
  return out;
}
