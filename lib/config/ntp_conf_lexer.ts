// ntp.conf lexer: splits the text into lines of whitespace-separated tokens, with `#` comments
// and "double-quoted" values, as ntpd 4.2.x reads it (ntp.conf(5)). Never throws.

import type { Diagnostic } from "./diagnostics.ts";

/** One token of a line. */
export interface ConfToken {
  /** The token text (without quotes for a quoted token). */
  text: string;
  /** 1-based column of the token's first character. */
  col: number;
  /** True when the token was written in double quotes. */
  quoted: boolean;
}

/** One physical line of an ntp.conf file. */
export interface ConfLine {
  /** 1-based line number. */
  line: number;
  tokens: ConfToken[];
  /** Comment text after `#` (without the `#`, trailing spaces removed), or null. */
  comment: string | null;
  /** The line as written (without the line end). */
  raw: string;
}

/** Result of lexing a file: its lines and any lexical errors. */
export interface LexResult {
  lines: ConfLine[];
  diagnostics: Diagnostic[];
  /** True when the text is not a text file (binary bytes): callers should not parse the lines. */
  binary: boolean;
}

const WHITESPACE = new Set([" ", "\t", "\v", "\f", "\r"]);

/** Finds the first character that has no business in a text file; -1 when there is none. */
function firstBinaryChar(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (
      (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0b && c !== 0x0c && c !== 0x0d) ||
      c === 0x7f || c === 0xfffd
    ) {
      return i;
    }
  }
  return -1;
}

/**
 * Checks that `text` is plain text (no NUL or other control bytes, valid UTF-8 decoded without
 * replacement characters); returns an error diagnostic at the first offending character or null.
 */
export function checkTextFile(text: string, file: string): Diagnostic | null {
  const bad = firstBinaryChar(text);
  if (bad < 0) return null;
  const before = text.slice(0, bad);
  const line = before.split("\n").length;
  const col = bad - (before.lastIndexOf("\n") + 1) + 1;
  const c = text.charCodeAt(bad);
  const what = c === 0xfffd
    ? "invalid UTF-8"
    : `control character 0x${c.toString(16).padStart(2, "0")}`;
  return {
    severity: "error",
    file,
    line,
    col,
    code: "binary",
    message: `${what}: this does not look like a text configuration file`,
  };
}

/** Splits ntp.conf text into tokenised lines. `file` is only used in diagnostics. */
export function lexNtpConf(text: string, file: string): LexResult {
  const diagnostics: Diagnostic[] = [];
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const binary = checkTextFile(body, file);
  if (binary !== null) return { lines: [], diagnostics: [binary], binary: true };
  const rawLines = body.split("\n");
  if (rawLines.length > 0 && rawLines[rawLines.length - 1] === "") rawLines.pop();
  const lines: ConfLine[] = [];
  rawLines.forEach((rawWithCr, index) => {
    const raw = rawWithCr.endsWith("\r") ? rawWithCr.slice(0, -1) : rawWithCr;
    const lineNo = index + 1;
    const tokens: ConfToken[] = [];
    let comment: string | null = null;
    let i = 0;
    while (i < raw.length) {
      const ch = raw[i] as string;
      if (WHITESPACE.has(ch)) {
        i++;
        continue;
      }
      if (ch === "#") {
        comment = raw.slice(i + 1).trimEnd();
        break;
      }
      const start = i;
      if (ch === '"') {
        const end = raw.indexOf('"', i + 1);
        if (end < 0) {
          diagnostics.push({
            severity: "error",
            file,
            line: lineNo,
            col: start + 1,
            code: "syntax",
            message: "unterminated quoted string",
          });
          tokens.push({ text: raw.slice(i + 1), col: start + 1, quoted: true });
          i = raw.length;
          break;
        }
        tokens.push({ text: raw.slice(i + 1, end), col: start + 1, quoted: true });
        i = end + 1;
        continue;
      }
      while (i < raw.length && !WHITESPACE.has(raw[i] as string) && raw[i] !== "#") i++;
      tokens.push({ text: raw.slice(start, i), col: start + 1, quoted: false });
    }
    lines.push({ line: lineNo, tokens, comment, raw });
  });
  return { lines, diagnostics, binary: false };
}
