// What changed between the running configuration and a newly read one, for reloading (SIGHUP)
// and run-time configuration (mode 6 CONFIGURE, ntpq `:config`): sources added and removed, and
// every other option that differs, each marked as applied live or needing a restart. Pure: it
// walks the option spec, so an option added to the spec is never silently left out of the
// comparison (it needs a restart until someone makes it live).

import type { NtpConfig, SourceConfig } from "./config_model.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import type { ConfigSpec, SectionSpec } from "../proto/options/option_spec.ts";
import { getPath, joinPath, setPath } from "./model_path.ts";

/** One option (or array section) whose value differs. */
export interface OptionChange {
  /** Model path ("tos.minsane", "restrict", "files.driftFile"). */
  path: string;
  /** The ntp.conf spelling ("tos minsane", "restrict", "driftfile"). */
  name: string;
  before: unknown;
  after: unknown;
}

/** The difference between two configurations. */
export interface ConfigDiff {
  /** Sources (server, pool, peer... lines) only in the new configuration, in its order. */
  sourcesAdded: SourceConfig[];
  /** Sources only in the running configuration, in its order. */
  sourcesRemoved: SourceConfig[];
  /** Changes the daemon applies while it runs. */
  live: OptionChange[];
  /** Changes that take effect only when the daemon is restarted. */
  restart: OptionChange[];
}

/**
 * Model paths the daemon can change while it runs (besides sources): the restrict list, the
 * selection thresholds of `tos`, `logconfig`, the statistics files, the log file and where
 * saveconfig writes. Everything else needs a restart.
 */
export const LIVE_PATHS: ReadonlySet<string> = new Set([
  "restrict",
  "tos.minclock",
  "tos.minsane",
  "tos.floor",
  "tos.ceiling",
  "tos.cohort",
  "tos.orphan",
  "logConfig",
  "stats.statsDir",
  "stats.enabled",
  "stats.filegens",
  "system.stats",
  "files.logFile",
  "files.saveconfigDir",
]);

/** A source's identity: the same line, give or take its options. */
export function sourceKey(s: SourceConfig): string {
  return `${s.kind} ${s.address} ${s.family}`;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** How one option or array section is called in ntp.conf. */
function optionName(s: SectionSpec, ntpConf: string | null, field: string): string {
  const keywords = s.commands.map((c) => c.keyword);
  if (ntpConf !== null && keywords.includes(ntpConf)) return ntpConf;
  return `${keywords.join("/")} ${ntpConf ?? field}`;
}

/** Every comparable value of the model: array sections whole, other sections option by option. */
function* comparedPaths(spec: ConfigSpec): Generator<{ path: string; name: string }> {
  for (const s of spec.sections) {
    if (s.commands.length === 0) continue;
    if (s.array) {
      yield { path: s.model, name: s.commands.map((c) => c.keyword).join("/") };
      continue;
    }
    for (const part of s.parts) {
      for (const o of part.options) {
        yield {
          path: joinPath(s.model, part.at, o.field),
          name: optionName(s, o.ntpConf, o.field),
        };
      }
    }
  }
}

/**
 * Compares the running configuration with a new one. A source whose line changed (same kind,
 * address and family, other options) is both removed and added, so that it restarts with its
 * new options. Array sections other than sources compare as a whole.
 */
export function diffConfig(
  running: NtpConfig,
  next: NtpConfig,
  spec: ConfigSpec = CONFIG_SPEC,
): ConfigDiff {
  const diff: ConfigDiff = { sourcesAdded: [], sourcesRemoved: [], live: [], restart: [] };
  const before = new Map<string, SourceConfig>();
  for (const s of running.sources) if (!before.has(sourceKey(s))) before.set(sourceKey(s), s);
  const after = new Map<string, SourceConfig>();
  for (const s of next.sources) if (!after.has(sourceKey(s))) after.set(sourceKey(s), s);
  for (const [k, s] of before) {
    const n = after.get(k);
    if (n === undefined || !same(s, n)) diff.sourcesRemoved.push(s);
  }
  for (const [k, s] of after) {
    const o = before.get(k);
    if (o === undefined || !same(s, o)) diff.sourcesAdded.push(s);
  }
  for (const { path, name } of comparedPaths(spec)) {
    if (path === "sources") continue;
    const a = getPath(running, path);
    const b = getPath(next, path);
    if (same(a, b)) continue;
    const change = { path, name, before: a, after: b };
    (LIVE_PATHS.has(path) ? diff.live : diff.restart).push(change);
  }
  return diff;
}

/** True when nothing differs. */
export function isEmptyDiff(d: ConfigDiff): boolean {
  return d.sourcesAdded.length + d.sourcesRemoved.length + d.live.length + d.restart.length === 0;
}

function shortValue(v: unknown): string {
  if (v === null || v === undefined) return "(none)";
  if (Array.isArray(v)) {
    if (v.length === 0) return "(none)";
    if (v.every((x) => typeof x !== "object")) return v.join(" ");
    return `${v.length} entr${v.length === 1 ? "y" : "ies"}`;
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function itemText(x: unknown): string {
  if (x !== null && typeof x === "object" && "flags" in x && "address" in x) {
    const r = x as { match: string; address: string; mask: string | null; flags: string[] };
    const target = r.match === "default"
      ? `default ${r.address}`
      : r.match === "source"
      ? "source"
      : r.address;
    const mask = r.match === "address" && r.mask !== null ? ` mask ${r.mask}` : "";
    return `${target}${mask}${r.flags.length > 0 ? ` ${r.flags.join(" ")}` : ""}`;
  }
  return JSON.stringify(x);
}

/**
 * One line for an option change: `tos minsane 1 -> 2`; for a list of entries (restrict rules,
 * filegens), the entries added (+) and removed (-).
 */
export function describeChange(c: OptionChange): string {
  const objects = (v: unknown) => Array.isArray(v) && v.some((x) => typeof x === "object");
  if (objects(c.before) || objects(c.after)) {
    const before = ((c.before ?? []) as unknown[]).map(itemText);
    const after = ((c.after ?? []) as unknown[]).map(itemText);
    const parts = [
      ...after.filter((x) => !before.includes(x)).map((x) => `+ ${x}`),
      ...before.filter((x) => !after.includes(x)).map((x) => `- ${x}`),
    ];
    return `${c.name}: ${parts.length > 0 ? parts.join("; ") : "order changed"}`;
  }
  return `${c.name} ${shortValue(c.before)} -> ${shortValue(c.after)}`;
}

/** One line for a source: `server 192.0.2.1` (with -4/-6 when given). */
export function describeSource(s: SourceConfig): string {
  const fam = s.family === "ipv4" ? " -4" : s.family === "ipv6" ? " -6" : "";
  return `${s.kind}${fam} ${s.address}`;
}

/**
 * The configuration that runs after a reload: the running one with every live change of `next`
 * taken over (sources included), and the changes that need a restart left as they were, so
 * that the next comparison reports them again and saveconfig writes what really runs.
 */
export function takeLiveChanges(
  running: NtpConfig,
  next: NtpConfig,
  diff: ConfigDiff,
): NtpConfig {
  const out = structuredClone(running);
  for (const c of diff.live) {
    setPath(out as unknown as Record<string, unknown>, c.path, structuredClone(c.after));
  }
  out.sources = structuredClone(next.sources);
  return out;
}
