// Which of a spec's resources the mock keeps state for: collections (a path P whose items are
// P/{id}, with a list or a create on P and at least one operation on the item), nested ones
// (P/{id}/payments) inside their parent's items.
import type { ApiModel, Operation, Param } from "../model/model.js";
import { DEFS_PREFIX, type JsonSchema } from "../model/schema.js";
import { isJsonMedia } from "../model/media.js";

export interface Collection {
  /** `/orders/{orderId}/payments`: the collection's path, its parents' parameters in it. */
  path: string;
  /** `/orders/{orderId}/payments/{paymentId}`. */
  item: string;
  /** The item's own parameter (`paymentId`). */
  idParam: Param;
  /** The property of an item that holds its id (`paymentId` or `id`), when it has one. */
  idProperty?: string | undefined;
  /** The schema of one item (the item's GET answer, else the create's, else the list's items). */
  itemSchema: JsonSchema;
  /** The named type of an item, when it has one (its examples seed the collection). */
  itemType?: string | undefined;
  create?: Operation | undefined;
  list?: Operation | undefined;
  get?: Operation | undefined;
  put?: Operation | undefined;
  patch?: Operation | undefined;
  remove?: Operation | undefined;
  /** The collection whose items this one belongs to (`/orders` for `/orders/{orderId}/payments`). */
  parent?: Collection | undefined;
  children: Collection[];
}

/** The first 2xx answer's JSON body schema of an operation. */
export function okBody(op: Operation | undefined): { status: number; schema: JsonSchema; mediaType: string } | undefined {
  const r = op?.responses.find((x) => x.status >= 200 && x.status < 300 && x.bodies.some((b) => isJsonMedia(b.mediaType)));
  const b = r?.bodies.find((x) => isJsonMedia(x.mediaType));
  return r && b ? { status: r.status, schema: b.schema, mediaType: b.mediaType } : undefined;
}

export function resolveRef(s: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema {
  for (let i = 0; i < 16 && typeof s.$ref === "string" && s.$ref.startsWith(DEFS_PREFIX); i++) s = defs[s.$ref.slice(DEFS_PREFIX.length)] ?? {};
  return s;
}

const refName = (s: JsonSchema | undefined) => (typeof s?.$ref === "string" && s.$ref.startsWith(DEFS_PREFIX) ? s.$ref.slice(DEFS_PREFIX.length) : undefined);

/**
 * Where a list answer keeps its items: the answer itself when it is an array, else its one
 * array property (`{ items: [...], total: 3 }`); undefined when it has neither.
 */
export function listSlot(schema: JsonSchema, defs: Record<string, JsonSchema>): { property?: string; items: JsonSchema } | undefined {
  const s = resolveRef(schema, defs);
  if (s.type === "array") return { items: (s.items as JsonSchema | undefined) ?? {} };
  const props = Object.entries((s.properties ?? {}) as Record<string, JsonSchema>).filter(([, p]) => resolveRef(p, defs).type === "array");
  if (props.length !== 1) return undefined;
  const [property, p] = props[0]!;
  return { property, items: (resolveRef(p, defs).items as JsonSchema | undefined) ?? {} };
}

const words = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

/** The collections of a spec, parents before their children; `skip`: paths kept otherwise (the job pattern's). */
export function findCollections(model: ApiModel, skip: Set<string>): Collection[] {
  const defs = Object.fromEntries(model.types.map((t) => [t.name, t.schema]));
  const byPath = new Map<string, Operation[]>();
  for (const op of model.operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op]);
  const out: Collection[] = [];
  for (const [item, itemOps] of byPath) {
    const m = /^(.*)\/\{([^/}]+)\}$/.exec(item);
    if (!m || !m[1]) continue;
    const path = m[1];
    if (skip.has(path)) continue;
    const ops = byPath.get(path) ?? [];
    const on = (list: Operation[], method: string) => list.find((o) => o.method === method);
    const create = on(ops, "post");
    const list = on(ops, "get");
    // A create that answers at once (not 202: work that finishes later).
    const creates = create && create.responses.some((r) => r.status === 200 || r.status === 201) ? create : undefined;
    if (!creates && !list) continue;
    const get = on(itemOps, "get");
    const idParam = itemOps[0]!.uriParams.find((p) => p.name === m[2]);
    if (!idParam) continue;
    const listItems = list ? okBody(list) && listSlot(okBody(list)!.schema, defs)?.items : undefined;
    const itemSchema = okBody(get)?.schema ?? okBody(creates)?.schema ?? listItems;
    if (!itemSchema || resolveRef(itemSchema, defs).type !== "object") continue;
    const props = Object.keys((resolveRef(itemSchema, defs).properties ?? {}) as object);
    const idProperty = props.find((p) => p === idParam.name) ?? props.find((p) => p === "id") ?? props.find((p) => words(p) === words(idParam.name));
    out.push({
      path,
      item,
      idParam,
      idProperty,
      itemSchema,
      itemType: refName(itemSchema),
      create: creates,
      list,
      get,
      put: on(itemOps, "put"),
      patch: on(itemOps, "patch"),
      remove: on(itemOps, "delete"),
      children: [],
    });
  }
  // A collection inside another's items: the longest item path its own path starts with.
  for (const c of out) {
    const parent = out.filter((p) => p !== c && c.path.startsWith(`${p.item}/`)).sort((a, b) => b.item.length - a.item.length)[0];
    if (parent) {
      c.parent = parent;
      parent.children.push(c);
    }
  }
  return out.sort((a, b) => a.path.split("/").length - b.path.split("/").length);
}

/** A path template with its parameters filled in (`/orders/{orderId}/payments` -> `/orders/ord_1/payments`). */
export function fill(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(String(params[name] ?? "")));
}
