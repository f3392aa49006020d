// The text of mode 6 variable lists (RFC 9327 §3.2, as ntpd 4.2.x writes them): `name=value`
// items separated by ", ", a line break (CR LF) instead of the space once a line would pass 72
// characters, strings in double quotes, and the value formats ntpd uses (fixed-point decimals,
// hexadecimal NTP timestamps, refids). Both the server and `horae query` use it; no I/O.

import { type NtpTime, toTimestamp } from "../ntp_time.ts";

/** Longest text line of a variable list before ntpd breaks it. */
export const MAX_VAR_LINE = 72;

/** One `name=value` item (`value` null for a bare name). */
export interface VarItem {
  name: string;
  value: string | null;
}

/**
 * Builds a variable list: items joined by ", ", with a CR LF in place of the space where the line
 * would pass {@link MAX_VAR_LINE} characters (ntpd's layout, which ntpq relies on for nothing
 * but readability).
 */
export class VarListWriter {
  #text = "";
  #line = 0;
  #items = 0;

  /** Appends `name=value` (`value` as already formatted; null: the bare name). */
  add(name: string, value: string | null): void {
    const item = value === null ? name : `${name}=${value}`;
    if (this.#items > 0) {
      this.#text += ",";
      this.#line++;
      if (this.#line + item.length + 1 >= MAX_VAR_LINE) {
        this.#text += "\r\n";
        this.#line = 0;
      } else {
        this.#text += " ";
        this.#line++;
      }
    }
    this.#text += item;
    this.#line += item.length;
    this.#items++;
  }

  /** Items added so far. */
  get items(): number {
    return this.#items;
  }

  /** Length of the text so far, bytes (the text is ASCII). */
  get length(): number {
    return this.#text.length;
  }

  /** The list, ending with CR LF as ntpd ends its last fragment when it has room. */
  text(): string {
    return this.#items === 0 ? "" : `${this.#text}\r\n`;
  }

  /** The list as bytes. */
  bytes(): Uint8Array {
    return asciiBytes(this.text());
  }
}

/** ASCII text as bytes (characters outside 0x20–0x7e other than CR, LF, TAB become '?'). */
export function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[i] = (c >= 0x20 && c < 0x7f) || c === 13 || c === 10 || c === 9 ? c : 0x3f;
  }
  return out;
}

/** Bytes as text, keeping only printable ASCII, CR, LF and TAB (NUL padding and binary dropped). */
export function bytesText(bytes: Uint8Array): string {
  let s = "";
  for (const c of bytes) {
    if ((c >= 0x20 && c < 0x7f) || c === 13 || c === 10 || c === 9) s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Splits a variable list into items: commas separate items except inside double quotes; names
 * and values are trimmed; a value keeps its quotes (see {@link unquote}).
 */
export function parseVarList(text: string): VarItem[] {
  const items: VarItem[] = [];
  let cur = "";
  let quoted = false;
  const flush = () => {
    const t = cur.trim();
    cur = "";
    if (t === "") return;
    const eq = t.indexOf("=");
    if (eq < 0) items.push({ name: t, value: null });
    else items.push({ name: t.slice(0, eq).trim(), value: t.slice(eq + 1).trim() });
  };
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      cur += ch;
    } else if (ch === "," && !quoted) flush();
    else if (ch === "\r" || ch === "\n") {
      if (quoted) cur += " ";
    } else cur += ch;
  }
  flush();
  return items;
}

/** A value without its surrounding double quotes, if it has them. */
export function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value;
}

/** A string value in double quotes (a double quote inside becomes a single quote). */
export function quote(text: string): string {
  return `"${text.replaceAll('"', "'")}"`;
}

/** `x` with `digits` decimals, never "-0.000" for a value that rounds to zero. */
export function fixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return "0." + "0".repeat(digits);
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/** An NTP timestamp as ntpd sends it: `0x` and the seconds and fraction as 8 hex digits each. */
export function hexTimestamp(t: NtpTime): string {
  return hexWireTimestamp(t === 0n ? 0n : toTimestamp(t));
}

/** A 64-bit wire timestamp in the same format as {@link hexTimestamp}. */
export function hexWireTimestamp(ts: bigint): string {
  const hex = (ts & 0xffffffffffffffffn).toString(16).padStart(16, "0");
  return `0x${hex.slice(0, 8)}.${hex.slice(8)}`;
}

/**
 * Parses `0xSSSSSSSS.FFFFFFFF` (or without the `0x`) into a 64-bit NTP timestamp; null when it is
 * not one.
 */
export function parseHexTimestamp(text: string): bigint | null {
  const m = /^(?:0x)?([0-9a-fA-F]{1,8})\.([0-9a-fA-F]{1,8})$/.exec(text.trim());
  if (m === null) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]!.padEnd(8, "0")}`);
}

/** A 32-bit value as `0x` and lower-case hex digits (ntpd's hex format: `0x0`, `0xff`). */
export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}

/**
 * A refid as ntpd shows it: stratum 0 or 1 (and a kiss code at stratum 16) as up to four
 * characters (`.` for what is not printable), otherwise an IPv4 address (or the hash of an IPv6
 * one, shown the same way).
 */
export function refidText(refid: number, stratum: number): string {
  if (stratum <= 1 || stratum >= 16) {
    let s = "";
    for (let shift = 24; shift >= 0; shift -= 8) {
      const c = (refid >>> shift) & 0xff;
      if (c === 0) break;
      s += c >= 0x20 && c < 0x7f && c !== 0x2c && c !== 0x3d && c !== 0x22
        ? String.fromCharCode(c)
        : ".";
    }
    return s;
  }
  return [24, 16, 8, 0].map((s) => (refid >>> s) & 0xff).join(".");
}
