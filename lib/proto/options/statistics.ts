// Statistics files: statsdir, statistics and filegen (ntp.conf(5) Monitoring Support; TOML
// [stats] and [[stats.filegen]]).

import { parseIp } from "../ip.ts";
import { option, type RuleIssue, section } from "./option_spec.ts";

/** The statistics files (filegens) ntpd knows, sorted. */
export const STAT_NAMES = [
  "clockstats",
  "cryptostats",
  "loopstats",
  "peerstats",
  "protostats",
  "rawstats",
  "sysstats",
  "timingstats",
] as const;

/** How a file generation set rolls over. */
export const FILEGEN_TYPES = ["none", "pid", "day", "week", "month", "year", "age"] as const;

/** Port of the metrics endpoint when an address is given without one. */
export const DEFAULT_METRICS_PORT = 9975;

/** Where the metrics endpoint listens. */
export interface MetricsAddress {
  /** A numeric IPv4 or IPv6 address. */
  hostname: string;
  port: number;
}

/**
 * Reads a metrics listen address: "127.0.0.1:9975", "[::1]:9975", a bare address (port 9975),
 * a bare port or ":port" (loopback, 127.0.0.1), or "localhost[:port]". Only numeric addresses
 * otherwise: the endpoint binds exactly what it is given.
 */
export function parseMetricsAddress(
  text: string,
): { ok: true; address: MetricsAddress } | { ok: false; reason: string } {
  const t = text.trim();
  let host: string;
  let portText: string | null = null;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket !== null) {
    host = bracket[1]!;
    portText = bracket[2] ?? null;
  } else if (/^:?\d+$/.test(t)) {
    host = "127.0.0.1";
    portText = t.replace(":", "");
  } else if ((t.match(/:/g) ?? []).length === 1) {
    [host, portText] = t.split(":") as [string, string];
    if (host === "") host = "127.0.0.1";
  } else {
    host = t; // an IPv6 address without a port, or an IPv4 one
  }
  if (host === "localhost") host = "127.0.0.1";
  const ip = parseIp(host);
  if (!ip.ok) return { ok: false, reason: `"${text}" is not an address:port (${ip.reason})` };
  const port = portText === null ? DEFAULT_METRICS_PORT : Number(portText);
  if (!/^\d*$/.test(portText ?? "") || !Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, reason: `"${text}": the port must be 1-65535` };
  }
  return { ok: true, address: { hostname: host, port } };
}

/** Drops metrics addresses that cannot be read, with a warning each. */
function checkMetricsAddresses(values: Record<string, unknown>): RuleIssue[] {
  const list = values.metrics;
  if (!Array.isArray(list)) return [];
  const issues: RuleIssue[] = [];
  values.metrics = list.filter((v) => {
    const r = parseMetricsAddress(String(v));
    if (!r.ok) issues.push({ field: "metrics", message: `metrics: ${r.reason}; ignored` });
    return r.ok;
  });
  return issues;
}

/** The statistics settings (model `stats`). */
export const STATS_OPTIONS = [
  option({
    field: "statsDir",
    ntpConf: "statsdir",
    toml: "statsdir",
    type: "path",
    default: null,
    doc: "Directory of the statistics files (default: the working directory).",
    applied: true,
  }),
  option({
    field: "enabled",
    ntpConf: "statistics",
    toml: "statistics",
    type: "enum-list",
    values: STAT_NAMES,
    default: [],
    doc: "Statistics files to write (filegen ... enable/disable changes the list; " +
      "timingstats is accepted and never written).",
    applied: true,
  }),
  option({
    field: "metrics",
    ntpConf: "metrics",
    toml: "metrics",
    type: "string-list",
    default: [],
    doc: "Serve Prometheus metrics (/metrics) and a JSON status (/status) on these " +
      "address:port pairs (a bare port: 127.0.0.1); none: off.",
    applied: true,
    origin: "horae",
  }),
] as const;

/** Statistics. */
export const STATS_SECTION = section({
  id: "stats",
  title: "Statistics",
  doc: "Files of measurements, one line per event, in ntpd's formats.",
  group: "stats",
  model: "stats",
  toml: "stats",
  array: false,
  parts: [{ at: "", options: STATS_OPTIONS }],
  commands: [
    {
      keyword: "statsdir",
      syntax: "directory",
      doc: "Write statistics files here.",
      form: "value",
      applied: true,
    },
    {
      keyword: "statistics",
      syntax: "name ...",
      doc: "Write these statistics files.",
      form: "list",
      applied: true,
    },
    {
      keyword: "metrics",
      syntax: "address:port ...",
      doc: "Serve Prometheus metrics and a JSON status over HTTP on these addresses.",
      form: "list",
      applied: true,
      origin: "horae",
    },
  ],
  rules: [{
    doc: "Each metrics address is address:port, [v6]:port, a bare address or a bare port.",
    check: checkMetricsAddresses,
  }],
});

/** The values of a filegen line (model `stats.filegens[i]`). */
export const FILEGEN_OPTIONS = [
  option({
    field: "name",
    ntpConf: null,
    toml: "name",
    type: "enum",
    values: STAT_NAMES,
    default: "loopstats",
    required: true,
    always: true,
    doc: "Which statistics file.",
    applied: true,
  }),
  option({
    field: "file",
    ntpConf: "file",
    toml: "file",
    type: "string",
    default: "",
    doc: "File name prefix, relative to statsdir (default: the statistics name).",
    applied: true,
  }),
  option({
    field: "type",
    ntpConf: "type",
    toml: "type",
    type: "enum",
    values: FILEGEN_TYPES,
    default: "day",
    always: true,
    doc: "How files roll over: none, pid, day, week, month, year or age.",
    applied: true,
  }),
  option({
    field: "link",
    ntpConf: "link",
    toml: "link",
    type: "bool",
    default: true,
    always: true,
    doc: "Keep a link from the plain name to the current file (link / nolink).",
    applied: true,
  }),
] as const;

/** File generation sets. */
export const FILEGEN_SECTION = section({
  id: "filegen",
  title: "File generation sets",
  doc: "How each statistics file is named and rolled over.",
  group: "stats",
  model: "stats.filegens",
  toml: "stats.filegen",
  array: true,
  parts: [{ at: "", options: FILEGEN_OPTIONS }],
  commands: [{
    keyword: "filegen",
    syntax: "name [file f] [type t] [link|nolink] [enable|disable]",
    doc: "Configure one statistics file.",
    form: "custom",
    applied: true,
  }],
});
