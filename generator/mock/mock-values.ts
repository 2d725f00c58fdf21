// The values the mock answers with, in the order Prism taught users to expect: the response's
// own examples, then the examples of the type it declares, then an instance synthesised from
// the JSON Schema: plausible data first (plausible.ts: names, emails, times near now, every
// facet kept), json-schema-faker (0.5, as Prism uses) for what that does not satisfy. Seeded,
// so the same request gets the same answer; `Prefer: dynamic=true` skips the examples and
// draws a fresh one. Each candidate is offered to a check (the spec's own validator); the
// first that passes is used.
import { JSONSchemaFaker } from "json-schema-faker";
import { jsonExampleValue } from "../schema/examples.js";
import type { ApiModel, Body, Example, Param } from "../model/model.js";
import { formDef, type FileFacets } from "../schema/forms.js";
import { DEFS_PREFIX, type JsonSchema } from "../model/schema.js";
import { isFormMedia, isJsonMedia } from "../model/media.js";
import { Plausible } from "./plausible.js";

/** Seeds tried, in order, before the mock gives up on synthesising a valid value. */
const SEEDS = 25;

export interface ValueChoice {
  /** `Prefer: example=name`. */
  example?: string | undefined;
  /** `Prefer: dynamic=true`: random synthesised data, no examples. */
  dynamic?: boolean | undefined;
}

export class MockValues {
  private readonly defs: Record<string, JsonSchema>;
  private readonly typeExamples = new Map<string, Example[]>();

  readonly plausible: Plausible;

  constructor(model: ApiModel) {
    this.defs = aliasesFollowed(Object.fromEntries(model.types.map((t) => [t.name, t.schema])));
    for (const t of model.types) this.typeExamples.set(t.name, t.examples);
    this.plausible = new Plausible(this.defs);
  }

  /**
   * Candidate values for something declared with `schema` and its own `examples`, best first
   * (`also`: declared values to try after the examples, such as a header's default).
   */
  *candidates(schema: JsonSchema, examples: Example[], json: boolean, choice: ValueChoice, also: unknown[] = [], name?: string, made: (v: unknown) => unknown = (v) => v): Generator<unknown> {
    const value = (e: Example) => (json ? jsonExampleValue(e.value) : e.value);
    if (!choice.dynamic) {
      const named = choice.example === undefined ? undefined : examples.find((e) => e.name === choice.example);
      if (named) yield value(named);
      for (const e of examples) if (e !== named) yield value(e);
      yield* also;
      for (const e of this.examplesOfType(schema)) yield value(e);
    }
    const first = choice.dynamic ? Math.floor(Math.random() * 2 ** 31) : 1;
    for (let seed = first; seed < first + SEEDS; seed++) {
      let v: unknown;
      try {
        v = this.plausible.value(schema, seed, name);
      } catch {
        break; // a schema it cannot read: json-schema-faker's turn
      }
      yield made(v);
    }
    const doc = { ...(schema as object), $defs: this.defs } as JsonSchema;
    for (let seed = first; seed < first + SEEDS; seed++) {
      let v: unknown;
      try {
        // Options are global in json-schema-faker; the mock sets them on every draw.
        JSONSchemaFaker.option({ random: seeded(seed), maxItems: 3, refDepthMax: 4, failOnInvalidFormat: false, useExamplesValue: false });
        v = JSONSchemaFaker.generate(doc as never);
      } catch {
        return; // a schema json-schema-faker cannot handle: no synthesised value
      }
      yield made(v);
    }
  }

  /** Candidates for a body (a form's file fields hold files); `made` adapts the synthesised ones only. */
  body(b: Body, choice: ValueChoice, made?: (v: unknown) => unknown): Iterable<unknown> {
    const candidates = this.candidates(b.schema, b.examples, isJsonMedia(b.mediaType), choice, [], undefined, made);
    if (!isFormMedia(b.mediaType)) return candidates;
    const files = Object.entries(formDef(b.schema, this.defs).files ?? {});
    return files.length ? withFiles(candidates, files) : candidates;
  }

  /** Candidates for a header: its examples, its default, then the type's and synthesised ones. */
  header(h: Param, choice: ValueChoice): Iterable<unknown> {
    return this.candidates(h.schema, h.examples, false, choice, h.default === undefined ? [] : [h.default], h.name);
  }

  /** The example values of a named type (JSON text read as values). */
  examplesOf(name: string): unknown[] {
    return (this.typeExamples.get(name) ?? []).filter((e) => e.strict).map((e) => jsonExampleValue(e.value));
  }

  /** Whether a header has a declared value (example or default) to answer with. */
  declaresValue(h: Param): boolean {
    return h.examples.length > 0 || h.default !== undefined || this.examplesOfType(h.schema).length > 0;
  }

  /** The examples of the named type a schema refers to (through `$ref`), if any. */
  private examplesOfType(schema: JsonSchema): Example[] {
    const ref = typeof schema === "object" && schema && typeof schema.$ref === "string" ? schema.$ref : undefined;
    if (!ref?.startsWith(DEFS_PREFIX)) return [];
    return this.typeExamples.get(ref.slice(DEFS_PREFIX.length)) ?? [];
  }
}

/**
 * Named types that are only another's name (a 0.8 schema file holding a schema's name) replaced
 * by what they name: json-schema-faker 0.5 does not follow a `$ref` to a `$ref`, and answers
 * with the reference itself.
 */
function aliasesFollowed(defs: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const target = (s: JsonSchema): string | undefined => {
    const o = s as { $ref?: unknown };
    return typeof s === "object" && s && Object.keys(s).length === 1 && typeof o.$ref === "string" && o.$ref.startsWith(DEFS_PREFIX) ? o.$ref.slice(DEFS_PREFIX.length) : undefined;
  };
  const out = { ...defs };
  for (const name of Object.keys(out)) {
    const seen = new Set([name]);
    let s = out[name]!;
    for (let t = target(s); t !== undefined && !seen.has(t) && defs[t] !== undefined; t = target(s)) {
      seen.add(t);
      s = defs[t]!;
    }
    out[name] = s;
  }
  return out;
}

/** Form values with a small file of an accepted type in each file field. */
function* withFiles(candidates: Iterable<unknown>, files: [string, FileFacets][]): Generator<unknown> {
  for (const c of candidates) {
    const out: Record<string, unknown> = { ...(c && typeof c === "object" ? c : {}) };
    for (const [name, facets] of files) {
      const type = (facets.types?.[0] ?? "application/octet-stream").replace(/\/\*$/, "/octet-stream").replace(/^\*\/.*/, "application/octet-stream");
      const size = Math.max(facets.minLength ?? 0, Math.min(16, facets.maxLength ?? 16));
      const file = new File([new Uint8Array(size).fill(120)], `${name}.bin`, { type });
      out[name] = facets.many ? [file] : file;
    }
    yield out;
  }
}

/** A small deterministic generator (mulberry32): the same seed draws the same value. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first candidate a check accepts, or the check's last complaint. */
export function firstValid<T>(candidates: Iterable<T>, check: (v: T) => string | undefined): { value: T } | { error: string } {
  let error = "nothing to try";
  for (const c of candidates) {
    const e = check(c);
    if (e === undefined) return { value: c };
    error = e;
  }
  return { error };
}
