// The route table: the spec's paths compiled once into a trie of segments, walked per request
// without allocating more than the parameter values it finds.
import type { RouteDef } from "./types.js";

export interface CompiledRoute {
  def: RouteDef;
  paramNames: string[];
}

export interface Match {
  route: CompiledRoute;
  /** Raw (still percent-encoded) parameter values, in path order. */
  values: string[];
}

interface TrieNode {
  literal: Map<string, TrieNode>;
  /** Segments that mix text and parameters (`{from}.{to}`, `{name}.json`), by source. */
  mixed?: { pattern: RegExp; node: TrieNode }[] | undefined;
  param?: TrieNode | undefined;
  /** Routes whose path ends here. */
  routes: CompiledRoute[];
}

const newNode = (): TrieNode => ({ literal: new Map(), routes: [] });

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A segment with text around or between its parameters, as a regular expression with one
 * group per parameter: each takes at least one character, the last as many as it can.
 */
function mixedSegment(seg: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const parts = seg.split(/\{([^{}]+)\}/);
  let source = "^";
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) source += escapeRegExp(parts[i]!);
    else {
      names.push(parts[i]!);
      source += "([^/]+?)";
    }
  }
  return { pattern: new RegExp(`${source}$`), names };
}

export class RouteTable {
  private readonly root = newNode();

  constructor(routes: RouteDef[]) {
    for (const def of routes) {
      const paramNames: string[] = [];
      let node = this.root;
      for (const seg of def.path.split("/").slice(1)) {
        const whole = /^\{([^{}]+)\}$/.exec(seg);
        if (whole) {
          paramNames.push(whole[1]!);
          node = node.param ??= newNode();
        } else if (seg.includes("{")) {
          const { pattern, names } = mixedSegment(seg);
          paramNames.push(...names);
          node.mixed ??= [];
          let entry = node.mixed.find((m) => m.pattern.source === pattern.source);
          if (!entry) node.mixed.push((entry = { pattern, node: newNode() }));
          node = entry.node;
        } else {
          let next = node.literal.get(seg);
          if (!next) node.literal.set(seg, (next = newNode()));
          node = next;
        }
      }
      node.routes.push({ def, paramNames });
    }
  }

  /**
   * The routes whose path matches, literal ones first, then segments that mix text and
   * parameters, then whole-segment parameters, each with its raw parameter values in order.
   */
  match(pathname: string): Match[] {
    const segs = pathname.split("/");
    const out: Match[] = [];
    // segs[0] is the empty string before the leading slash.
    if (segs[0] === "") this.walk(this.root, segs, 1, [], out);
    return out;
  }

  /** A method, not a closure made per request; `values` is copied only where the walk branches. */
  private walk(node: TrieNode, segs: string[], i: number, values: string[], out: Match[]): void {
    if (i === segs.length) {
      for (const route of node.routes) out.push({ route, values });
      return;
    }
    const seg = segs[i]!;
    const lit = node.literal.get(seg);
    if (lit) this.walk(lit, segs, i + 1, values, out);
    if (node.mixed) {
      for (const m of node.mixed) {
        const found = m.pattern.exec(seg);
        if (found) this.walk(m.node, segs, i + 1, [...values, ...found.slice(1)], out);
      }
    }
    if (node.param && seg !== "") this.walk(node.param, segs, i + 1, [...values, seg], out);
  }
}

/** The match for a method, if any (a loop, not a closure made per request). */
export function byMethod(matches: Match[], method: string): Match | undefined {
  for (const m of matches) if (m.route.def.method === method) return m;
  return undefined;
}

/** The `Allow` header of a path: its methods, HEAD with GET, and OPTIONS. */
export function allowedMethods(matches: Match[]): string {
  const set = new Set(matches.map((m) => m.route.def.method));
  if (set.has("GET")) set.add("HEAD");
  set.add("OPTIONS");
  return [...set].sort().join(", ");
}

/** Decoded path parameters by name. Throws URIError on bad percent-encoding. */
export function paramsOf(match: Match): Record<string, string> {
  const params: Record<string, string> = {};
  const { values, route } = match;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // Without a `%` there is nothing to decode (and decodeURIComponent is a call into the runtime).
    params[route.paramNames[i]!] = v.indexOf("%") === -1 ? v : decodeURIComponent(v);
  }
  return params;
}

/** The routes with the spec's base path replaced by `to` (a leading slash, no trailing one). */
export function rebase(routes: RouteDef[], from: string, to: string): RouteDef[] {
  const prefix = to.replace(/\/+$/, "").replace(/^(?=[^/])/, "/");
  return routes.map((r) => ({ ...r, path: prefix + r.path.slice(from.length) }));
}
