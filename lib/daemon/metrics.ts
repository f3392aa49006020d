// The daemon's state as Prometheus metrics (text exposition format 0.0.4): the system variables
// (offset, frequency, jitter, stratum, leap, root delay and dispersion), one series per source
// (reach, offset, delay, dispersion, jitter, poll, selection state), the sysstats and server
// counters and the event loop's lateness. Names follow chrony_exporter's and node_exporter's ntp
// collector's style: a `horae_` namespace, base units in the name (`_seconds`), `_total` counters,
// `_info` series carrying text as labels.

import type { AssociationSnapshot } from "../proto/association.ts";
import { DROP_REASONS } from "../proto/sys_stats.ts";
import type { DaemonStatus } from "./daemon_status.ts";
import { refidText } from "./status_file.ts";

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Upper bounds (s) of the event-loop lateness histogram's buckets. */
export const LAG_BUCKETS_SEC = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
] as const;

/** The event loop's lateness so far: a cumulative histogram. */
export interface LagHistogram {
  /** Cumulative counts per bucket of {@link LAG_BUCKETS_SEC}. */
  buckets: number[];
  count: number;
  sumSec: number;
}

/** Selection states, ntpq's tally in words (chrony_exporter's `state` label style). */
export type SourceState = "sys_peer" | "candidate" | "falseticker" | "outlier" | "unreachable";

type Labels = Record<string, string>;

/** Escapes a label value (backslash, double quote, newline). */
export function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A sample value as Prometheus writes it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Builds one exposition: families in order, each with its HELP and TYPE once. */
class Exposition {
  readonly #lines: string[] = [];
  readonly #seen = new Set<string>();

  family(name: string, type: "gauge" | "counter" | "histogram", help: string): void {
    if (this.#seen.has(name)) return;
    this.#seen.add(name);
    this.#lines.push(`# HELP ${name} ${help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
  }

  sample(name: string, value: number, labels: Labels = {}): void {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    this.#lines.push(`${name}${l === "" ? "" : `{${l}}`} ${formatValue(value)}`);
  }

  /** A family with one sample (skipped when the value is unknown). */
  one(
    name: string,
    type: "gauge" | "counter",
    help: string,
    value: number | null | undefined,
    labels: Labels = {},
  ): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    this.family(name, type, help);
    this.sample(name, value, labels);
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function stateOf(a: AssociationSnapshot, s: DaemonStatus): SourceState {
  const sys = s.system;
  if (a.id === sys?.systemPeer) return "sys_peer";
  if (sys?.survivors.includes(a.id)) return "candidate";
  if (sys?.falsetickers.includes(a.id)) return "falseticker";
  return a.reach === 0 ? "unreachable" : "outlier";
}

function popcount8(x: number): number {
  let n = 0;
  for (let v = x & 0xff; v !== 0; v &= v - 1) n++;
  return n;
}

/** What the exposition shows besides the daemon's status. */
export interface MetricsExtras {
  /** Horae's version (the `horae_build_info` series). */
  version: string;
  /** The event loop's lateness, measured by the metrics server. */
  lag?: LagHistogram;
}

/** The Prometheus text exposition of `s`. */
export function prometheusText(s: DaemonStatus, extras: MetricsExtras): string {
  const x = new Exposition();
  x.one("horae_build_info", "gauge", "Horae's version.", 1, { version: extras.version });
  const sys = s.system;
  const served = s.state;
  x.one(
    "horae_system_synchronized",
    "gauge",
    "1 when the system clock is synchronised to a source, else 0.",
    served.leap !== 3 && served.stratum < 16 ? 1 : 0,
  );
  x.one("horae_system_stratum", "gauge", "The stratum the daemon serves.", served.stratum);
  x.one(
    "horae_system_leap_indicator",
    "gauge",
    "Leap indicator served: 0 none, 1 insert, 2 delete, 3 unsynchronised.",
    served.leap,
  );
  x.one(
    "horae_system_root_delay_seconds",
    "gauge",
    "Round-trip delay to the primary reference, as served.",
    served.rootDelaySec,
  );
  x.one(
    "horae_system_root_dispersion_seconds",
    "gauge",
    "Dispersion to the primary reference, as served.",
    served.rootDispersionSec,
  );
  x.one(
    "horae_system_offset_seconds",
    "gauge",
    "True time minus the system clock now, by the daemon's estimate.",
    s.systemClockOffsetSec,
  );
  if (sys !== null) {
    x.one(
      "horae_system_last_offset_seconds",
      "gauge",
      "Offset the discipline acted on at the last clock update (ntpq's offset).",
      sys.offsetSec,
    );
    x.one(
      "horae_system_frequency_ppm",
      "gauge",
      "Frequency correction of the system clock, parts per million (positive: runs faster).",
      sys.freqPpm,
    );
    x.one(
      "horae_system_jitter_seconds",
      "gauge",
      "System jitter (ntpq's sys_jitter).",
      sys.sysJitterSec,
    );
    x.one(
      "horae_system_poll_interval_seconds",
      "gauge",
      "The system poll interval.",
      sys.pollLog2 === null ? null : 2 ** sys.pollLog2,
    );
    x.one(
      "horae_system_clock_updates_total",
      "counter",
      "Clock updates by the discipline.",
      sys.counters.clockUpdates,
    );
    x.family("horae_system_info", "gauge", "Discipline, its state and the reference id (labels).");
    x.sample("horae_system_info", 1, {
      discipline: sys.discipline,
      state: sys.state,
      refid: refidText(sys.refid, sys.stratum) ?? "",
    });
  } else if (s.driftPpm !== null) {
    x.one(
      "horae_system_frequency_ppm",
      "gauge",
      "Frequency correction of the system clock, parts per million (positive: runs faster).",
      s.driftPpm,
    );
  }

  sources(x, s);
  packets(x, s);

  if (extras.lag !== undefined) {
    const h = extras.lag;
    const name = "horae_event_loop_lag_seconds";
    x.family(name, "histogram", "How late the main thread's timers fire.");
    LAG_BUCKETS_SEC.forEach((le, i) =>
      x.sample(`${name}_bucket`, h.buckets[i] ?? 0, { le: String(le) })
    );
    x.sample(`${name}_bucket`, h.count, { le: "+Inf" });
    x.sample(`${name}_sum`, h.sumSec);
    x.sample(`${name}_count`, h.count);
  }
  return x.text();
}

function sources(x: Exposition, s: DaemonStatus): void {
  const assocs = s.system?.associations ?? [];
  if (assocs.length === 0) return;
  const labelsOf = (a: AssociationSnapshot): Labels => ({
    source: a.address.address,
    name: a.name ?? a.address.address,
  });
  const each = (
    name: string,
    type: "gauge" | "counter",
    help: string,
    value: (a: AssociationSnapshot) => number | null,
  ) => {
    const rows = assocs.map((a) => [a, value(a)] as const).filter(([, v]) =>
      v !== null && Number.isFinite(v)
    );
    if (rows.length === 0) return;
    x.family(name, type, help);
    for (const [a, v] of rows) x.sample(name, v!, labelsOf(a));
  };
  x.family(
    "horae_source_state_info",
    "gauge",
    "Selection state of each source: sys_peer, candidate, falseticker, outlier or unreachable.",
  );
  for (const a of assocs) {
    x.sample("horae_source_state_info", 1, { ...labelsOf(a), state: stateOf(a, s) });
  }
  each(
    "horae_source_reach",
    "gauge",
    "Reach register (8 bits, newest poll lowest).",
    (a) => a.reach,
  );
  each(
    "horae_source_reachability_ratio",
    "gauge",
    "Share of the last 8 polls that were answered.",
    (a) => popcount8(a.reach) / 8,
  );
  each(
    "horae_source_offset_seconds",
    "gauge",
    "Source time minus local time, from the clock filter (ntpq's offset).",
    (a) => a.offsetSec,
  );
  each(
    "horae_source_delay_seconds",
    "gauge",
    "Round-trip delay (ntpq's delay).",
    (a) => a.delaySec,
  );
  each("horae_source_dispersion_seconds", "gauge", "Filter dispersion.", (a) => a.dispersionSec);
  each("horae_source_jitter_seconds", "gauge", "Filter jitter.", (a) => a.jitterSec);
  each("horae_source_poll_interval_seconds", "gauge", "Poll interval.", (a) => a.pollSec);
  each("horae_source_stratum", "gauge", "The source's stratum.", (a) => a.server?.stratum ?? null);
  each("horae_source_requests_total", "counter", "Requests sent to the source.", (a) => a.sent);
  each(
    "horae_source_replies_total",
    "counter",
    "Valid replies from the source.",
    (a) => a.received,
  );
}

function packets(x: Exposition, s: DaemonStatus): void {
  const st = s.sysstats;
  x.one("horae_uptime_seconds", "gauge", "Seconds since the daemon started.", st.sinceRestartSec);
  x.one("horae_packets_received_total", "counter", "Datagrams received.", st.received);
  x.one(
    "horae_packets_processed_total",
    "counter",
    "Datagrams answered, used or handed to a handler.",
    st.processed,
  );
  x.family(
    "horae_packets_version_total",
    "counter",
    "Packets by NTP version: current (4) or old (1-3).",
  );
  x.sample("horae_packets_version_total", st.currentVersion, { version: "current" });
  x.sample("horae_packets_version_total", st.oldVersion, { version: "old" });
  x.family(
    "horae_packets_dropped_total",
    "counter",
    "Datagrams dropped, by reason (sysstats groups them as bad format, access denied, ...).",
  );
  for (const r of DROP_REASONS) {
    x.sample("horae_packets_dropped_total", st.drops[r] ?? 0, { reason: r });
  }
  x.one("horae_kod_sent_total", "counter", "Kiss-o'-death packets sent.", st.kissesSent);
  x.one("horae_server_replies_total", "counter", "Server replies sent.", s.server.replied);
  x.one("horae_server_crypto_nak_total", "counter", "Crypto-NAK replies sent.", s.server.cryptoNak);
  x.one("horae_mru_entries", "gauge", "Addresses in the MRU (monitor) list.", s.mru.entries);
}
