// Native TOML configuration: reads TOML with smol-toml, validates its shape with a zod schema (so
// every error carries a path and a line), and builds the same model as the ntp.conf parser.

import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import {
  CRYPTO_OPTIONS,
  defaultFilegen,
  defaultRefclock,
  defaultSource,
  DISCARD_OPTIONS,
  type DisciplineChoice,
  DISCIPLINES,
  emptyConfig,
  FILE_OPTIONS,
  FILEGEN_TYPES,
  INTERFACE_ACTIONS,
  type InterfaceAction,
  MRU_OPTIONS,
  type NtpConfig,
  RESTRICT_FLAGS,
  RLIMIT_OPTIONS,
  SOURCE_KINDS,
  STAT_NAMES,
  SYSTEM_FLAGS,
  TINKER_OPTIONS,
  TOS_OPTIONS,
} from "./config_model.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { normalizeConfig, restrictRulesFor } from "./normalize.ts";
import { validateConfig } from "./validate.ts";

const int = z.number().int();
const num = z.number();
const str = z.string();
const bool = z.boolean();
const family = z.enum(["any", "ipv4", "ipv6"]);

const sourceSchema = z.strictObject({
  kind: z.enum(SOURCE_KINDS as [string, ...string[]]).optional(),
  address: str,
  family: family.optional(),
  key: int.optional(),
  autokey: bool.optional(),
  burst: bool.optional(),
  iburst: bool.optional(),
  version: int.optional(),
  prefer: bool.optional(),
  noselect: bool.optional(),
  true: bool.optional(),
  preempt: bool.optional(),
  xleave: bool.optional(),
  minpoll: int.optional(),
  maxpoll: int.optional(),
  ttl: int.optional(),
  mode: int.optional(),
});

const refclockSchema = z.strictObject({
  type: int,
  unit: int.optional(),
  mode: int.optional(),
  prefer: bool.optional(),
  noselect: bool.optional(),
  true: bool.optional(),
  minpoll: int.optional(),
  maxpoll: int.optional(),
  time1: num.optional(),
  time2: num.optional(),
  stratum: int.optional(),
  refid: str.optional(),
  flag1: bool.optional(),
  flag2: bool.optional(),
  flag3: bool.optional(),
  flag4: bool.optional(),
});

const restrictSchema = z.strictObject({
  address: str,
  family: family.optional(),
  mask: str.optional(),
  flags: z.array(z.enum(RESTRICT_FLAGS as [string, ...string[]])).optional(),
});

/** A strict table whose keys are `keys`, each optional and of type `value`. */
const optionalKeys = <K extends string, V extends z.ZodType>(keys: readonly K[], value: V) =>
  z.strictObject(
    Object.fromEntries(keys.map((k) => [k, value.optional()])) as Record<K, z.ZodOptional<V>>,
  );

/** The zod schema of a Horae TOML configuration file. */
export const tomlConfigSchema = z.strictObject({
  daemon: z.strictObject({
    driftfile: str.optional(),
    leapfile: str.optional(),
    pidfile: str.optional(),
    logfile: str.optional(),
    saveconfigdir: str.optional(),
    logconfig: z.array(str).optional(),
  }).optional(),
  source: z.array(sourceSchema).optional(),
  broadcast: z.strictObject({
    broadcastclient: bool.optional(),
    novolley: bool.optional(),
    multicastclient: z.array(str).optional(),
    manycastserver: z.array(str).optional(),
    ttl: z.array(int).optional(),
    broadcastdelay: num.optional(),
  }).optional(),
  restrict: z.array(restrictSchema).optional(),
  discard: z.strictObject({
    average: int.optional(),
    minimum: int.optional(),
    monitor: int.optional(),
  }).optional(),
  interface: z.array(z.strictObject({
    action: z.enum(INTERFACE_ACTIONS as [string, ...string[]]),
    match: str,
  })).optional(),
  auth: z.strictObject({
    keys: str.optional(),
    keysdir: str.optional(),
    trustedkey: z.array(int).optional(),
    requestkey: int.optional(),
    controlkey: int.optional(),
    autokey: int.optional(),
    revoke: int.optional(),
    ntpsigndsocket: str.optional(),
    crypto: optionalKeys(CRYPTO_OPTIONS, str).optional(),
  }).optional(),
  stats: z.strictObject({
    statsdir: str.optional(),
    statistics: z.array(z.enum(STAT_NAMES as [string, ...string[]])).optional(),
    filegen: z.array(z.strictObject({
      name: z.enum(STAT_NAMES as [string, ...string[]]),
      file: str.optional(),
      type: z.enum(FILEGEN_TYPES as [string, ...string[]]).optional(),
      link: bool.optional(),
    })).optional(),
  }).optional(),
  trap: z.array(z.strictObject({
    address: str,
    port: int.optional(),
    interface: str.optional(),
  })).optional(),
  setvar: z.array(z.strictObject({
    name: str,
    value: str,
    default: bool.optional(),
  })).optional(),
  refclock: z.array(refclockSchema).optional(),
  modem: z.strictObject({
    phone: z.array(str).optional(),
    calldelay: int.optional(),
  }).optional(),
  tos: z.strictObject({
    beacon: int.optional(),
    ceiling: int.optional(),
    cohort: int.optional(),
    floor: int.optional(),
    maxclock: int.optional(),
    maxdist: num.optional(),
    minclock: int.optional(),
    mindist: num.optional(),
    minsane: int.optional(),
    orphan: int.optional(),
    orphanwait: int.optional(),
  }).optional(),
  tinker: z.strictObject({
    allan: num.optional(),
    dispersion: num.optional(),
    freq: num.optional(),
    huffpuff: num.optional(),
    panic: num.optional(),
    step: num.optional(),
    stepout: num.optional(),
    tick: num.optional(),
    discipline: z.enum(DISCIPLINES as [string, ...string[]]).optional(),
  }).optional(),
  system: optionalKeys(SYSTEM_FLAGS, bool).optional(),
  mru: optionalKeys(MRU_OPTIONS, int).optional(),
  rlimit: optionalKeys(RLIMIT_OPTIONS, int).optional(),
});

/** The shape of a valid TOML configuration document. */
export type TomlConfigDocument = z.infer<typeof tomlConfigSchema>;

/** Result of reading a TOML configuration. */
export interface TomlConfigResult {
  /** The model (best effort: the empty configuration when the document could not be read). */
  config: NtpConfig;
  diagnostics: Diagnostic[];
}

interface Pos {
  line: number;
  col: number;
}

/**
 * Maps TOML key paths ("source.2.minpoll") to the line and column where they are written, by a
 * light scan of table headers and `key =` lines (enough to point diagnostics at the right line).
 */
export function locateTomlKeys(text: string): Map<string, Pos> {
  const map = new Map<string, Pos>();
  const counters = new Map<string, number>();
  let prefix = "";
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trimStart();
    const col = raw.length - trimmed.length + 1;
    const aot = /^\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]/.exec(trimmed);
    if (aot) {
      const name = aot[1] as string;
      const n = counters.get(name) ?? 0;
      counters.set(name, n + 1);
      // Nested arrays of tables restart when their parent element changes.
      for (const k of counters.keys()) if (k.startsWith(`${name}.`)) counters.delete(k);
      prefix = `${resolveParent(name, counters)}.${n}`;
      map.set(prefix, { line, col });
      return;
    }
    const table = /^\[\s*([A-Za-z0-9_.-]+)\s*\]/.exec(trimmed);
    if (table) {
      prefix = resolveParent(table[1] as string, counters);
      map.set(prefix, { line, col });
      return;
    }
    const kv = /^("?)([A-Za-z0-9_-]+)\1\s*=/.exec(trimmed);
    if (kv) {
      const path = prefix === "" ? (kv[2] as string) : `${prefix}.${kv[2]}`;
      if (!map.has(path)) map.set(path, { line, col });
    }
  });
  return map;
}

/** Turns "stats.filegen" into "stats.filegen" with any array parents indexed ("a.1.b"). */
function resolveParent(name: string, counters: Map<string, number>): string {
  const parts = name.split(".");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    out.push(parts[i] as string);
    const sofar = parts.slice(0, i + 1).join(".");
    const n = counters.get(sofar);
    if (n !== undefined && i < parts.length - 1) out.push(String(n - 1));
  }
  return out.join(".");
}

const SOURCE_KEY: Record<string, string> = {
  minpollLog2: "minpoll",
  maxpollLog2: "maxpoll",
  trueChimer: "true",
};
const FUDGE_KEY: Record<string, string> = { time1Sec: "time1", time2Sec: "time2" };

/** Model field → TOML key, from a TOML key → model field table of the model. */
function invert(table: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(table).map(([key, field]) => [field, key]));
}
const SECTION_KEYS: Record<string, Record<string, string>> = {
  files: invert(FILE_OPTIONS),
  discard: invert(DISCARD_OPTIONS),
  auth: {
    keysFile: "keys",
    keysDir: "keysdir",
    trustedKeys: "trustedkey",
    requestKey: "requestkey",
    controlKey: "controlkey",
    autokeyLog2: "autokey",
    revokeLog2: "revoke",
    ntpSigndSocket: "ntpsigndsocket",
    crypto: "crypto",
  },
  broadcast: {
    client: "broadcastclient",
    novolley: "novolley",
    multicastClient: "multicastclient",
    manycastServer: "manycastserver",
    ttl: "ttl",
    delaySec: "broadcastdelay",
  },
  stats: { statsDir: "statsdir", enabled: "statistics", filegens: "filegen" },
  tos: invert(TOS_OPTIONS),
  tinker: invert(TINKER_OPTIONS),
};

/** Translates a model path ("sources.1.minpollLog2") into the TOML key path it came from. */
function tomlPathOf(modelPath: string, restrictOrigin: readonly number[]): string {
  const p = modelPath.split(".");
  const [head, second, third, fourth] = p;
  switch (head) {
    case "sources":
      return ["source", second, third && (SOURCE_KEY[third] ?? third)].filter(Boolean).join(".");
    case "refclocks": {
      const key = third === "fudge" ? fourth && (FUDGE_KEY[fourth] ?? fourth) : third &&
        (SOURCE_KEY[third] ?? third);
      return ["refclock", second, key].filter(Boolean).join(".");
    }
    case "restrict":
      return ["restrict", String(restrictOrigin[Number(second)] ?? second), third].filter(
        Boolean,
      ).join(".");
    case "interfaces":
      return ["interface", second, third].filter(Boolean).join(".");
    case "traps":
      return ["trap", second, third].filter(Boolean).join(".");
    case "setvar":
      return ["setvar", second, third === "isDefault" ? "default" : third].filter(Boolean).join(
        ".",
      );
    case "files":
      return ["daemon", second && SECTION_KEYS.files?.[second]].filter(Boolean).join(".");
    case "logConfig":
      return "daemon.logconfig";
    case "callDelaySec":
      return "modem.calldelay";
    case "phone":
      return "modem.phone";
    case "stats":
      if (second === "filegens") return ["stats.filegen", third, fourth].filter(Boolean).join(".");
      return ["stats", second && SECTION_KEYS.stats?.[second]].filter(Boolean).join(".");
    case "auth":
      if (second === "crypto") return ["auth.crypto", third].filter(Boolean).join(".");
      return ["auth", second && SECTION_KEYS.auth?.[second]].filter(Boolean).join(".");
    default: {
      const table = SECTION_KEYS[head ?? ""];
      const key = second && (table?.[second] ?? second);
      return [head, key].filter(Boolean).join(".");
    }
  }
}

function lookup(map: Map<string, Pos>, path: string): Pos {
  let p = path;
  while (true) {
    const pos = map.get(p);
    if (pos) return pos;
    const dot = p.lastIndexOf(".");
    if (dot < 0) return { line: 0, col: 0 };
    p = p.slice(0, dot);
  }
}

function describeZodIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.join(".") : "document";
  switch (issue.code) {
    case "invalid_type":
      return `${where}: expected ${issue.expected === "int" ? "an integer" : issue.expected}`;
    case "invalid_value":
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** Removes `keys` from the object at `path` in `data` (used to drop unknown keys after warning). */
function deleteAt(data: unknown, path: readonly PropertyKey[], keys: readonly string[]): void {
  let node: unknown = data;
  for (const k of path) {
    if (node === null || typeof node !== "object") return;
    node = (node as Record<PropertyKey, unknown>)[k];
  }
  if (node === null || typeof node !== "object") return;
  for (const k of keys) delete (node as Record<string, unknown>)[k];
}

/** Reads a TOML configuration document into the model. Never throws, whatever the input. */
export function parseTomlConfig(text: string, file = "horae.toml"): TomlConfigResult {
  const diagnostics: Diagnostic[] = [];
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    const err = e as { message?: unknown; line?: unknown; column?: unknown };
    const message = typeof err.message === "string"
      ? err.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? "invalid TOML"
      : "invalid TOML";
    diagnostics.push({
      severity: "error",
      file,
      line: typeof err.line === "number" ? err.line : 0,
      col: typeof err.column === "number" ? err.column : 0,
      code: "syntax",
      message: `TOML syntax error: ${message}`,
    });
    return { config: emptyConfig(), diagnostics };
  }
  const positions = locateTomlKeys(text);
  const at = (path: string): Pos => lookup(positions, path);

  let parsed = tomlConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const unknown = parsed.error.issues.filter((i) => i.code === "unrecognized_keys");
    const others = parsed.error.issues.filter((i) => i.code !== "unrecognized_keys");
    for (const issue of unknown) {
      if (issue.code !== "unrecognized_keys") continue;
      for (const key of issue.keys) {
        const path = [...issue.path.map(String), key].join(".");
        const pos = at(path);
        diagnostics.push({
          severity: "warning",
          file,
          line: pos.line,
          col: pos.col,
          code: "unknown-keyword",
          message: `unknown key "${path}"; ignored`,
        });
      }
      deleteAt(raw, issue.path, issue.keys);
    }
    for (const issue of others) {
      const pos = at(issue.path.map(String).join("."));
      diagnostics.push({
        severity: "error",
        file,
        line: pos.line,
        col: pos.col,
        code: "type",
        message: describeZodIssue(issue),
      });
    }
    if (others.length > 0) return { config: emptyConfig(), diagnostics };
    parsed = tomlConfigSchema.safeParse(raw);
    if (!parsed.success) return { config: emptyConfig(), diagnostics };
  }
  const { config, restrictOrigin } = buildModel(parsed.data);
  for (const issue of validateConfig(config)) {
    const tomlPath = tomlPathOf(issue.path, restrictOrigin);
    const pos = at(tomlPath);
    diagnostics.push({
      severity: issue.severity,
      file,
      line: pos.line,
      col: pos.col,
      code: issue.code,
      message: issue.message,
    });
  }
  diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);
  return { config, diagnostics };
}

/** Copies the keys of a TOML table that are set into the fields of `to` that `table` names. */
function copyOptions<T extends object>(
  from: object | undefined,
  table: Readonly<Record<string, keyof T>>,
  to: T,
): void {
  for (const [key, field] of Object.entries(table)) {
    const v = (from as Record<string, unknown> | undefined)?.[key];
    if (v !== undefined) (to as Record<keyof T, unknown>)[field] = v;
  }
}

/** Builds the model from a schema-valid document; also returns each restrict rule's TOML index. */
function buildModel(doc: TomlConfigDocument): { config: NtpConfig; restrictOrigin: number[] } {
  const c = emptyConfig();
  copyOptions(doc.daemon, FILE_OPTIONS, c.files);
  c.logConfig = [...(doc.daemon?.logconfig ?? [])];

  for (const s of doc.source ?? []) {
    const src = defaultSource(
      (s.kind ?? "server") as NtpConfig["sources"][number]["kind"],
      s.address,
    );
    src.family = s.family ?? "any";
    src.key = s.key ?? null;
    src.autokey = s.autokey ?? false;
    src.burst = s.burst ?? false;
    src.iburst = s.iburst ?? false;
    src.version = s.version ?? src.version;
    src.prefer = s.prefer ?? false;
    src.noselect = s.noselect ?? false;
    src.trueChimer = s.true ?? false;
    src.preempt = s.preempt ?? false;
    src.xleave = s.xleave ?? false;
    src.minpollLog2 = s.minpoll ?? src.minpollLog2;
    src.maxpollLog2 = s.maxpoll ?? src.maxpollLog2;
    src.ttl = s.ttl ?? null;
    src.mode = s.mode ?? null;
    c.sources.push(src);
  }

  const b = doc.broadcast ?? {};
  c.broadcast.client = b.broadcastclient ?? false;
  c.broadcast.novolley = b.novolley ?? false;
  c.broadcast.multicastClient = [...(b.multicastclient ?? [])];
  c.broadcast.manycastServer = [...(b.manycastserver ?? [])];
  c.broadcast.ttl = [...(b.ttl ?? [])];
  c.broadcast.delaySec = b.broadcastdelay ?? null;

  const restrictOrigin: number[] = [];
  (doc.restrict ?? []).forEach((r, i) => {
    for (
      const rule of restrictRulesFor(r.address, r.family ?? "any", r.mask ?? null, r.flags ?? [])
    ) {
      c.restrict.push(rule);
      restrictOrigin.push(i);
    }
  });
  copyOptions(doc.discard, DISCARD_OPTIONS, c.discard);
  c.interfaces = (doc.interface ?? []).map((i) => ({
    action: i.action as InterfaceAction,
    match: i.match,
  }));

  const a = doc.auth ?? {};
  c.auth.keysFile = a.keys ?? null;
  c.auth.keysDir = a.keysdir ?? null;
  c.auth.trustedKeys = [...(a.trustedkey ?? [])];
  c.auth.requestKey = a.requestkey ?? null;
  c.auth.controlKey = a.controlkey ?? null;
  c.auth.autokeyLog2 = a.autokey ?? null;
  c.auth.revokeLog2 = a.revoke ?? null;
  c.auth.ntpSigndSocket = a.ntpsigndsocket ?? null;
  if (a.crypto !== undefined) {
    c.auth.crypto.enabled = true;
    for (const [k, v] of Object.entries(a.crypto)) {
      if (v !== undefined) (c.auth.crypto as unknown as Record<string, string>)[k] = v;
    }
  }

  const st = doc.stats ?? {};
  c.stats.statsDir = st.statsdir ?? null;
  c.stats.enabled = [...(st.statistics ?? [])] as NtpConfig["stats"]["enabled"];
  for (const g of st.filegen ?? []) {
    const name = g.name as NtpConfig["stats"]["enabled"][number];
    let gen = c.stats.filegens.find((x) => x.name === name);
    if (!gen) {
      gen = defaultFilegen(name);
      c.stats.filegens.push(gen);
    }
    if (g.file !== undefined) gen.file = g.file;
    if (g.type !== undefined) gen.type = g.type as typeof gen.type;
    if (g.link !== undefined) gen.link = g.link;
  }
  c.traps = (doc.trap ?? []).map((t) => ({
    address: t.address,
    port: t.port ?? null,
    interface: t.interface ?? null,
  }));
  c.setvar = (doc.setvar ?? []).map((v) => ({
    name: v.name,
    value: v.value,
    isDefault: v.default ?? false,
  }));

  for (const r of doc.refclock ?? []) {
    const rc = defaultRefclock(r.type, r.unit ?? 0);
    rc.mode = r.mode ?? null;
    rc.prefer = r.prefer ?? false;
    rc.noselect = r.noselect ?? false;
    rc.trueChimer = r.true ?? false;
    rc.minpollLog2 = r.minpoll ?? rc.minpollLog2;
    rc.maxpollLog2 = r.maxpoll ?? rc.maxpollLog2;
    rc.fudge.time1Sec = r.time1 ?? null;
    rc.fudge.time2Sec = r.time2 ?? null;
    rc.fudge.stratum = r.stratum ?? null;
    rc.fudge.refid = r.refid ?? null;
    rc.fudge.flag1 = r.flag1 ?? null;
    rc.fudge.flag2 = r.flag2 ?? null;
    rc.fudge.flag3 = r.flag3 ?? null;
    rc.fudge.flag4 = r.flag4 ?? null;
    c.refclocks.push(rc);
  }
  c.phone = [...(doc.modem?.phone ?? [])];
  c.callDelaySec = doc.modem?.calldelay ?? null;

  copyOptions(doc.tos, TOS_OPTIONS, c.tos);
  copyOptions(doc.tinker, TINKER_OPTIONS, c.tinker);
  if (doc.tinker?.discipline !== undefined) {
    c.tinker.discipline = doc.tinker.discipline as DisciplineChoice;
  }
  for (const [flag, v] of Object.entries(doc.system ?? {})) {
    if (v !== undefined) c.system[flag as keyof NtpConfig["system"]] = v;
  }
  for (const [k, v] of Object.entries(doc.mru ?? {})) {
    if (v !== undefined) (c.mru as unknown as Record<string, number>)[k] = v;
  }
  for (const [k, v] of Object.entries(doc.rlimit ?? {})) {
    if (v !== undefined) (c.rlimit as unknown as Record<string, number>)[k] = v;
  }
  normalizeConfig(c);
  return { config: c, restrictOrigin };
}
