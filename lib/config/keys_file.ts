// The symmetric keys file (`keys` in ntp.conf, ntpd's -k): one key per line,
// `keyid type key [addresses]`, as ntpd 4.2.8 and NTPsec read it (ntp.keys(5)).
//
// - keyid: 1–65535;
// - type: MD5 (or M), SHA1 (or SHA-1), SHA256 (or SHA-256), AES128CMAC (or AES128, AES-128, AES),
//   case-insensitive;
// - key: up to 20 characters is the key's ASCII text; longer is hex (at most 64 digits, 32 bytes);
// - addresses: an optional comma-separated list of addresses or prefixes (`192.0.2.0/24`) allowed
//   to use the key (ntpd 4.2.8p9 and later);
// - `#` starts a comment, so an ASCII key cannot contain it.
//
// A file with any error is refused as a whole (ntpd does the same): a key silently missing or cut
// would fail later, far from its cause. Every problem is reported with its file and line.

import type { MacAlgorithm } from "../proto/crypto.ts";
import { MAX_KEY_ID, MIN_KEY_ID, type SymmetricKey } from "../proto/auth/key_store.ts";
import { type IpPrefix, parsePrefix } from "../proto/ip.ts";
import { ConfigSyntaxError, type Diagnostic, hasErrors } from "./diagnostics.ts";
import { readBoundedTextFile } from "./read_bounded_text_file.ts";

/** Largest keys file read: 65535 keys with long address lists fit. */
export const MAX_KEYS_FILE_BYTES = 8 << 20;

/** Longest key written as text; a longer key is hex (ntpd 4.2.8, NTPsec). */
export const MAX_ASCII_KEY_LEN = 20;
/** Longest key in bytes (64 hex digits). */
export const MAX_KEY_BYTES = 32;

/** Key type words, upper-cased, and the algorithm each names. */
const TYPE_WORDS: Readonly<Record<string, MacAlgorithm>> = {
  M: "MD5",
  MD5: "MD5",
  SHA1: "SHA1",
  "SHA-1": "SHA1",
  SHA256: "SHA256",
  "SHA-256": "SHA256",
  AES128CMAC: "AES128CMAC",
  AES128: "AES128CMAC",
  "AES-128": "AES128CMAC",
  AES: "AES128CMAC",
};

/** The algorithm a keys file type word names, or null. */
export function keyTypeFromText(word: string): MacAlgorithm | null {
  return TYPE_WORDS[word.toUpperCase()] ?? null;
}

/** What `parseKeysFile` found: the keys (the last line of each id) and every problem. */
export interface KeysFileParse {
  keys: SymmetricKey[];
  diagnostics: Diagnostic[];
}

/**
 * Parses a keys file's text. Never throws: each malformed line becomes an error diagnostic (and
 * defines no key); `file` names the file in diagnostics.
 *
 * @example
 * ```ts
 * const { keys, diagnostics } = parseKeysFile("1 MD5 secret\n", "/etc/ntp.keys");
 * ```
 */
export function parseKeysFile(text: string, file: string): KeysFileParse {
  const diagnostics: Diagnostic[] = [];
  const byId = new Map<number, { key: SymmetricKey; line: number }>();
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    const raw = lines[n]!.replace(/\r$/, "");
    const hash = raw.indexOf("#");
    const body = hash < 0 ? raw : raw.slice(0, hash);
    const tokens = [...body.matchAll(/[^ \t\f\v\r]+/g)].map((m) => ({
      text: m[0],
      col: m.index + 1,
    }));
    if (tokens.length === 0) continue;
    const problem = (
      severity: "error" | "warning",
      col: number,
      code: string,
      message: string,
    ) => diagnostics.push({ severity, file, line, col, code, message });
    const error = (col: number, code: string, message: string) =>
      problem("error", col, code, message);

    const [idTok, typeTok, keyTok] = tokens;
    if (typeTok === undefined || keyTok === undefined) {
      error(idTok!.col, "syntax", "a key line needs a key id, a type and a key");
      continue;
    }
    if (!/^[0-9]{1,10}$/.test(idTok!.text)) {
      error(idTok!.col, "syntax", `"${idTok!.text}" is not a key id (a number, 1–65535)`);
      continue;
    }
    const id = Number(idTok!.text);
    if (id < MIN_KEY_ID || id > MAX_KEY_ID) {
      error(idTok!.col, "range", `key id ${id} is out of range (1–65535)`);
      continue;
    }
    const algorithm = keyTypeFromText(typeTok.text);
    if (algorithm === null) {
      error(
        typeTok.col,
        "key-type",
        `key ${id}: unsupported key type "${typeTok.text}" (supported: MD5, SHA1, SHA256, AES128CMAC)`,
      );
      continue;
    }
    const key = decodeKey(keyTok.text);
    if (typeof key === "string") {
      error(keyTok.col, "key", `key ${id}: ${key}`);
      continue;
    }
    if (algorithm === "AES128CMAC" && key.length < 16) {
      problem(
        "warning",
        keyTok.col,
        "cmac-key-length",
        `key ${id}: an AES128CMAC key of ${key.length} bytes is padded with zeros to 16 (as ntpd ` +
          "does); use 32 hex digits (chrony accepts nothing else)",
      );
    }
    let allowed: IpPrefix[] | null = null;
    if (tokens.length > 3) {
      const list = parseAddressList(tokens.slice(3));
      if (typeof list === "string") {
        error(tokens[3]!.col, "address", `key ${id}: ${list}`);
        continue;
      }
      allowed = list;
    }
    const earlier = byId.get(id);
    if (earlier !== undefined) {
      problem(
        "warning",
        idTok!.col,
        "duplicate-key",
        `key ${id} is defined again (first on line ${earlier.line}): this line replaces it`,
      );
      byId.delete(id);
    }
    byId.set(id, { key: { id, algorithm, key, allowed }, line });
  }
  return { keys: [...byId.values()].map((e) => e.key), diagnostics };
}

/**
 * A key's bytes from its text as the keys file writes it (up to 20 characters: the text itself;
 * longer: hex), or what is wrong with it. ntpq's `passwd` reads a typed key the same way.
 */
export function decodeKey(text: string): Uint8Array | string {
  if (/^(HEX|ASCII):/i.test(text)) {
    return `"${text.slice(0, text.indexOf(":") + 1)}" is chrony's key syntax; ` +
      "write the key alone (up to 20 characters as text, longer as hex)";
  }
  if (text.length <= MAX_ASCII_KEY_LEN) {
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k);
      if (c < 0x21 || c > 0x7e) {
        return `the key has a character that is not printable ASCII at position ${k + 1}`;
      }
    }
    return new TextEncoder().encode(text);
  }
  // Keys longer than 20 characters are hex (ntpd, NTPsec).
  const bad = text.search(/[^0-9a-fA-F]/);
  if (bad >= 0) {
    return `a key longer than ${MAX_ASCII_KEY_LEN} characters is hex, but character ${bad + 1} ` +
      "is not a hex digit";
  }
  // COMPAT: ntpd ignores digits past the 64th and drops an odd last one; both are refused here,
  // since the key in use would not be the one written.
  if (text.length % 2 !== 0) return `a hex key needs an even number of digits, not ${text.length}`;
  if (text.length > 2 * MAX_KEY_BYTES) {
    return `a hex key has at most ${
      2 * MAX_KEY_BYTES
    } digits (${MAX_KEY_BYTES} bytes), not ${text.length}`;
  }
  return Uint8Array.from(
    { length: text.length / 2 },
    (_, i) => parseInt(text.slice(2 * i, 2 * i + 2), 16),
  );
}

/** The fourth field: addresses or prefixes separated by commas (spaces around commas allowed). */
function parseAddressList(tokens: { text: string }[]): IpPrefix[] | string {
  const items = tokens.map((t) => t.text).join(" ").split(/\s*,\s*/);
  const out: IpPrefix[] = [];
  for (const item of items) {
    if (item === "") return "an empty entry in the address list (two commas, or one at an end)";
    if (/\s/.test(item)) return `"${item}": addresses in the list are separated by commas`;
    const r = parsePrefix(item);
    if (!r.ok) return `bad address in the list: ${r.reason}`;
    out.push(r.prefix);
  }
  return out;
}

/** A keys file read and checked: its keys and its warnings. */
export interface LoadedKeysFile {
  keys: SymmetricKey[];
  /** Warnings (file mode, padded keys, ids defined twice). */
  warnings: Diagnostic[];
  /** `dev:ino` of the file read. */
  identity: string;
}

/**
 * Reads and parses the keys file at `path` through the bounded reader (a regular file of at most
 * {@link MAX_KEYS_FILE_BYTES}). Throws a {@link ConfigSyntaxError} carrying every diagnostic when
 * any line is wrong, and an Error with the reason when the file cannot be read. Warns when the
 * file can be read or written by its group or by others: it holds secrets.
 */
export async function loadKeysFile(path: string): Promise<LoadedKeysFile> {
  const read = await readBoundedTextFile(path, MAX_KEYS_FILE_BYTES);
  if (!read.ok) throw new Error(`keys file ${path}: ${read.reason}`);
  const { keys, diagnostics } = parseKeysFile(read.text, path);
  const mode = await Deno.stat(path).then((s) => s.mode, () => null);
  if (mode !== null && (mode & 0o066) !== 0) {
    const who = [(mode & 0o060) !== 0 ? "its group" : "", (mode & 0o006) !== 0 ? "others" : ""]
      .filter((w) => w !== "").join(" and ");
    diagnostics.unshift({
      severity: "warning",
      file: path,
      line: 0,
      col: 0,
      code: "keys-file-mode",
      message:
        `the keys file is open to ${who} (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); ` +
        `secret keys belong in a file only its owner can read: chmod 600 ${path}`,
    });
  }
  if (hasErrors(diagnostics)) {
    throw new ConfigSyntaxError(diagnostics.find((d) => d.severity === "error")!, diagnostics);
  }
  return { keys, warnings: diagnostics, identity: read.identity };
}
