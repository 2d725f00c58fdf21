// Parameter validation: the precompiled validators run on path, query and header values,
// after a check that numbers are written as plain decimals.
import { fieldErrors, type FieldError } from "./problems.js";
import type { RouteDef, Validator } from "./types.js";

/** Checks one location's parameters, adding what is wrong to `errors` (except what `notDecimal` has said already). */
export function validateParams(errors: FieldError[], notDecimal: Set<string> | undefined, location: string, v: Validator | undefined, data: unknown): void {
  if (v && !v(data)) errors.push(...fieldErrors(location, v.errors).filter((e) => !notDecimal?.has(e.field)));
}

const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Numeric parameters whose raw text is not a decimal number; returns their field names. */
export function checkNumeric(
  numeric: NonNullable<RouteDef["numeric"]>,
  path: Record<string, unknown>,
  query: Record<string, unknown>,
  headers: Record<string, unknown>,
  errors: FieldError[],
): Set<string> {
  const bad = new Set<string>();
  const check = (location: string, names: string[] | undefined, values: Record<string, unknown>) => {
    for (const name of names ?? []) {
      const v = values[name];
      if (v === undefined) continue;
      if (!(Array.isArray(v) ? v : [v]).every((x) => typeof x === "string" && DECIMAL.test(x))) {
        const field = `${location}/${name}`;
        bad.add(field);
        errors.push({ field, pointer: `#/${name}`, detail: "must be a decimal number" });
      }
    }
  };
  check("path", numeric.path, path);
  check("query", numeric.query, query);
  check("headers", numeric.headers, headers);
  return bad;
}
