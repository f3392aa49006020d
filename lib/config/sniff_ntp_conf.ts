// Telling an ntp.conf from some other file named as one (`includefile /etc/shadow`), so that the
// parser refuses it with one diagnostic instead of quoting its lines back in warnings.

import type { ConfLine, ConfToken } from "./ntp_conf_lexer.ts";

/**
 * Lines starting with an unknown word, before any known keyword, after which a file is judged
 * not to be an ntp.conf. Real files open with a known keyword or at worst a typo or two.
 */
export const NOT_CONFIG_UNKNOWN_LINES = 4;

/** A plain word that is safe to quote back as "the keyword" of an unknown line. */
const PLAIN_WORD = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;

/**
 * The first word of a line as it may appear in a message, or null when it is not a plain word
 * (a password hash, a whole colon-separated record, a quoted phrase): such text is never echoed.
 */
export function shownKeyword(token: ConfToken): string | null {
  return PLAIN_WORD.test(token.text) ? token.text : null;
}

/** `name:x:…` with three colons or more: /etc/passwd, /etc/shadow, /etc/group and friends. */
const COLON_RECORD = /^[^\s:#]+(:[^:\n]*){3,}$/;
/** `[section]` or `key = value` / `key=value`. */
const KEY_VALUE = /^\s*(\[[^\]]*\]\s*$|[A-Za-z0-9_.-]+\s*=)/;

/** What the unknown lines look like, when it is obvious. */
function lookalike(lines: readonly ConfLine[]): string | null {
  if (lines.every((l) => COLON_RECORD.test(l.raw.trim()))) {
    return "colon-separated records, like /etc/passwd or /etc/shadow";
  }
  if (lines.some((l) => KEY_VALUE.test(l.raw))) {
    return "key = value settings, like TOML or an INI file";
  }
  return null;
}

/** Result of `sniffNtpConf`. */
export type SniffResult = { ntpConf: true } | { ntpConf: false; looksLike: string | null };

/**
 * Decides whether lexed lines are an ntp.conf: yes as soon as a line starts with a known keyword;
 * no when `NOT_CONFIG_UNKNOWN_LINES` lines start with something else first. A short file with
 * only a few unknown lines counts as an ntp.conf (its lines get the usual warnings).
 */
export function sniffNtpConf(
  lines: readonly ConfLine[],
  isKeyword: (lowercaseWord: string) => boolean,
): SniffResult {
  const unknown: ConfLine[] = [];
  for (const line of lines) {
    const first = line.tokens[0];
    if (first === undefined) continue;
    if (!first.quoted && isKeyword(first.text.toLowerCase())) return { ntpConf: true };
    unknown.push(line);
    if (unknown.length >= NOT_CONFIG_UNKNOWN_LINES) {
      return { ntpConf: false, looksLike: lookalike(unknown) };
    }
  }
  return { ntpConf: true };
}
