// The NTS cookie master keys as a text file and their rotation schedule (RFC 8915 §6 asks servers
// to rotate them; cookies under a key stay good while it is kept). The file is what several
// servers behind one name share, so that any of them opens the others' cookies. Pure: the daemon
// (lib/daemon/nts_cookie_keys.ts) reads, locks and writes the file and draws the random bytes.
//
// Key ids are rotation periods: the key with id E is the one cookies are made under from
// E × rotateSec to (E + 1) × rotateSec (Unix time). The key for the next period is written a
// whole period before it is used, so every instance sharing the file has read it by then, and
// two instances that rotate at once (under the file lock) agree on which key is current.
//
// Format, one item a line, '#' comments:
//   horae-nts-cookie-keys 1
//   rotate SECONDS
//   key ID HEX64

import { type NtsMasterKey } from "./cookies.ts";

/** Header line of the key file. */
export const COOKIE_KEYS_MAGIC = "horae-nts-cookie-keys 1";
/** Default rotation period: a day (chrony rotates hourly, NTPsec daily). */
export const DEFAULT_COOKIE_ROTATE_SEC = 86400;
/** Default number of past keys kept: cookies live for a week by default. */
export const DEFAULT_COOKIE_KEYS_KEPT = 7;
/** Most keys a file may hold (a bound on what a damaged or hostile file can make us load). */
export const MAX_COOKIE_KEYS = 64;

/** The parsed key file. */
export interface CookieKeys {
  /** Rotation period (seconds) the ids are counted in. */
  rotateSec: number;
  /** The keys, ascending by id. */
  keys: NtsMasterKey[];
}

/** Result of {@link parseCookieKeys}: the keys, or the first problem with its line. */
export type ParseCookieKeys = { ok: true; value: CookieKeys } | {
  ok: false;
  line: number;
  message: string;
};

/** Reads the key file's text. Never throws. */
export function parseCookieKeys(text: string): ParseCookieKeys {
  const lines = text.split("\n");
  let magic = false;
  let rotateSec = 0;
  const keys: NtsMasterKey[] = [];
  const ids = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, "").trim();
    if (line === "") continue;
    const bad = (message: string): ParseCookieKeys => ({ ok: false, line: i + 1, message });
    if (!magic) {
      if (line !== COOKIE_KEYS_MAGIC) return bad(`expected "${COOKIE_KEYS_MAGIC}"`);
      magic = true;
      continue;
    }
    const words = line.split(/\s+/);
    if (words[0] === "rotate" && words.length === 2 && /^[1-9][0-9]{0,9}$/.test(words[1]!)) {
      rotateSec = Number(words[1]);
    } else if (
      words[0] === "key" && words.length === 3 && /^[0-9]{1,10}$/.test(words[1]!) &&
      /^[0-9a-fA-F]{64}$/.test(words[2]!)
    ) {
      const id = Number(words[1]);
      if (id > 0xffffffff) return bad("key id over 4294967295");
      if (ids.has(id)) return bad(`key ${id} appears twice`);
      if (keys.length >= MAX_COOKIE_KEYS) return bad(`more than ${MAX_COOKIE_KEYS} keys`);
      ids.add(id);
      const key = new Uint8Array(32);
      for (let k = 0; k < 32; k++) key[k] = parseInt(words[2]!.slice(2 * k, 2 * k + 2), 16);
      keys.push({ id, key });
    } else {
      return bad('expected "rotate SECONDS" or "key ID HEX64"');
    }
  }
  if (!magic) return { ok: false, line: 1, message: `expected "${COOKIE_KEYS_MAGIC}"` };
  if (rotateSec === 0) return { ok: false, line: lines.length, message: 'no "rotate" line' };
  keys.sort((a, b) => a.id - b.id);
  return { ok: true, value: { rotateSec, keys } };
}

/** The key file's text for `keys`. */
export function formatCookieKeys(keys: CookieKeys): string {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return [
    COOKIE_KEYS_MAGIC,
    "# NTS cookie master keys: secret (mode 0600). Shared by every server behind one name;",
    "# rotated by whichever of them finds it due. Key N is used from N × rotate (Unix time).",
    `rotate ${keys.rotateSec}`,
    ...keys.keys.map((k) => `key ${k.id} ${hex(k.key)}`),
    "",
  ].join("\n");
}

/** The rotation period (key id) `nowUnixSec` falls in. */
export function cookieKeyPeriod(nowUnixSec: number, rotateSec: number): number {
  return Math.floor(nowUnixSec / rotateSec) % 0x100000000;
}

/** What {@link planCookieKeys} decided. */
export interface CookieKeyPlan {
  /** The keys to use (and to write, when `changed`). */
  keys: CookieKeys;
  /** True when they differ from what the file held: write them. */
  changed: boolean;
  /** The id new cookies are made under. */
  currentId: number;
}

/**
 * The keys a server should hold at `nowUnixSec`: the current period's and the next one's
 * (created with `newKey` when missing), plus the `keep` before them; older ones dropped. A file
 * written for another rotation period is replaced whole (its ids mean other times). `file` null:
 * no file yet.
 */
export function planCookieKeys(
  file: CookieKeys | null,
  nowUnixSec: number,
  rotateSec: number,
  keep: number,
  newKey: () => Uint8Array,
): CookieKeyPlan {
  const current = cookieKeyPeriod(nowUnixSec, rotateSec);
  const old = file !== null && file.rotateSec === rotateSec ? file.keys : [];
  const byId = new Map(old.map((k) => [k.id, k]));
  let changed = file === null || file.rotateSec !== rotateSec;
  const keys: NtsMasterKey[] = [];
  for (const k of old) {
    if (k.id >= current - keep && k.id <= current + 1) keys.push(k);
    else changed = true;
  }
  for (const id of [current, current + 1]) {
    if (!byId.has(id)) {
      keys.push({ id, key: newKey() });
      changed = true;
    }
  }
  keys.sort((a, b) => a.id - b.id);
  return { keys: { rotateSec, keys }, changed, currentId: current };
}

/**
 * The key to make cookies under when the file cannot be written (a read-only instance): the
 * newest key whose period has begun, or else the oldest. -1 when there are none.
 */
export function currentCookieKeyId(keys: CookieKeys, nowUnixSec: number): number {
  const period = cookieKeyPeriod(nowUnixSec, keys.rotateSec);
  let best = -1;
  for (const k of keys.keys) if (k.id <= period) best = k.id;
  return best >= 0 ? best : keys.keys[0]?.id ?? -1;
}
