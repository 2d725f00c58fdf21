// Form bodies: `application/x-www-form-urlencoded` read here from its bytes (or taken from a
// body parser in front, `express.urlencoded()`), `multipart/form-data` read by the host as it
// streams (hosts/multipart.ts on node:http). Either way the handler gets one object: each
// field's text (an array when repeated) and each file as a Web `File`. The validator coerces
// the text as it does parameters; the files' media types and sizes are checked here.
import type { FieldError, FormDef } from "./types.js";

export type { FileFacets, FormDef } from "./types.js";

/** A form as read: each field's text, or texts when repeated, and files. */
export type FormFields = Record<string, unknown>;

/** Adds a value to a form's fields: a repeated name becomes an array. */
export function addField(fields: FormFields, name: string, value: unknown): void {
  const had = fields[name];
  if (had === undefined) fields[name] = value;
  else if (Array.isArray(had)) had.push(value);
  else fields[name] = [had, value];
}

/** The fields of an urlencoded body's text. */
export function urlencodedFields(text: string): FormFields {
  const fields: FormFields = {};
  for (const [name, value] of new URLSearchParams(text)) addField(fields, name, value);
  return fields;
}

const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const isFile = (v: unknown): v is Blob => typeof Blob !== "undefined" && v instanceof Blob;

/** Whether a media type is among those a file field accepts (`image/*` covers `image/png`). */
function accepts(types: string[], mediaType: string): boolean {
  const mt = mediaType.split(";")[0]!.trim().toLowerCase();
  return types.some((t) => {
    const want = t.trim().toLowerCase();
    if (want === "*/*" || want === mt) return true;
    return want.endsWith("/*") && mt.startsWith(want.slice(0, -1));
  });
}

/**
 * What is wrong with a form before its validator runs: numbers not written as decimals, files
 * where text is declared or text where a file is, files of a type or size their field does not
 * accept. Returns the fields it has reported (the validator's errors about them are dropped).
 */
export function checkForm(def: FormDef | undefined, fields: FormFields, errors: FieldError[]): Set<string> {
  const bad = new Set<string>();
  const report = (name: string, detail: string) => {
    const field = `body/${name}`;
    if (bad.has(field)) return;
    bad.add(field);
    errors.push({ field, pointer: `#/${name.replace(/~/g, "~0").replace(/\//g, "~1")}`, detail });
  };
  const files = def?.files ?? {};
  for (const name in fields) {
    const values = Array.isArray(fields[name]) ? (fields[name] as unknown[]) : [fields[name]];
    const facets = files[name];
    if (!facets) {
      if (values.some(isFile)) report(name, "must be text, not a file");
      continue;
    }
    if (facets.many && !Array.isArray(fields[name])) fields[name] = values;
    for (const v of values) {
      if (!isFile(v)) {
        report(name, "must be a file (multipart/form-data with a filename)");
        break;
      }
      if (facets.types && !accepts(facets.types, v.type || "application/octet-stream")) {
        report(name, `is ${v.type || "of no media type"}; accepted: ${facets.types.join(", ")}`);
        break;
      }
      if (facets.maxLength !== undefined && v.size > facets.maxLength) {
        report(name, `is ${v.size} bytes, more than the ${facets.maxLength} allowed`);
        break;
      }
      if (facets.minLength !== undefined && v.size < facets.minLength) {
        report(name, `is ${v.size} bytes, fewer than the ${facets.minLength} required`);
        break;
      }
    }
  }
  for (const name of def?.numbers ?? []) {
    const v = fields[name];
    if (v === undefined) continue;
    if (!(Array.isArray(v) ? v : [v]).every((x) => typeof x === "string" && DECIMAL.test(x))) report(name, "must be a decimal number");
  }
  return bad;
}
