// The only module that talks to raml-1-parser. Build-time only: nothing under src/ or
// generated/ may import it.
import { createRequire, Module } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import type { Diagnostic } from "../diagnostics.js";
import { SpecError } from "../diagnostics.js";
import { explain, fileLines } from "./explain.js";
import { fromRaml08 } from "./raml08.js";
import { exampleKey, type RamlJson } from "./raml-json.js";
import type { SpecInputs } from "./spec-cache.js";

const require = createRequire(import.meta.url);

// The parser's JSON ("new format") output is loosely shaped; we read it as plain data.

interface ParserError {
  code: string;
  message: string;
  path?: string | undefined;
  isWarning?: boolean | undefined;
  range?: { start: { line: number; column: number } } | undefined;
}

export interface LoadResult {
  /** In the shape of raml-1-parser's RAML 1.0 output (0.8 specs are rewritten into it). */
  spec: RamlJson;
  warnings: Diagnostic[];
  version: "0.8" | "1.0";
}

let parser: RamlJson;
function raml(): RamlJson {
  // Loaded lazily: it takes about half a second and is not needed for `--help`.
  if (!parser) {
    lazyXmlValidator();
    parser = require("raml-1-parser");
  }
  return parser;
}

/**
 * raml-typesystem loads its XML Schema validator (libxml2 compiled to 4 MB of JavaScript) when
 * it is loaded, which is 110-130 ms of the parser's ~260, for the few specs that have an XML
 * example to check against an XSD. Its one function is put in the module cache as a stand-in
 * that loads the real module on first use. Skipped (the validator then loads as before) if the
 * packages are laid out differently from expected.
 */
function lazyXmlValidator(): void {
  let file: string;
  let load: NodeJS.Require;
  try {
    const from = (id: string, req: NodeJS.Require) => createRequire(req.resolve(id));
    load = from("raml-xml-validation", from("raml-typesystem", from("raml-1-parser", require)));
    file = load.resolve("xmllint-jsparser");
  } catch {
    return;
  }
  if (require.cache[file]) return;
  let real: { validateXML: (...args: unknown[]) => unknown } | undefined;
  const standIn = new Module(file);
  standIn.filename = file;
  standIn.loaded = true;
  standIn.exports = {
    validateXML(...args: unknown[]) {
      if (!real) {
        delete require.cache[file];
        real = load(file) as NonNullable<typeof real>;
        require.cache[file] = standIn;
      }
      return real.validateXML(...args);
    },
  };
  require.cache[file] = standIn;
}

/** What a parse of a spec gives the generator; plain data (it is kept as JSON between runs). */
export interface ParsedSpec extends LoadResult {
  /** securedByScopes' answer, as entries; only for RAML 1.0 specs with an OAuth 2.0 scheme. */
  scopes?: [string, [string, string[]][]][];
}

/** loadSpec, and the OAuth 2.0 scopes where the spec has such a scheme. */
export function parseSpec(specPath: string, inputs?: SpecInputs): ParsedSpec {
  const loaded: ParsedSpec = loadSpec(specPath, inputs);
  const hasOAuth2 = loaded.version === "1.0" && ((loaded.spec.securitySchemes ?? []) as { type?: string }[]).some((s) => s.type === "OAuth 2.0");
  if (hasOAuth2) loaded.scopes = [...securedByScopes(specPath, inputs)].map(([k, v]) => [k, [...v]]);
  return loaded;
}

/** The parser's options that route its reads through `inputs`. */
function resolvers(inputs: SpecInputs | undefined): RamlJson {
  if (!inputs) return {};
  let impl: RamlJson;
  // The parser's own HTTP resolver does the fetching; the parse is marked as remote first.
  const http = (url: string) => {
    inputs.remote(url);
    return (impl ??= new (require("raml-1-parser/dist/parser/jsyaml/jsyaml2lowLevel.js").HTTPResolverImpl)());
  };
  return {
    fsResolver: {
      content: (p: string) => inputs.read(String(p)),
      list: (p: string) => inputs.list(p),
      contentAsync: async (p: string) => inputs.read(String(p)),
      listAsync: async (p: string) => inputs.list(p),
    },
    httpResolver: {
      getResource: (url: string) => http(url).getResource(url),
      getResourceAsync: (url: string) => http(url).getResourceAsync(url),
    },
  };
}

/**
 * raml-typesystem keeps, for the life of the process, what it found checking examples against
 * JSON schemas (keyed by the example, the schema's text and its folder, not by the files that
 * schema reaches by $ref), and then neither reads those files again nor sees them change: a
 * second parse in one process (--watch, tests) could report stale results, and would not read
 * every file spec-cache.ts must record. It offers a global to start afresh.
 */
function forgetEarlierParses(): void {
  raml();
  (globalThis as { cleanCache?: () => void }).cleanCache?.();
}

/** Loads and expands a RAML 1.0 spec; throws SpecError listing every error. */
export function loadSpec(specPath: string, inputs?: SpecInputs): LoadResult {
  const rel = path.relative(process.cwd(), specPath) || specPath;
  if (!existsSync(specPath)) {
    throw new SpecError([{ path: rel, line: 0, column: 0, code: "FILE_NOT_FOUND", message: `no such file: ${rel}`, warning: false }]);
  }
  const dir = path.dirname(specPath);
  const toDiagnostic = (e: ParserError): Diagnostic => ({
    path: e.path ? path.relative(process.cwd(), path.resolve(dir, e.path)) : rel,
    // 1-based; a diagnostic the parser gives no position (or column -1) points at the file's start.
    line: Math.max(1, (e.range?.start.line ?? -1) + 1),
    column: Math.max(1, (e.range?.start.column ?? -1) + 1),
    code: e.code,
    message: e.message,
    warning: !!e.isWarning,
  });
  let result: RamlJson;
  forgetEarlierParses();
  try {
    // No serialised metadata (the generator reads none of it): about a sixth of the parse.
    result = quietly(() => raml().loadSync(specPath, { sourceMap: true, serializeMetadata: false, ...resolvers(inputs) }));
  } catch (e) {
    // The parser's JSON serialiser can fail on a broken spec (a securedBy naming a scheme whose
    // declaration is broken, say): its high-level API still reports the errors that caused it.
    throw new SpecError(explain(parserErrorsAfterCrash(specPath, rel, e, toDiagnostic), fileLines()));
  }
  const diags: Diagnostic[] = ((result.errors ?? []) as ParserError[]).map(toDiagnostic);
  const errors = diags.filter((d) => !d.warning);
  if (errors.length) throw new SpecError(explain(errors, fileLines()));
  // An overlay or extension given as the root: the parser has already merged it with the API
  // it extends (`extends:`), and that merged API is what gets generated.
  if (result.type && !["Api", "Overlay", "Extension"].includes(result.type)) {
    throw new SpecError([{ path: rel, line: 1, column: 1, code: "NOT_AN_API", message: `expected a RAML 1.0 API, got ${result.type}`, warning: false }]);
  }
  const warnings = explain(diags.filter((d) => d.warning), fileLines());
  if (result.ramlVersion === "RAML08") return { spec: fromRaml08(result.specification), warnings: withoutNameRefNoise(warnings, result.specification), version: "0.8" };
  if (result.ramlVersion && result.ramlVersion !== "RAML10") {
    throw new SpecError([{ path: rel, line: 1, column: 1, code: "UNSUPPORTED_VERSION", message: `RAML ${result.ramlVersion} is not supported (0.8 and 1.0 are)`, warning: false }]);
  }
  return { spec: result.specification, warnings, version: "1.0" };
}

/**
 * raml-1-parser reads a 0.8 schema's `"$ref": "item"` (another schema, by name, as 0.8 specs
 * write it) as a file, and warns CAN_NOT_PARSE_JSON on the schema. The generator resolves
 * those names; the warning is dropped where every `$ref` of that schema is such a name.
 * It says "Can not parse schema" (SCHEMA_ERROR, CAN_NOT_PARSE_SCHEMA, often both at the same
 * place) of a schema that is empty or holds only a name: the generator reads every schema
 * itself and says what it made of such a one (another schema's name followed, or
 * JSON_SCHEMA_EMPTY, JSON_SCHEMA_INVALID), so the parser's vaguer words are dropped there.
 */
function withoutNameRefNoise(warnings: Diagnostic[], spec: RamlJson): Diagnostic[] {
  const schemas = new Map<string, string>(((spec.schemas ?? []) as RamlJson[]).map((x) => [x.name, String(x.value ?? "")]));
  const lines = fileLines();
  return warnings.filter((w) => {
    const name = /^\s*-?\s*([^\s:]+)\s*:/.exec(lines(w.path, w.line) ?? "")?.[1];
    const text = name === undefined ? undefined : schemas.get(name);
    if (text === undefined) return true;
    if (w.code === "SCHEMA_ERROR" || w.code === "CAN_NOT_PARSE_SCHEMA") return !/^\s*([A-Za-z_][\w.-]*)?\s*$/.test(text);
    if (w.code !== "CAN_NOT_PARSE_JSON") return true;
    const refs = [...text.matchAll(/"\$ref"\s*:\s*"([^"]*)"/g)].map((m) => m[1]!.replace(/#$/, ""));
    return !(refs.length && refs.every((r) => schemas.has(r)));
  });
}

/**
 * Runs the parser with the console held: on some broken specs it prints a stack trace of its
 * own (a `version` that is a map, say) before it reports the error as it should.
 */
function quietly<T>(parse: () => T): T {
  const saved = { log: console.log, error: console.error, warn: console.warn, info: console.info };
  console.log = console.error = console.warn = console.info = () => {};
  try {
    return parse();
  } finally {
    Object.assign(console, saved);
  }
}

function parserErrorsAfterCrash(specPath: string, rel: string, crash: unknown, toDiagnostic: (e: ParserError) => Diagnostic): Diagnostic[] {
  try {
    const errors = quietly(() => raml().loadApiSync(specPath).errors() as ParserError[]).filter((e) => !e.isWarning).map(toDiagnostic);
    if (errors.length) return errors;
  } catch {
    // fall through: say what failed
  }
  const why = crash instanceof Error ? crash.message : String(crash);
  return [{ path: rel, line: 1, column: 1, code: "PARSER_FAILED", message: `raml-1-parser could not read this spec (${why}) and reported no error to point at`, warning: false }];
}

/**
 * The OAuth 2.0 `scopes` each method's `securedBy` asks for, keyed `METHOD /path` then scheme.
 * The JSON output cannot tell a reference with `scopes:` from one without (both carry the
 * scheme's settings), so these come from the parser's expanded high-level model. A second
 * parse: only called when the spec has OAuth 2.0 schemes.
 */
export function securedByScopes(specPath: string, inputs?: SpecInputs): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  forgetEarlierParses();
  const api = quietly(() => raml().loadApiSync(specPath, resolvers(inputs)).expand(true));
  const walk = (resources: RamlJson[], prefix: string) => {
    for (const r of resources ?? []) {
      const p = prefix + r.relativeUri().value();
      for (const m of r.methods()) {
        const byScheme = new Map<string, string[]>();
        for (const ref of m.securedBy() ?? []) {
          const dumped = ref?.value()?.lowLevel?.()?.dumpToObject?.();
          if (!dumped || typeof dumped !== "object") continue;
          for (const [name, params] of Object.entries(dumped as Record<string, { scopes?: unknown }>)) {
            const scopes = params && Array.isArray(params.scopes) ? params.scopes.map(String) : [];
            byScheme.set(name, scopes);
          }
        }
        out.set(`${m.method().toUpperCase()} ${p}`, byScheme);
      }
      walk(r.resources(), p);
    }
  };
  walk(api.resources(), "");
  return out;
}

/**
 * Finds where examples are written, for error messages. Uses the parser's high-level AST,
 * which carries positions that the JSON output lacks; only called when an example fails.
 * Keys: `type <Name> [<example name>]` and `<METHOD> <path> [<code>] <mediaType> [<example name>]`.
 */
export function locateExamples(specPath: string): Map<string, { path: string; line: number; column: number }> {
  const out = new Map<string, { path: string; line: number; column: number }>();
  const root = quietly(() => raml().parseSync(specPath));
  const dir = path.dirname(specPath);
  const pos = (n: RamlJson) => {
    const ll = n.lowLevel();
    const unit = ll.unit();
    const p = unit.lineMapper().position(ll.start());
    return { path: path.relative(process.cwd(), path.resolve(dir, unit.path())), line: p.line + 1, column: p.column + 1 };
  };
  interface Ctx { type?: string; resource?: string; method?: string; code?: string; media?: string }
  const walk = (n: RamlJson, ctx: Ctx) => {
    if (!n.isElement || !n.isElement()) return;
    const kind = n.definition().nameId();
    const prop = n.property()?.nameId();
    if (kind === "ExampleSpec") {
      const name = n.name() === "example" ? undefined : n.name();
      const key = exampleKey(ctx, name);
      if (!out.has(key)) out.set(key, pos(n));
      return;
    }
    let next = ctx;
    // A pattern property (`/post|get|put/:` under a type) can look like a resource: no relativeUri.
    if (kind === "Resource") {
      const uri = n.attr("relativeUri")?.value();
      if (uri === undefined) return;
      next = { resource: (ctx.resource ?? "") + uri };
    } else if (kind === "Method") {
      const method = n.attr("method")?.value();
      if (method === undefined) return;
      next = { ...ctx, method };
    }
    else if (kind === "Response") next = { ...ctx, code: String(n.attr("code").value()) };
    else if (prop === "body") next = { ...ctx, media: n.name() };
    else if (prop === "types" && n.parent()?.definition().nameId() === "Api") next = { type: n.name() };
    for (const c of n.children()) walk(c, next);
  };
  walk(root, {});
  return out;
}
