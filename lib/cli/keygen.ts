// `horae keygen` (multi-call `ntp-keygen`): writes a symmetric keys file the way ntp-keygen -M
// does (ntp-keygen(8), ntpd 4.2.8): named `ntpkey_MD5key_<host>.<filestamp>` (the filestamp is
// the NTP seconds of its creation) in the current folder, a comment header with that name and the
// date, ten MD5 keys of 20 printable characters and ten SHA1 keys of 40 hex digits, and the link
// `ntp.keys` pointing at it. Keys come from the system's CSPRNG (getrandom).
//
// COMPAT: ten AES128CMAC keys (32 hex digits, ids 21–30) follow by default, since RFC 8573
// recommends AES-CMAC and chrony takes only 16-byte AES keys; `--type` and `--count` choose.
// Autokey (host keys, certificates, identity schemes) is not supported.

import { writeFileAtomic } from "../files/safe_file.ts";
import { keyTypeFromText } from "../config/keys_file.ts";
import type { MacAlgorithm } from "../proto/crypto.ts";
import { MAX_KEY_ID } from "../proto/auth/key_store.ts";
import { type CliIo, denoIo, EXIT_USAGE } from "./check.ts";

/** Seconds from the NTP era 0 origin (1900) to the Unix epoch. */
const NTP_UNIX_OFFSET_SEC = 2_208_988_800;

/** Keys per type unless `--count` says otherwise (ntp-keygen: ten). */
export const DEFAULT_KEY_COUNT = 10;
/** Key types written unless `--type` says otherwise. */
export const DEFAULT_KEY_TYPES: readonly MacAlgorithm[] = ["MD5", "SHA1", "AES128CMAC"];

/** The name of the link to the newest keys file. */
export const KEYS_LINK_NAME = "ntp.keys";

/** Key bytes per type; MD5 keys are text (ntp-keygen), the rest hex. */
const KEY_BYTES: Readonly<Record<MacAlgorithm, number>> = {
  MD5: 20,
  SHA1: 20,
  SHA256: 32,
  AES128CMAC: 16,
};

/** The characters of an MD5 text key: printable ASCII but `#` (a comment) — 93 of them. */
const TEXT_KEY_CHARS = Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i))
  .filter((c) => c !== "#").join("");

/** What `runKeygen` needs from the outside world (tests replace it). */
export interface KeygenEnv {
  io: CliIo;
  /** Folder the files are written in (ntp-keygen: the current one). */
  cwd: string;
  /** The time the keys are made (file name and header). */
  now: Date;
  /** This host's name, for the file name unless `-s` gives one. */
  hostname: string;
  /** Fills `buf` with cryptographically secure random bytes. */
  random(buf: Uint8Array): void;
}

/** The real environment. */
export function denoKeygenEnv(): KeygenEnv {
  return {
    io: denoIo(),
    cwd: Deno.cwd(),
    now: new Date(),
    hostname: Deno.hostname(),
    random: (buf) => {
      // getRandomValues fills at most 65536 bytes per call.
      for (let at = 0; at < buf.length; at += 65536) {
        crypto.getRandomValues(buf.subarray(at, Math.min(buf.length, at + 65536)));
      }
    },
  };
}

/** The date as C's ctime(3) writes it, in local time: `Tue Jan  2 03:04:05 2024`. */
export function ctimeText(d: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** NTP seconds (era 0 count, as ntp-keygen's filestamp) of `d`. */
export function filestampOf(d: Date): number {
  return Math.floor(d.getTime() / 1000) + NTP_UNIX_OFFSET_SEC;
}

/** A random text key of `length` characters from {@link TEXT_KEY_CHARS}, without bias. */
function textKey(length: number, random: (b: Uint8Array) => void): string {
  const n = TEXT_KEY_CHARS.length;
  const limit = 256 - (256 % n); // bytes at or above this would favour the first characters
  let out = "";
  const buf = new Uint8Array(64);
  while (out.length < length) {
    random(buf);
    for (const b of buf) {
      if (b < limit && out.length < length) out += TEXT_KEY_CHARS[b % n];
    }
  }
  return out;
}

/** The keys file text: header, then `count` keys of each type with ids from 1 upwards. */
export function keysFileText(
  fileName: string,
  now: Date,
  types: readonly MacAlgorithm[],
  count: number,
  random: (b: Uint8Array) => void,
): string {
  const lines = [`# ${fileName}`, `# ${ctimeText(now)}`, ""];
  let id = 1;
  for (const type of types) {
    for (let k = 0; k < count; k++, id++) {
      let key: string;
      if (type === "MD5") {
        key = textKey(KEY_BYTES.MD5, random);
      } else {
        const b = new Uint8Array(KEY_BYTES[type]);
        random(b);
        key = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      }
      lines.push(`${String(id).padStart(2, " ")} ${type} ${key}  # ${type} key`);
    }
  }
  return lines.join("\n") + "\n";
}

const USAGE = `usage: horae keygen [-M] [-s host] [--type TYPE[,TYPE...]] [--count N]

Writes a symmetric keys file ntpkey_MD5key_<host>.<filestamp> (mode 0600) in the current folder,
and points the link ntp.keys at it.

  -M, --md5key              symmetric keys (the default; kept for ntp-keygen's scripts)
  -s, --subject-name HOST   host name in the file name (default: this host's name)
      --type LIST           key types: MD5, SHA1, SHA256, AES128CMAC (default MD5,SHA1,AES128CMAC)
      --count N             keys of each type (default 10; ids run from 1)
  -h, --help                this text
`;

/** ntp-keygen's Autokey options (host keys, certificates, identity schemes): refused. */
const AUTOKEY_OPTIONS = new Set([
  "-b",
  "-c",
  "-C",
  "-d",
  "-D",
  "-e",
  "-G",
  "-H",
  "-I",
  "-i",
  "-l",
  "-m",
  "-P",
  "-p",
  "-q",
  "-S",
  "-T",
  "-V",
  "-v",
]);

interface KeygenArgs {
  host: string | null;
  types: MacAlgorithm[];
  count: number;
}

/** Parses the command line; a string is a usage error, null asks for help. */
function parseKeygenArgs(args: string[]): KeygenArgs | string | null {
  const out: KeygenArgs = { host: null, types: [...DEFAULT_KEY_TYPES], count: DEFAULT_KEY_COUNT };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string | null => {
      if (eq >= 0) return arg.slice(eq + 1);
      if (/^-s./.test(arg)) return arg.slice(2);
      return args[++i] ?? null;
    };
    if (name === "-M" || name === "--md5key") continue;
    if (name === "-h" || name === "--help") return null;
    if (name === "-s" || name === "--subject-name" || /^-s./.test(arg)) {
      const v = value();
      if (v === null || v === "") return `${name} needs a host name`;
      if (v.includes("/") || v.includes("\0") || v === "." || v === "..") {
        return `"${v}" cannot be part of a file name`;
      }
      out.host = v;
    } else if (name === "--type") {
      const v = value();
      if (v === null || v === "") return "--type needs a list of key types";
      const types: MacAlgorithm[] = [];
      for (const word of v.split(",")) {
        const t = keyTypeFromText(word.trim());
        if (t === null) return `unknown key type "${word}" (MD5, SHA1, SHA256, AES128CMAC)`;
        if (!types.includes(t)) types.push(t);
      }
      out.types = types;
    } else if (name === "--count") {
      const v = value();
      if (v === null || !/^[0-9]{1,5}$/.test(v) || Number(v) < 1) {
        return `--count needs a number of keys (1 or more), not "${v ?? ""}"`;
      }
      out.count = Number(v);
    } else if (AUTOKEY_OPTIONS.has(name.slice(0, 2)) && !name.startsWith("--")) {
      return `${name}: Autokey files are not supported; horae keygen writes symmetric keys (-M)`;
    } else {
      return `unknown option "${arg}"`;
    }
  }
  if (out.count * out.types.length > MAX_KEY_ID) {
    return `${out.count * out.types.length} keys do not fit in key ids 1–${MAX_KEY_ID}`;
  }
  return out;
}

/**
 * Points `ntp.keys` in `dir` at `target`: a new link made under a fresh name, then renamed over
 * the old one (rename never follows a link). A regular file or anything else at `ntp.keys` is
 * left alone: it may be a keys file someone wrote by hand. Returns null, or why it did not.
 */
async function updateLink(dir: string, target: string): Promise<string | null> {
  const link = `${dir}/${KEYS_LINK_NAME}`;
  const st = await Deno.lstat(link).catch((e) => e instanceof Deno.errors.NotFound ? null : e);
  if (st instanceof Error) return `${link}: ${st.message}`;
  if (st !== null && !st.isSymlink) {
    return `${link} exists and is not a link: left as it is (link it to ${target} yourself)`;
  }
  const rand = crypto.getRandomValues(new Uint8Array(16));
  const tmp = `${link}.TEMP-${Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  try {
    await Deno.symlink(target, tmp);
    await Deno.rename(tmp, link);
    return null;
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    return `${link}: ${(e as Error).message}`;
  }
}

/**
 * Runs `horae keygen`. Exit status: 0 done, 1 a file could not be written (or the link was left
 * alone), 2 usage.
 */
export async function runKeygen(args: string[], env: KeygenEnv = denoKeygenEnv()): Promise<number> {
  const parsed = parseKeygenArgs(args);
  if (parsed === null) {
    env.io.stdout(USAGE);
    return 0;
  }
  if (typeof parsed === "string") {
    env.io.stderr(`horae keygen: ${parsed}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const host = parsed.host ?? env.hostname;
  if (host === "" || host.includes("/") || host.includes("\0")) {
    env.io.stderr(`horae keygen: host name "${host}" cannot be part of a file name; use -s\n`);
    return EXIT_USAGE;
  }
  const fileName = `ntpkey_MD5key_${host}.${filestampOf(env.now)}`;
  const path = `${env.cwd}/${fileName}`;
  const text = keysFileText(fileName, env.now, parsed.types, parsed.count, env.random);
  try {
    await writeFileAtomic(path, text, 0o600);
  } catch (e) {
    env.io.stderr(`horae keygen: cannot write ${path}: ${(e as Error).message}\n`);
    return 1;
  }
  env.io.stdout(`Generating new symmetric keys file and link\n`);
  const problem = await updateLink(env.cwd, fileName);
  if (problem !== null) {
    env.io.stderr(`horae keygen: wrote ${path}, but ${problem}\n`);
    return 1;
  }
  env.io.stdout(`${KEYS_LINK_NAME}->${fileName}\n`);
  return 0;
}
