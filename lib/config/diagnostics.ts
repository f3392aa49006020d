// Configuration diagnostics: located errors and warnings shared by both readers, the loader and
// the `check` / `convert` commands, printed as `file:line:col: error|warning: message`.

/** How bad a diagnostic is. Errors stop the daemon (exit 78); warnings do not. */
export type Severity = "error" | "warning";

/** One problem found in a configuration, located in a file. */
export interface Diagnostic {
  severity: Severity;
  /** File name as given by the user (or "<default>", "<stdin>"). */
  file: string;
  /** 1-based line, 0 when the problem is not tied to a line. */
  line: number;
  /** 1-based column, 0 when unknown. */
  col: number;
  message: string;
  /**
   * A stable machine-readable kind, e.g. "unknown-keyword", "range", "syntax". Tests and
   * `check --strict` use it.
   */
  code: string;
}

/** Renders one diagnostic as `file:line:col: severity: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col > 0 ? d.col : 1}` : d.file;
  return `${where}: ${d.severity}: ${d.message}`;
}

/** True when any diagnostic is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** Codes that `check --strict` turns from warnings into errors. */
export const STRICT_CODES: readonly string[] = ["unknown-keyword", "unknown-option"];

/** Returns the list with strict-only warnings promoted to errors. */
export function applyStrict(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics.map((d) =>
    d.severity === "warning" && STRICT_CODES.includes(d.code) ? { ...d, severity: "error" } : d
  );
}

/** Orders diagnostics by file, line and column (stable for equal positions). */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) =>
      a.d.file === b.d.file
        ? a.d.line - b.d.line || a.d.col - b.d.col || a.i - b.i
        : a.d.file < b.d.file
        ? -1
        : 1
    )
    .map((x) => x.d);
}

/** A text-input error carrying its location (for callers that prefer exceptions). */
export class ConfigSyntaxError extends SyntaxError {
  /** File the error is in. */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly col: number;
  /** Every diagnostic of the failed load, errors and warnings. */
  readonly diagnostics: readonly Diagnostic[];
  constructor(first: Diagnostic, diagnostics: readonly Diagnostic[]) {
    super(formatDiagnostic(first));
    this.name = "ConfigSyntaxError";
    this.file = first.file;
    this.line = first.line;
    this.col = first.col;
    this.diagnostics = diagnostics;
  }
}
