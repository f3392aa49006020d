// The configuration model: one typed, plain-data description of a Horae/ntpd configuration,
// produced by both readers (ntp.conf and TOML) and consumed by the daemon. Its types and
// defaults derive from the option spec in lib/proto/options (ntp.conf(5), ntpd 4.2.x).

import type { OptionValue, ValuesOf } from "../proto/options/option_spec.ts";
import { type ConfigSpec, copyDefault, type SectionSpec } from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import {
  ADDRESS_FAMILIES,
  SOURCE_KINDS,
  SOURCE_OPTIONS,
  SOURCE_SECTION,
} from "../proto/options/sources.ts";
import { FUDGE_OPTIONS, REFCLOCK_OPTIONS, REFCLOCK_SECTION } from "../proto/options/refclock.ts";
import { BROADCAST_OPTIONS, DEFAULT_MULTICAST_GROUP } from "../proto/options/broadcast.ts";
import {
  DISCARD_OPTIONS,
  INTERFACE_ACTIONS,
  INTERFACE_CLASSES,
  INTERFACE_OPTIONS,
  MRU_OPTIONS,
  RESTRICT_FLAGS,
  type RestrictFlag,
} from "../proto/options/access.ts";
import { AUTH_OPTIONS, CRYPTO_OPTIONS } from "../proto/options/keys.ts";
import {
  FILEGEN_OPTIONS,
  FILEGEN_SECTION,
  FILEGEN_TYPES,
  STAT_NAMES,
  STATS_OPTIONS,
} from "../proto/options/statistics.ts";
import { MODEM_OPTIONS, SETVAR_OPTIONS, TRAP_OPTIONS } from "../proto/options/control.ts";
import { TOS_OPTIONS } from "../proto/options/tos.ts";
import { TINKER_OPTIONS } from "../proto/options/tinker.ts";
import { DISCIPLINES } from "../proto/options/horae.ts";
import { SYSTEM_FLAG_OPTIONS, SYSTEM_FLAGS } from "../proto/options/system_flags.ts";
import { RLIMIT_OPTIONS } from "../proto/options/rlimit.ts";
import { NTS_OPTIONS } from "../proto/options/nts.ts";
import { FILE_OPTIONS, LOG_OPTIONS } from "../proto/options/daemon.ts";
import {
  NTP_MAXDPOLL,
  NTP_MAXPOLL,
  NTP_MINDPOLL,
  NTP_MINPOLL,
  NTP_VERSION,
} from "../proto/constants.ts";
import { joinPath, objectAt, setPath } from "./model_path.ts";

export {
  ADDRESS_FAMILIES,
  DEFAULT_MULTICAST_GROUP,
  DISCIPLINES,
  FILEGEN_TYPES,
  INTERFACE_ACTIONS,
  INTERFACE_CLASSES,
  RESTRICT_FLAGS,
  type RestrictFlag,
  SOURCE_KINDS,
  STAT_NAMES,
  SYSTEM_FLAGS,
};

/** Which address family a command is restricted to: the `-4` / `-6` qualifiers. */
export type AddressFamily = (typeof ADDRESS_FAMILIES)[number];
/** The association-creating commands of ntp.conf (refclocks are kept apart). */
export type SourceKind = (typeof SOURCE_KINDS)[number];
/** Names of the statistics files (filegens) ntpd knows. */
export type StatName = (typeof STAT_NAMES)[number];
/** How a statistics file generation set rolls over. */
export type FilegenType = (typeof FILEGEN_TYPES)[number];
/** Action of an `interface` / `nic` rule. */
export type InterfaceAction = (typeof INTERFACE_ACTIONS)[number];
/** The clock disciplines Horae can run. */
export type DisciplineChoice = (typeof DISCIPLINES)[number];
/** Names of the `enable` / `disable` flags. */
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];

/** A network time source: one `server`, `peer`, `pool`, `broadcast` or `manycastclient` line. */
export type SourceConfig = ValuesOf<typeof SOURCE_OPTIONS>;
/** Fudge settings of a reference clock: every field is null when not set (driver default). */
export type FudgeConfig = ValuesOf<typeof FUDGE_OPTIONS>;
/** A reference clock: a `server 127.127.t.u` line plus its `fudge` line. */
export type RefclockConfig = ValuesOf<typeof REFCLOCK_OPTIONS> & {
  /** The pseudo-address `127.127.t.u`. */
  address: string;
  fudge: FudgeConfig;
};
/** `discard`: rate-limit parameters for `restrict limited` / `kod`. */
export type DiscardConfig = ValuesOf<typeof DISCARD_OPTIONS>;
/** One `interface`/`nic` rule: which addresses to listen on. */
export type InterfaceRule = ValuesOf<typeof INTERFACE_OPTIONS>;
/** Autokey `crypto` options; `enabled` is true when a `crypto` line was present. */
export type CryptoConfig = ValuesOf<typeof CRYPTO_OPTIONS> & { enabled: boolean };
/** Authentication settings (ntp_auth). */
export type AuthConfig = ValuesOf<typeof AUTH_OPTIONS> & { crypto: CryptoConfig };
/** One `filegen` line (enable/disable goes to `StatsConfig.enabled`). */
export type FilegenConfig = ValuesOf<typeof FILEGEN_OPTIONS>;
/** Statistics files (ntp_mon). */
export type StatsConfig = ValuesOf<typeof STATS_OPTIONS> & {
  /** Explicit `filegen` settings, one per name, in order of first appearance. */
  filegens: FilegenConfig[];
};
/** `tos`: selection and orphan-mode parameters. */
export type TosConfig = ValuesOf<typeof TOS_OPTIONS>;
/** `tinker`: clock-discipline constants, and Horae's discipline choice (null: horae). */
export type TinkerConfig = ValuesOf<typeof TINKER_OPTIONS>;
/** Final state of each `enable`/`disable` flag. */
export type SystemFlags = ValuesOf<typeof SYSTEM_FLAG_OPTIONS>;
/** Broadcast, multicast and manycast receive settings. */
export type BroadcastConfig = ValuesOf<typeof BROADCAST_OPTIONS>;
/** One `trap` line: where to send mode 6 traps. */
export type TrapConfig = ValuesOf<typeof TRAP_OPTIONS>;
/** One `setvar` line: a system variable shown through mode 6. */
export type SetvarConfig = ValuesOf<typeof SETVAR_OPTIONS>;
/** `mru`: monitor list sizing (all null when not given). */
export type MruConfig = ValuesOf<typeof MRU_OPTIONS>;
/** `rlimit`: process resource limits (all null when not given). */
export type RlimitConfig = ValuesOf<typeof RLIMIT_OPTIONS>;
/** `nts`: Network Time Security (NTS-KE server and client settings). */
export type NtsConfig = ValuesOf<typeof NTS_OPTIONS>;
/** Files the daemon reads or writes. */
export type FilesConfig = ValuesOf<typeof FILE_OPTIONS>;

/**
 * One `restrict` rule. `restrict default` without `-4`/`-6` becomes two rules (IPv4 0.0.0.0/0
 * and IPv6 ::/0), so every default rule has a concrete family.
 */
export interface RestrictRule {
  /** "default": every address of `family`; "source": template for sources' addresses; "address". */
  match: "default" | "source" | "address";
  /** "0.0.0.0" or "::" for default rules, "" for source rules, else the address or hostname. */
  address: string;
  /**
   * Mask as an address of the same family: "0.0.0.0"/"::" for default rules, the given mask, or
   * the all-ones host mask for a literal (255.255.255.255 by default). Null for a hostname given
   * without a mask (a host match in whichever family it resolves to) and for source rules.
   */
  mask: string | null;
  family: AddressFamily;
  /** Sorted, without duplicates. Empty means "no restriction" for this range. */
  flags: RestrictFlag[];
}

/** The whole configuration. */
export interface NtpConfig {
  files: FilesConfig;
  /** `logconfig` tokens as written (e.g. "=syncall", "+clockall"). */
  logConfig: OptionValue<(typeof LOG_OPTIONS)[0]>;
  /** Network sources in file order. */
  sources: SourceConfig[];
  /** Reference clocks in file order. */
  refclocks: RefclockConfig[];
  broadcast: BroadcastConfig;
  /** Restrict rules in file order (the most specific match wins, not the first). */
  restrict: RestrictRule[];
  discard: DiscardConfig;
  /** Interface rules in file order. */
  interfaces: InterfaceRule[];
  auth: AuthConfig;
  nts: NtsConfig;
  stats: StatsConfig;
  traps: TrapConfig[];
  setvar: SetvarConfig[];
  tos: TosConfig;
  tinker: TinkerConfig;
  system: SystemFlags;
  /** `calldelay` (modem drivers), seconds, null when not given. */
  callDelaySec: OptionValue<(typeof MODEM_OPTIONS)[1]>;
  /** `phone` numbers for modem drivers. */
  phone: OptionValue<(typeof MODEM_OPTIONS)[0]>;
  mru: MruConfig;
  rlimit: RlimitConfig;
}

/** Default NTP version sent by sources. */
export const DEFAULT_VERSION = NTP_VERSION;
/** Default minimum poll, log2 s (ntpd NTP_MINDPOLL). */
export const DEFAULT_MINPOLL_LOG2 = NTP_MINDPOLL;
/** Default maximum poll, log2 s (ntpd NTP_MAXDPOLL). */
export const DEFAULT_MAXPOLL_LOG2 = NTP_MAXDPOLL;
/** Lowest accepted poll, log2 s. */
export const MIN_POLL_LOG2 = NTP_MINPOLL;
/** Highest accepted poll, log2 s. */
export const MAX_POLL_LOG2 = NTP_MAXPOLL;

/**
 * A new element of an array section (a source, a refclock, a filegen...): every option at its
 * default, nested parts (a refclock's `fudge`) included.
 */
export function newElement(s: SectionSpec): Record<string, unknown> {
  const el: Record<string, unknown> = {};
  for (const part of s.parts) {
    const obj = objectAt(el, part.at);
    for (const o of part.options) obj[o.field] = copyDefault(o);
  }
  return el;
}

/** A source with every option at its default. */
export function defaultSource(kind: SourceKind, address: string): SourceConfig {
  return { ...(newElement(SOURCE_SECTION) as SourceConfig), kind, address };
}

/** Fudge settings with nothing set. */
export function emptyFudge(): FudgeConfig {
  return newElement(REFCLOCK_SECTION).fudge as FudgeConfig;
}

/** A reference clock of driver `type`, unit `unit`, with default options. */
export function defaultRefclock(type: number, unit: number): RefclockConfig {
  const r = newElement(REFCLOCK_SECTION) as RefclockConfig;
  r.type = type;
  r.unit = unit;
  r.address = `127.127.${type}.${unit}`;
  return r;
}

/** Default filegen settings for statistics `name` (the file is named after it). */
export function defaultFilegen(name: StatName): FilegenConfig {
  return { ...(newElement(FILEGEN_SECTION) as FilegenConfig), name, file: name };
}

/**
 * An empty configuration of `spec`: no sources, no restrictions, every setting at its default.
 * This is what an empty ntp.conf or an empty TOML file loads to.
 */
export function emptyConfig(spec: ConfigSpec = CONFIG_SPEC): NtpConfig {
  const root: Record<string, unknown> = {};
  for (const s of spec.sections) {
    if (s.array) {
      setPath(root, s.model, []);
      continue;
    }
    for (const part of s.parts) {
      const obj = objectAt(root, joinPath(s.model, part.at));
      for (const o of part.options) obj[o.field] = copyDefault(o);
    }
  }
  // The one value no option holds: whether a `crypto` line turned Autokey on.
  objectAt(root, "auth.crypto").enabled = false;
  return root as unknown as NtpConfig;
}

/** ntpd's `tos` defaults. */
export function defaultTos(): TosConfig {
  return emptyConfig().tos;
}

/** ntpd's `tinker` defaults (no discipline chosen: Horae's). */
export function defaultTinker(): TinkerConfig {
  return emptyConfig().tinker;
}

/** ntpd's defaults for `enable`/`disable` flags (COMPAT: `stats` on, as ntpd in practice). */
export function defaultSystemFlags(): SystemFlags {
  return emptyConfig().system;
}

/** `discard` defaults. */
export function defaultDiscard(): DiscardConfig {
  return emptyConfig().discard;
}

/** A crypto section with nothing set (Autokey off). */
export function defaultCrypto(): CryptoConfig {
  return emptyConfig().auth.crypto;
}
