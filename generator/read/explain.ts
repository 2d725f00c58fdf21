// The parser's errors, made into messages a user can act on: a YAML cascade reported by its
// first error, a tab named as a tab, an unknown type named, a type that is unknown only
// because its parent is left out, an unknown type's echoes in examples left out, and nothing
// said twice.
import { readFileSync } from "node:fs";
import type { Diagnostic } from "../diagnostics.js";

/** The text of a line (1-based) of a file, or undefined. */
export type LineReader = (path: string, line: number) => string | undefined;

export function fileLines(): LineReader {
  const cache = new Map<string, string[] | undefined>();
  return (p, line) => {
    if (!cache.has(p)) {
      try {
        cache.set(p, readFileSync(p, "utf8").split(/\r?\n/));
      } catch {
        cache.set(p, undefined);
      }
    }
    return cache.get(p)?.[line - 1];
  };
}

const key = (d: Diagnostic) => `${d.path}\u0000${d.line}\u0000${d.column}\u0000${d.code}\u0000${d.message}`;
const byPosition = (a: Diagnostic, b: Diagnostic) => a.line - b.line || a.column - b.column;
const indentOf = (text: string) => /^[ \t]*/.exec(text)![0];

export function explain(diagnostics: Diagnostic[], lineOf: LineReader): Diagnostic[] {
  // Nothing twice (the parser reports some errors once per use of a trait or type).
  const seen = new Set<string>();
  let out = diagnostics.filter((d) => !seen.has(key(d)) && seen.add(key(d)));

  out = out.map((d) => {
    const text = d.line > 0 ? lineOf(d.path, d.line) : undefined;
    // (JSON may indent with tabs: a JSON file's diagnostics are left as they are.)
    if (text !== undefined && indentOf(text).includes("\t") && !/\.json$/i.test(d.path)) {
      return { ...d, code: "YAML_TAB", message: "a tab in the indentation: YAML indents with spaces only" };
    }
    if (d.code === "YAML_ERROR") return { ...d, message: d.message.replace(/^JS-YAML: /, "").replace(/ at line \d+, column \d+$/, "") };
    return d;
  });

  // A YAML error leaves the rest of its file misread: report the first, and how many follow.
  // (Errors only: the parser also says YAML things as warnings, which stop nothing.)
  const yamlFiles = new Set(out.filter((d) => !d.warning && (d.code === "YAML_ERROR" || d.code === "YAML_TAB")).map((d) => d.path));
  for (const file of yamlFiles) {
    const inFile = out.filter((d) => d.path === file && !d.warning);
    const first = inFile.filter((d) => d.code === "YAML_ERROR" || d.code === "YAML_TAB").sort(byPosition)[0]!;
    const rest = inFile.length - 1;
    const shown = rest ? { ...first, message: `${first.message} (${rest === 1 ? "1 more error in this file probably follows" : `${rest} more errors in this file probably follow`} from it: fix this one first)` } : first;
    out = out.filter((d) => d.path !== file || d.warning).concat(shown);
  }

  out = nameUnknownTypes(out, lineOf);
  return withoutEchoesOfUnknownTypes(out);
}

/**
 * An unknown type is one mistake: when the parser has said where it is used
 * (`UNKNOWN_IN_PROPERTY_DEFINITION`, `INHERITING_UNKNOWN_TYPE`), its complaints about examples
 * that cannot be checked against it (`VALIDATING_AGAINST_UNKNOWN`) say it again.
 */
function withoutEchoesOfUnknownTypes(diagnostics: Diagnostic[]): Diagnostic[] {
  const named = (d: Diagnostic) => [...d.message.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const reported = new Set(diagnostics.filter((d) => d.code !== "VALIDATING_AGAINST_UNKNOWN" && /UNKNOWN/.test(d.code)).flatMap(named));
  return diagnostics.filter((d) => d.code !== "VALIDATING_AGAINST_UNKNOWN" || !named(d).some((n) => reported.has(n)));
}

/** `INHERITING_UNKNOWN_TYPE` with the name, and without the errors of types whose parent is the unknown one. */
function nameUnknownTypes(diagnostics: Diagnostic[], lineOf: LineReader): Diagnostic[] {
  const unknown = diagnostics.filter((d) => d.code === "INHERITING_UNKNOWN_TYPE" && d.line > 0);
  if (!unknown.length) return diagnostics;
  const facts = new Map<Diagnostic, { declaring?: string; names: string[] }>();
  for (const d of unknown) {
    const text = lineOf(d.path, d.line);
    if (text === undefined) continue;
    const m = /^(\s*)([^:#]+?)\s*:\s*(.*?)\s*(?:#.*)?$/.exec(text);
    if (!m) continue;
    const [, indent, k, value] = m as unknown as [string, string, string, string];
    const names = [...value.replace(/["']/g, "").matchAll(/[A-Za-z_][\w.-]*/g)].map((n) => n[0]).filter((n) => n !== "nil");
    // `Shelf: Bok` declares Shelf; `type: Bok` belongs to the nearest key above it with less indentation.
    let declaring: string | undefined = k === "type" ? undefined : k;
    for (let l = d.line - 1; declaring === undefined && l > 0; l--) {
      const above = lineOf(d.path, l);
      if (above === undefined) break;
      const a = /^(\s*)([^:#\s][^:#]*?)\s*:/.exec(above);
      if (a && a[1]!.length < indent.length) declaring = a[2];
    }
    facts.set(d, { ...(declaring === undefined ? {} : { declaring }), names });
  }
  const declaringBroken = new Set([...facts.values()].flatMap((f) => (f.declaring ? [f.declaring] : [])));
  return diagnostics.flatMap((d) => {
    const f = facts.get(d);
    if (!f || !f.names.length) return [d];
    const missing = f.names.filter((n) => !declaringBroken.has(n));
    // Only a type whose parent is itself broken: that error is reported where it starts.
    if (!missing.length) return [];
    return [{ ...d, message: `${d.message} ${missing.map((n) => `'${n}'`).join(", ")}` }];
  });
}
