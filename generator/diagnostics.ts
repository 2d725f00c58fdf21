// Errors in the spec are reported as `path:line:column CODE message` (1-based), one per line.
export interface Diagnostic {
  path: string;
  /** 1-based; 0 when unknown. */
  line: number;
  column: number;
  code: string;
  message: string;
  warning: boolean;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.path}:${d.line}:${d.column}` : d.path;
  return `${where} ${d.code} ${d.message}${d.warning ? " (warning)" : ""}`;
}

/** Thrown for an invalid spec; carries every diagnostic found. The CLI maps it to exit 2. */
export class SpecError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join("\n"));
    this.name = "SpecError";
  }
}
