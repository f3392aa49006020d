// Turns the configuration model and the command line into the daemon's settings: listen
// addresses, refclocks, network sources, tos/tinker/enable flags and -g/-q/-x for the core.

import type { NtpConfig } from "../config/config_model.ts";
import type { SymmetricKey } from "../proto/auth/key_store.ts";
import type { SocketAddress } from "../net/transport.ts";
import { NTP_PORT } from "../proto/constants.ts";
import type { DaemonSettings, RefclockSetting } from "./daemon.ts";
import { familyAllows, type ResolveFamily } from "./resolver.ts";
import type { SourceSetting } from "./source_manager.ts";
import { type NtsSettings, tlsVersionName } from "./daemon_nts.ts";
import { NTS_KE_PORT } from "../proto/options/nts.ts";
import { statsSettingsFromConfig } from "./stats_host.ts";
import type { BroadcastSettings } from "./multicast_host.ts";
import { isGroupAddress, parseIp } from "../proto/ip.ts";

/** Command-line choices that shape the settings. */
export interface SettingsOverrides {
  /** UDP port to answer on (default 123). */
  port?: number;
  /** --listen: exactly these addresses (default: the interface rules decide). */
  listen?: string[];
  /** -I: interface names or addresses to serve (the configuration's interface rules then unused). */
  interfaceOptions?: string[];
  /** -L: do not serve virtual (alias) interfaces. */
  noVirtual?: boolean;
  /** Why the clock must not be steered (observe mode, missing CAP_SYS_TIME), if so. */
  noSteerReason?: string | null;
  /** Only IPv4 (-4) or only IPv6 (-6). */
  family?: ResolveFamily;
  /** Drift file from the command line (-f), overriding the configuration. */
  driftFile?: string | null;
  /** -g: allow a first correction beyond the panic threshold. */
  panicGate?: boolean;
  /** -x: slew only (offsets up to 600 s). */
  slew?: boolean;
  /** -q: set the time once and exit. */
  quit?: boolean;
  /** --status-file. */
  statusFile?: string | null;
  /** UDP port of the configured servers (123; tests may change it). */
  serverPort?: number;
  /** --source-check: seconds between source checks (pool refill, re-resolution). */
  sourceCheckSec?: number;
  /** --unreach-polls: unanswered polls before a source counts as unreachable. */
  unreachPolls?: number;
  /** The keys read from the keys file (`keys` / -k; default none). */
  keys?: SymmetricKey[];
}

/** Parses "1.2.3.4", "::1" or "[::1]" into an address with `port`. */
export function listenAddress(text: string, port: number): SocketAddress {
  const bare = text.replace(/^\[(.*)\]$/, "$1");
  return { family: bare.includes(":") ? 6 : 4, address: bare, port };
}

/** The association options a server, pool, peer or manycastclient line gives. */
function lineOptions(
  s: NtpConfig["sources"][number],
  maxDistanceSec: number,
): SourceSetting["options"] {
  return {
    minpoll: s.minpollLog2,
    maxpoll: s.maxpollLog2,
    iburst: s.iburst,
    burst: s.burst,
    prefer: s.prefer,
    noselect: s.noselect,
    version: s.version,
    maxDistanceSec,
    ...(s.key !== null ? { key: s.key } : {}),
  };
}

/** Builds the daemon settings from a loaded configuration. */
export function settingsFromConfig(config: NtpConfig, o: SettingsOverrides = {}): DaemonSettings {
  const port = o.port ?? NTP_PORT;
  const family = o.family ?? "any";
  const listen = (o.listen ?? []).map((a) => listenAddress(a, port))
    .filter((a) => familyAllows(family, a.family));
  const refclocks: RefclockSetting[] = config.refclocks.map((r) => ({
    type: r.type,
    unit: r.unit,
    mode: r.mode,
    prefer: r.prefer,
    noselect: r.noselect,
    minpoll: r.minpollLog2,
    maxpoll: r.maxpollLog2,
    ...(r.path !== null ? { path: r.path } : {}),
    ...(r.ppspath !== null ? { ppsPath: r.ppspath } : {}),
    kernelPps: config.system.pps,
    fudge: {
      ...(r.fudge.time1Sec !== null ? { time1Sec: r.fudge.time1Sec } : {}),
      ...(r.fudge.time2Sec !== null ? { time2Sec: r.fudge.time2Sec } : {}),
      ...(r.fudge.stratum !== null ? { stratum: r.fudge.stratum } : {}),
      ...(r.fudge.refid !== null ? { refid: r.fudge.refid } : {}),
      ...([r.fudge.flag1, r.fudge.flag2, r.fudge.flag3, r.fudge.flag4].some((f) => f !== null)
        ? {
          flags: [
            r.fudge.flag1 ?? false,
            r.fudge.flag2 ?? false,
            r.fudge.flag3 ?? false,
            r.fudge.flag4 ?? false,
          ] as [boolean, boolean, boolean, boolean],
        }
        : {}),
    },
  }));
  // What the daemon does not apply (broadcast and manycast lines, keys, a peer's symmetric
  // mode...) is reported by the configuration readers from the option spec, with file and line,
  // before the daemon starts; here those lines are simply left out.
  const sources: SourceSetting[] = [];
  const tos = config.tos;
  const broadcast = broadcastSettings(config);
  for (const s of config.sources) {
    if (s.kind === "broadcast" || s.kind === "manycastclient") continue;
    sources.push({
      // `peer`: a symmetric active association (mode 1).
      kind: s.kind,
      address: s.address,
      family: s.family,
      port: o.serverPort ?? NTP_PORT,
      options: lineOptions(s, tos.maxdistSec),
      ...(s.nts ? { nts: { kePort: s.ntsPort ?? NTS_KE_PORT } } : {}),
    });
  }
  const t = config.tinker;
  const mru = config.mru;
  return {
    listen,
    interfaces: {
      port,
      family,
      rules: config.interfaces.map((r) => ({ action: r.action, match: r.match })),
      interfaceOptions: [...(o.interfaceOptions ?? [])],
      noVirtual: o.noVirtual ?? false,
    },
    access: {
      restrict: config.restrict.map((r) => ({
        match: r.match,
        address: r.address,
        mask: r.mask,
        family: r.family,
        flags: [...r.flags],
      })),
      discard: {
        averageLog2: config.discard.averageLog2,
        minimumSec: config.discard.minimumSec,
        monitorSec: config.discard.monitor,
      },
      // COMPAT: ntpd lets the later of maxdepth and maxmem win; the model keeps both, and the
      // entry count (maxdepth) wins here when both are given.
      mru: {
        ...(mru.maxdepth !== null ? { maxDepth: mru.maxdepth } : {}),
        ...(mru.maxmem !== null ? { maxMemBytes: mru.maxmem * 1024 } : {}),
        ...(mru.maxage !== null ? { maxAgeSec: mru.maxage } : {}),
      },
      monitor: config.system.monitor,
    },
    refclocks,
    driftFile: o.driftFile !== undefined ? o.driftFile : config.files.driftFile,
    noSteerReason: o.noSteerReason ?? null,
    refclockPollSec: 64,
    sources,
    ...(broadcast !== null ? { broadcast } : {}),
    timekeeping: {
      tos: {
        minclock: tos.minclock,
        minsane: tos.minsane,
        floor: tos.floor,
        ceiling: tos.ceiling,
        cohort: tos.cohort !== 0,
        orphan: tos.orphan,
        orphanwait: tos.orphanwaitSec,
        maxdist: tos.maxdistSec,
      },
      loop: {
        tinker: {
          step: t.stepSec,
          stepout: t.stepoutSec,
          panic: t.panicSec,
          freq: t.freqPpm,
          dispersion: t.dispersionPpm / 1e6,
          allan: t.allanSec,
          huffpuff: t.huffpuffSec ?? 0,
        },
        allowBigFirstStep: o.panicGate ?? false,
        slewOnly: o.slew ?? false,
        setOnce: o.quit ?? false,
        ntpEnabled: config.system.ntp,
        kernel: config.system.kernel,
        ...(t.discipline !== null ? { discipline: t.discipline } : {}),
      },
      maxclock: tos.maxclock,
      family,
      ...(o.sourceCheckSec !== undefined ? { maintenanceSec: o.sourceCheckSec } : {}),
      ...(o.unreachPolls !== undefined ? { unreachPolls: o.unreachPolls } : {}),
    },
    mode7: config.system.mode7,
    control: {
      controlKey: config.auth.controlKey,
      traps: config.traps.map((t) => ({
        address: t.address,
        port: t.port,
        interface: t.interface,
      })),
      setvar: config.setvar.map((v) => ({ name: v.name, value: v.value, isDefault: v.isDefault })),
      keysFile: config.auth.keysFile,
      trustedKeys: [...config.auth.trustedKeys],
    },
    auth: {
      keysFile: config.auth.keysFile,
      keys: o.keys ?? [],
      trustedKeys: [...config.auth.trustedKeys],
      controlKey: config.auth.controlKey,
      requestKey: config.auth.requestKey,
      required: config.system.auth,
    },
    statusFile: o.statusFile ?? null,
    stats: statsSettingsFromConfig(config),
    logConfig: [...config.logConfig],
    leapFile: config.files.leapFile,
    nts: ntsSettings(config),
  };
}

/** The `nts` settings, or null when neither the server nor any source uses NTS. */
function ntsSettings(config: NtpConfig): NtsSettings | null {
  const n = config.nts;
  if (!n.enabled && !config.sources.some((s) => s.nts)) return null;
  return {
    enabled: n.enabled,
    certFile: n.certFile,
    keyFile: n.keyFile,
    cookieFile: n.cookieFile,
    caFile: n.caFile,
    port: n.port,
    minTls: tlsVersionName(n.minTls),
    maxTls: tlsVersionName(n.maxTls),
  };
}

/**
 * The broadcast, multicast and manycast settings, or null when none is configured. A
 * `broadcast` or `manycastclient` line needs an address literal (a group, or an IPv4 broadcast
 * address): anything else is left out (validateConfig warns with file and line).
 */
export function broadcastSettings(config: NtpConfig): BroadcastSettings | null {
  const b = config.broadcast;
  const out: BroadcastSettings = {
    servers: [],
    client: b.client,
    novolley: b.novolley,
    delaySec: b.delaySec,
    multicastGroups: [...b.multicastClient],
    manycastServerGroups: [...b.manycastServer],
    manycastClients: [],
    ttlList: [...b.ttl],
  };
  for (const s of config.sources) {
    if (s.kind !== "broadcast" && s.kind !== "manycastclient") continue;
    // A name, or a manycastclient address that is no group: validateConfig warned with file
    // and line; the line is left out.
    if (!parseIp(s.address).ok) continue;
    if (s.kind === "broadcast") {
      out.servers.push({
        address: s.address,
        ttl: s.ttl,
        key: s.key,
        minpoll: s.minpollLog2,
        version: s.version,
      });
    } else if (isGroupAddress(s.address)) {
      out.manycastClients.push({
        address: s.address,
        ttl: s.ttl,
        options: lineOptions(s, config.tos.maxdistSec),
      });
    }
  }
  const any = out.servers.length > 0 || out.client || out.multicastGroups.length > 0 ||
    out.manycastServerGroups.length > 0 || out.manycastClients.length > 0;
  return any ? out : null;
}
