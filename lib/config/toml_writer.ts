// TOML writer for the configuration model: readable output grouped as daemon files, sources,
// access, auth, stats, refclocks and tuning, defaults left out, ntp.conf comments kept in place.

import {
  DEFAULT_MAXPOLL_LOG2,
  DEFAULT_MINPOLL_LOG2,
  DEFAULT_VERSION,
  defaultDiscard,
  defaultFilegen,
  defaultSystemFlags,
  defaultTinker,
  defaultTos,
  DISCARD_OPTIONS,
  FILE_OPTIONS,
  type FilegenConfig,
  type NtpConfig,
  type RefclockConfig,
  type RestrictRule,
  type SourceConfig,
  SYSTEM_FLAGS,
  TINKER_OPTIONS,
  TOS_OPTIONS,
} from "./config_model.ts";
import { classifyAddress } from "./address.ts";
import { hostMaskText } from "../proto/ip.ts";
import type { ConfigComments } from "./config_comments.ts";

/** Options of `writeToml`. */
export interface TomlWriteOptions {
  /** Comments to place next to their elements (from the ntp.conf parser). */
  comments?: ConfigComments;
  /** Lines for a banner comment at the very top (e.g. "Converted from /etc/ntp.conf"). */
  banner?: string[];
}

/** Quotes a string as a TOML basic string. */
export function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/** Formats a float so TOML reads it back as the same number (and as a float). */
export function tomlFloat(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** The `tos` fields TOML holds as floats (the rest are integers). */
const TOS_FLOATS = new Set<string>(["maxdistSec", "mindistSec"]);

function tomlArray(values: readonly (string | number)[]): string {
  return `[${values.map((v) => typeof v === "string" ? tomlString(v) : String(v)).join(", ")}]`;
}

/** Builds TOML text line by line, placing comments and tracking which comment keys were used. */
class TomlOut {
  readonly lines: string[] = [];
  readonly #comments: ConfigComments | undefined;
  readonly #used = new Set<string>();

  constructor(comments: ConfigComments | undefined) {
    this.#comments = comments;
  }

  /** True when the source file wrote this model path explicitly. */
  isExplicit(path: string): boolean {
    return this.#comments?.explicit.has(path) ?? false;
  }

  comment(key: string): void {
    const list = this.#comments?.byKey.get(key);
    if (!list || this.#used.has(key)) return;
    this.#used.add(key);
    for (const c of list) this.lines.push(`#${c}`);
  }

  after(key: string): void {
    const list = this.#comments?.after.get(key);
    if (!list || this.#used.has(`after:${key}`)) return;
    this.#used.add(`after:${key}`);
    for (const c of list) this.lines.push(`#${c}`);
  }

  group(title: string): void {
    if (this.lines.length > 0) this.lines.push("");
    this.lines.push(`# ==== ${title} ====`);
  }

  table(header: string, key: string | null): void {
    this.lines.push("");
    if (key !== null) this.comment(key);
    this.lines.push(header);
  }

  kv(name: string, value: string, key: string | null = null): void {
    if (key !== null) this.comment(key);
    this.lines.push(`${name} = ${value}`);
    if (key !== null) this.after(key);
  }

  unused(): string[] {
    const out: string[] = [];
    for (const [key, list] of this.#comments?.byKey ?? []) {
      if (!this.#used.has(key)) out.push(...list);
    }
    for (const [key, list] of this.#comments?.after ?? []) {
      if (!this.#used.has(`after:${key}`)) out.push(...list);
    }
    return out;
  }
}

function writeSource(out: TomlOut, s: SourceConfig, i: number): void {
  out.table("[[source]]", `sources.${i}`);
  out.kv("kind", tomlString(s.kind));
  out.kv("address", tomlString(s.address));
  if (s.family !== "any") out.kv("family", tomlString(s.family));
  if (s.key !== null) out.kv("key", String(s.key));
  const flags: [string, boolean][] = [
    ["autokey", s.autokey],
    ["burst", s.burst],
    ["iburst", s.iburst],
    ["prefer", s.prefer],
    ["noselect", s.noselect],
    ["true", s.trueChimer],
    ["preempt", s.preempt],
    ["xleave", s.xleave],
  ];
  for (const [name, on] of flags) if (on) out.kv(name, "true");
  const x = (field: string): boolean => out.isExplicit(`sources.${i}.${field}`);
  if (s.version !== DEFAULT_VERSION || x("version")) out.kv("version", String(s.version));
  if (s.minpollLog2 !== DEFAULT_MINPOLL_LOG2 || x("minpollLog2")) {
    out.kv("minpoll", String(s.minpollLog2));
  }
  if (s.maxpollLog2 !== DEFAULT_MAXPOLL_LOG2 || x("maxpollLog2")) {
    out.kv("maxpoll", String(s.maxpollLog2));
  }
  if (s.ttl !== null) out.kv("ttl", String(s.ttl));
  if (s.mode !== null) out.kv("mode", String(s.mode));
  out.after(`sources.${i}`);
}

function writeRefclock(out: TomlOut, r: RefclockConfig, i: number): void {
  out.table("[[refclock]]", `refclocks.${i}`);
  out.kv("type", String(r.type));
  out.kv("unit", String(r.unit));
  if (r.mode !== null) out.kv("mode", String(r.mode));
  if (r.prefer) out.kv("prefer", "true");
  if (r.noselect) out.kv("noselect", "true");
  if (r.trueChimer) out.kv("true", "true");
  const x = (field: string): boolean => out.isExplicit(`refclocks.${i}.${field}`);
  if (r.minpollLog2 !== DEFAULT_MINPOLL_LOG2 || x("minpollLog2")) {
    out.kv("minpoll", String(r.minpollLog2));
  }
  if (r.maxpollLog2 !== DEFAULT_MAXPOLL_LOG2 || x("maxpollLog2")) {
    out.kv("maxpoll", String(r.maxpollLog2));
  }
  const f = r.fudge;
  if (f.time1Sec !== null) out.kv("time1", tomlFloat(f.time1Sec));
  if (f.time2Sec !== null) out.kv("time2", tomlFloat(f.time2Sec));
  if (f.stratum !== null) out.kv("stratum", String(f.stratum));
  if (f.refid !== null) out.kv("refid", tomlString(f.refid));
  for (const name of ["flag1", "flag2", "flag3", "flag4"] as const) {
    const v = f[name];
    if (v !== null) out.kv(name, String(v));
  }
  out.after(`refclocks.${i}`);
}

/** True when rules i and i+1 are the IPv4 and IPv6 halves of one family-less `restrict default`. */
function isDefaultPair(a: RestrictRule | undefined, b: RestrictRule | undefined): boolean {
  return a !== undefined && b !== undefined && a.match === "default" && b.match === "default" &&
    a.family === "ipv4" && b.family === "ipv6" && a.flags.join() === b.flags.join();
}

function writeRestrict(out: TomlOut, rules: readonly RestrictRule[]): void {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i] as RestrictRule;
    const pair = isDefaultPair(r, rules[i + 1]);
    out.table("[[restrict]]", `restrict.${i}`);
    if (pair) out.comment(`restrict.${i + 1}`);
    if (r.match === "default") {
      out.kv("address", tomlString("default"));
      if (!pair) out.kv("family", tomlString(r.family));
    } else if (r.match === "source") {
      out.kv("address", tomlString("source"));
      if (r.family !== "any") out.kv("family", tomlString(r.family));
    } else {
      out.kv("address", tomlString(r.address));
      const c = classifyAddress(r.address);
      const literalFamily = c.kind === "ipv4" || c.kind === "refclock"
        ? "ipv4"
        : c.kind === "ipv6"
        ? "ipv6"
        : null;
      if (r.family !== "any" && r.family !== literalFamily) {
        out.kv("family", tomlString(r.family));
      }
      const defaultMask = literalFamily === null
        ? null
        : hostMaskText(literalFamily === "ipv4" ? 4 : 6);
      if (r.mask !== null && r.mask !== defaultMask) out.kv("mask", tomlString(r.mask));
    }
    if (r.flags.length > 0) out.kv("flags", tomlArray(r.flags));
    out.after(`restrict.${i}`);
    if (pair) {
      out.after(`restrict.${i + 1}`);
      i++;
    }
  }
}

function writeFilegen(out: TomlOut, g: FilegenConfig, i: number): void {
  out.table("[[stats.filegen]]", `stats.filegens.${i}`);
  out.kv("name", tomlString(g.name));
  const d = defaultFilegen(g.name);
  if (g.file !== d.file) out.kv("file", tomlString(g.file));
  out.kv("type", tomlString(g.type));
  out.kv("link", String(g.link));
  out.after(`stats.filegens.${i}`);
}

/** Writes `entries` (already filtered to non-defaults) as a table when any remain. */
function section(
  out: TomlOut,
  header: string,
  key: string,
  entries: [string, string, string | null][],
): void {
  if (entries.length === 0) return;
  out.table(header, key);
  for (const [name, value, k] of entries) out.kv(name, value, k);
  out.after(key);
}

/** Renders a configuration model as a TOML document that `parseTomlConfig` loads back to it. */
export function writeToml(config: NtpConfig, options: TomlWriteOptions = {}): string {
  const comments = options.comments;
  const out = new TomlOut(comments);
  for (const b of options.banner ?? []) out.lines.push(b === "" ? "#" : `# ${b}`);
  if (comments && comments.header.length > 0) {
    if (out.lines.length > 0 && out.lines.at(-1) !== "#") out.lines.push("#");
    for (const c of comments.header) out.lines.push(`#${c}`);
  }

  // ---- daemon files ----
  const f = config.files;
  const daemon: [string, string, string | null][] = [];
  for (const [name, field] of Object.entries(FILE_OPTIONS)) {
    const v = f[field];
    if (v !== null) daemon.push([name, tomlString(v), `files.${field}`]);
  }
  if (config.logConfig.length > 0) {
    daemon.push(["logconfig", tomlArray(config.logConfig), "logConfig"]);
  }
  if (daemon.length > 0) {
    out.group("daemon");
    section(out, "[daemon]", "files", daemon);
  }

  // ---- sources ----
  const b = config.broadcast;
  const bcast: [string, string, string | null][] = [];
  if (b.client) bcast.push(["broadcastclient", "true", "broadcast.client"]);
  if (b.novolley) bcast.push(["novolley", "true", null]);
  if (b.multicastClient.length > 0) {
    bcast.push(["multicastclient", tomlArray(b.multicastClient), "broadcast.multicastClient"]);
  }
  if (b.manycastServer.length > 0) {
    bcast.push(["manycastserver", tomlArray(b.manycastServer), "broadcast.manycastServer"]);
  }
  if (b.ttl.length > 0) bcast.push(["ttl", tomlArray(b.ttl), "broadcast.ttl"]);
  if (b.delaySec !== null) {
    bcast.push(["broadcastdelay", tomlFloat(b.delaySec), "broadcast.delaySec"]);
  }
  if (config.sources.length > 0 || bcast.length > 0) {
    out.group("sources");
    config.sources.forEach((s, i) => writeSource(out, s, i));
    section(out, "[broadcast]", "broadcast", bcast);
  }

  // ---- access ----
  const dd = defaultDiscard();
  const discard: [string, string, string | null][] = [];
  for (const [name, field] of Object.entries(DISCARD_OPTIONS)) {
    const v = config.discard[field];
    if (v !== dd[field] || out.isExplicit(`discard.${field}`)) {
      discard.push([name, String(v), null]);
    }
  }
  if (config.restrict.length > 0 || discard.length > 0 || config.interfaces.length > 0) {
    out.group("access");
    writeRestrict(out, config.restrict);
    section(out, "[discard]", "discard", discard);
    config.interfaces.forEach((r, i) => {
      out.table("[[interface]]", `interfaces.${i}`);
      out.kv("action", tomlString(r.action));
      out.kv("match", tomlString(r.match));
      out.after(`interfaces.${i}`);
    });
  }

  // ---- auth ----
  const a = config.auth;
  const auth: [string, string, string | null][] = [];
  if (a.keysFile !== null) auth.push(["keys", tomlString(a.keysFile), "auth.keysFile"]);
  if (a.keysDir !== null) auth.push(["keysdir", tomlString(a.keysDir), "auth.keysDir"]);
  if (a.trustedKeys.length > 0) {
    auth.push(["trustedkey", tomlArray(a.trustedKeys), "auth.trustedKeys"]);
  }
  if (a.requestKey !== null) auth.push(["requestkey", String(a.requestKey), "auth.requestKey"]);
  if (a.controlKey !== null) auth.push(["controlkey", String(a.controlKey), "auth.controlKey"]);
  if (a.autokeyLog2 !== null) auth.push(["autokey", String(a.autokeyLog2), "auth.autokeyLog2"]);
  if (a.revokeLog2 !== null) auth.push(["revoke", String(a.revokeLog2), "auth.revokeLog2"]);
  if (a.ntpSigndSocket !== null) {
    auth.push(["ntpsigndsocket", tomlString(a.ntpSigndSocket), "auth.ntpSigndSocket"]);
  }
  if (auth.length > 0 || a.crypto.enabled) {
    out.group("auth");
    section(out, "[auth]", "auth", auth);
    if (a.crypto.enabled) {
      out.table("[auth.crypto]", "auth.crypto");
      const { enabled: _enabled, ...opts } = a.crypto;
      for (const [k, v] of Object.entries(opts)) if (v !== null) out.kv(k, tomlString(v));
    }
  }

  // ---- stats ----
  const st = config.stats;
  const stats: [string, string, string | null][] = [];
  if (st.statsDir !== null) stats.push(["statsdir", tomlString(st.statsDir), "stats.statsDir"]);
  if (st.enabled.length > 0) stats.push(["statistics", tomlArray(st.enabled), "stats.enabled"]);
  if (
    stats.length > 0 || st.filegens.length > 0 || config.traps.length > 0 ||
    config.setvar.length > 0
  ) {
    out.group("stats");
    section(out, "[stats]", "stats", stats);
    st.filegens.forEach((g, i) => writeFilegen(out, g, i));
    config.traps.forEach((t, i) => {
      out.table("[[trap]]", `traps.${i}`);
      out.kv("address", tomlString(t.address));
      if (t.port !== null) out.kv("port", String(t.port));
      if (t.interface !== null) out.kv("interface", tomlString(t.interface));
      out.after(`traps.${i}`);
    });
    config.setvar.forEach((v, i) => {
      out.table("[[setvar]]", `setvar.${i}`);
      out.kv("name", tomlString(v.name));
      out.kv("value", tomlString(v.value));
      if (v.isDefault) out.kv("default", "true");
      out.after(`setvar.${i}`);
    });
  }

  // ---- refclocks ----
  const modem: [string, string, string | null][] = [];
  if (config.phone.length > 0) modem.push(["phone", tomlArray(config.phone), "phone"]);
  if (config.callDelaySec !== null) {
    modem.push(["calldelay", String(config.callDelaySec), "callDelaySec"]);
  }
  if (config.refclocks.length > 0 || modem.length > 0) {
    out.group("refclocks");
    config.refclocks.forEach((r, i) => writeRefclock(out, r, i));
    section(out, "[modem]", "modem", modem);
  }

  // ---- tuning ----
  const tosD = defaultTos();
  const t = config.tos;
  const tos: [string, string, string | null][] = [];
  for (const [name, field] of Object.entries(TOS_OPTIONS)) {
    if (t[field] !== tosD[field] || out.isExplicit(`tos.${field}`)) {
      tos.push([name, TOS_FLOATS.has(field) ? tomlFloat(t[field]) : String(t[field]), null]);
    }
  }
  const tkD = defaultTinker();
  const tk = config.tinker;
  const tinker: [string, string, string | null][] = [];
  for (const [name, field] of Object.entries(TINKER_OPTIONS)) {
    const v = tk[field];
    if (v !== null && (v !== tkD[field] || out.isExplicit(`tinker.${field}`))) {
      tinker.push([name, tomlFloat(v), null]);
    }
  }
  if (tk.discipline !== undefined) tinker.push(["discipline", tomlString(tk.discipline), null]);
  const sysD = defaultSystemFlags();
  const system: [string, string, string | null][] = [];
  for (const flag of SYSTEM_FLAGS) {
    // bclient is written as [broadcast] broadcastclient.
    if (
      flag !== "bclient" &&
      (config.system[flag] !== sysD[flag] || out.isExplicit(`system.${flag}`))
    ) {
      system.push([flag, String(config.system[flag]), null]);
    }
  }
  const mru = Object.entries(config.mru).filter(([, v]) => v !== null).map((
    [k, v],
  ): [string, string, string | null] => [k, String(v), null]);
  const rlimit = Object.entries(config.rlimit).filter(([, v]) => v !== null).map((
    [k, v],
  ): [string, string, string | null] => [k, String(v), null]);
  if (tos.length + tinker.length + system.length + mru.length + rlimit.length > 0) {
    out.group("tuning");
    section(out, "[tos]", "tos", tos);
    section(out, "[tinker]", "tinker", tinker);
    section(out, "[system]", "system", system);
    section(out, "[mru]", "mru", mru);
    section(out, "[rlimit]", "rlimit", rlimit);
  }

  // ---- what found no place ----
  const leftovers = out.unused();
  const dropped = comments?.dropped ?? [];
  const trailer = comments?.trailer ?? [];
  if (leftovers.length > 0 || dropped.length > 0) {
    out.lines.push("");
    out.lines.push("# ==== comments and lines with no TOML equivalent ====");
    for (const c of [...leftovers, ...dropped]) {
      out.lines.push(`#${c.startsWith(" ") ? "" : " "}${c}`);
    }
  }
  if (trailer.length > 0) {
    out.lines.push("");
    for (const c of trailer) out.lines.push(`#${c}`);
  }
  if (out.lines.length === 0) {
    out.lines.push("# Empty configuration: every setting at its default.");
  }
  return out.lines.join("\n").replace(/^\n+/, "") + "\n";
}
