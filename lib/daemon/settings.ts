// Turns the configuration model and the command line into the daemon's settings.

import type { NtpConfig } from "../config/config_model.ts";
import type { SocketAddress } from "../net/transport.ts";
import type { DaemonSettings, RefclockSetting } from "./daemon.ts";

/** The standard NTP port. */
export const NTP_PORT = 123;

/** Command-line choices that shape the settings. */
export interface SettingsOverrides {
  /** UDP port to answer on (default 123). */
  port?: number;
  /** Addresses to bind (default: both wildcards). */
  listen?: string[];
  /** Why the clock must not be steered (observe mode, missing CAP_SYS_TIME), if so. */
  noSteerReason?: string | null;
  /** Only IPv4 (-4) or only IPv6 (-6). */
  family?: "ipv4" | "ipv6" | "any";
  /** Drift file from the command line (-f), overriding the configuration. */
  driftFile?: string | null;
}

/** Parses "1.2.3.4", "::1" or "[::1]" into an address with `port`. */
export function listenAddress(text: string, port: number): SocketAddress {
  const bare = text.replace(/^\[(.*)\]$/, "$1");
  return { family: bare.includes(":") ? 6 : 4, address: bare, port };
}

/** Builds the daemon settings from a loaded configuration. */
export function settingsFromConfig(config: NtpConfig, o: SettingsOverrides = {}): DaemonSettings {
  const port = o.port ?? NTP_PORT;
  const family = o.family ?? "any";
  let listen = (o.listen ?? []).map((a) => listenAddress(a, port));
  if (listen.length === 0) {
    listen = [listenAddress("0.0.0.0", port), listenAddress("::", port)];
  }
  listen = listen.filter((a) => family === "any" || (family === "ipv4") === (a.family === 4));
  const refclocks: RefclockSetting[] = config.refclocks.map((r) => ({
    type: r.type,
    unit: r.unit,
    fudge: {
      ...(r.fudge.time1Sec !== null ? { time1Sec: r.fudge.time1Sec } : {}),
      ...(r.fudge.time2Sec !== null ? { time2Sec: r.fudge.time2Sec } : {}),
      ...(r.fudge.stratum !== null ? { stratum: r.fudge.stratum } : {}),
      ...(r.fudge.refid !== null ? { refid: r.fudge.refid } : {}),
    },
  }));
  return {
    listen,
    refclocks,
    driftFile: o.driftFile !== undefined ? o.driftFile : config.files.driftFile,
    noSteerReason: o.noSteerReason ?? null,
    refclockPollSec: 64,
  };
}
