// The parser's diagnostics made actionable, as a given/want table over small sources.
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../generator/diagnostics.js";
import { explain } from "../../generator/read/explain.js";

const d = (line: number, column: number, code: string, message: string, path = "api.raml"): Diagnostic => ({ path, line, column, code, message, warning: false });
const reader = (files: Record<string, string>) => (path: string, line: number) => files[path]?.split("\n")[line - 1];

const cases: { name: string; files: Record<string, string>; given: Diagnostic[]; want: string[] }[] = [
  {
    name: "an unknown parent is named; the type built on the broken one is not reported again",
    files: { "api.raml": "types:\n  Shelf:\n    type: Bok\n  Wall: Shelf\n  Room:\n    type: [Wall, Hall]\n" },
    given: [d(3, 5, "INHERITING_UNKNOWN_TYPE", "Inheriting from unknown type"), d(4, 3, "INHERITING_UNKNOWN_TYPE", "Inheriting from unknown type"), d(6, 5, "INHERITING_UNKNOWN_TYPE", "Inheriting from unknown type")],
    want: ["3:5 INHERITING_UNKNOWN_TYPE Inheriting from unknown type 'Bok'", "6:5 INHERITING_UNKNOWN_TYPE Inheriting from unknown type 'Hall'"],
  },
  {
    name: "a YAML cascade is reported by its first error, in its file only",
    files: { "api.raml": "a: 1\n b: 2\n", "lib.raml": "x: 1\n" },
    given: [d(2, 4, "YAML_ERROR", "JS-YAML: incomplete explicit mapping pair at line 2, column 4"), d(2, 2, "YAML_ERROR", "JS-YAML: bad indentation of a mapping entry at line 2, column 2"), d(5, 1, "UNKNOWN_FACET", "facet"), d(1, 1, "OTHER", "elsewhere", "lib.raml")],
    want: ["2:2 YAML_ERROR bad indentation of a mapping entry (2 more errors in this file probably follow from it: fix this one first)", "lib.raml 1:1 OTHER elsewhere"],
  },
  {
    name: "a tab in the indentation is called a tab",
    files: { "api.raml": "types:\n\tBook: string\n" },
    given: [d(2, 2, "UNKNOWN_NODE", "Unknown node: 'Book'")],
    want: ["2:2 YAML_TAB a tab in the indentation: YAML indents with spaces only"],
  },
  {
    name: "the same error reported once per use is said once",
    files: { "api.raml": "x\n" },
    given: [d(1, 1, "UNRECOGNIZED_ELEMENT", "Unrecognized trait: 'pagd'."), d(1, 1, "UNRECOGNIZED_ELEMENT", "Unrecognized trait: 'pagd'.")],
    want: ["1:1 UNRECOGNIZED_ELEMENT Unrecognized trait: 'pagd'."],
  },
  {
    name: "anything else passes through as it is",
    files: { "api.raml": "x\n" },
    given: [d(1, 1, "INTEGER_EXPECTED", "Integer is expected")],
    want: ["1:1 INTEGER_EXPECTED Integer is expected"],
  },
];

describe("explain", () => {
  it.each(cases)("$name", ({ files, given, want }) => {
    const got = explain(given, reader(files)).map((x) => `${x.path === "api.raml" ? "" : `${x.path} `}${x.line}:${x.column} ${x.code} ${x.message}`);
    expect(got.sort()).toEqual([...want].sort());
  });
});
