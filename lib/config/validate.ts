// Semantic checks on a configuration model, shared by the ntp.conf and TOML readers: value
// ranges and cross-field rules that ntp.conf(5) and its companion pages state.

import {
  type AddressFamily,
  INTERFACE_CLASSES,
  MAX_POLL_LOG2,
  MIN_POLL_LOG2,
  type NtpConfig,
  RESTRICT_FLAGS,
  STAT_NAMES,
} from "./config_model.ts";
import { classifyAddress } from "./address.ts";
import { ipFamilyOf } from "../proto/ip.ts";
import type { Severity } from "./diagnostics.ts";

/** One problem in a model, located by its model path (e.g. "sources.2.minpollLog2"). */
export interface ValidationIssue {
  severity: Severity;
  /** Dotted model path of the offending value. */
  path: string;
  message: string;
  code: string;
}

/** Lowest valid symmetric key id. */
export const MIN_KEY_ID = 1;
/** Highest valid symmetric key id. */
export const MAX_KEY_ID = 65534;
/** Most values the `ttl` command takes. */
export const MAX_TTL_VALUES = 8;

const LOG_CLASS = /^[=+-]?(all|(clock|peer|sys|sync|all)(all|info|events|statistics|status))$/;

/** True when `token` is a valid `logconfig` token such as "=syncall" or "+clockevents". */
export function isLogConfigToken(token: string): boolean {
  return LOG_CLASS.test(token);
}

/** Checks a filegen/statistics file name prefix: relative, and no `..` component. */
export function checkStatsFileName(name: string): string | null {
  if (name.length === 0) return "a statistics file name cannot be empty";
  if (name.startsWith("/")) return `statistics file "${name}" must be relative to statsdir`;
  if (name.split("/").includes("..")) {
    return `statistics file "${name}" must not contain ".." (it must stay inside statsdir)`;
  }
  return null;
}

/** Describes an address for the family it is allowed in; null when it fits. */
function checkAddress(address: string, family: AddressFamily, what: string): string | null {
  const c = classifyAddress(address);
  if (c.kind === "invalid") return `${what}: ${c.reason}`;
  if (c.kind === "refclock") return null;
  if (family === "ipv4" && c.kind === "ipv6") {
    return `${what}: "${address}" is an IPv6 address but -4 was given`;
  }
  if (family === "ipv6" && c.kind === "ipv4") {
    return `${what}: "${address}" is an IPv4 address but -6 was given`;
  }
  return null;
}

/** Validates a whole model and returns every problem found (empty when the model is valid). */
export function validateConfig(config: NtpConfig): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const err = (path: string, message: string, code = "range"): void => {
    issues.push({ severity: "error", path, message, code });
  };
  const intIn = (path: string, name: string, v: number, lo: number, hi: number): boolean => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      err(path, `${name} ${v} is out of range ${lo}–${hi}`);
      return false;
    }
    return true;
  };
  const numIn = (path: string, name: string, v: number, lo: number, hi: number): boolean => {
    if (!Number.isFinite(v) || v < lo || v > hi) {
      err(path, `${name} ${v} is out of range ${lo}–${hi}`);
      return false;
    }
    return true;
  };
  const keyId = (path: string, name: string, v: number | null): void => {
    if (v !== null && (!Number.isInteger(v) || v < MIN_KEY_ID || v > MAX_KEY_ID)) {
      err(path, `${name} ${v} is not a valid key id (${MIN_KEY_ID}–${MAX_KEY_ID})`, "key");
    }
  };
  const polls = (
    base: string,
    minpoll: number,
    maxpoll: number,
  ): void => {
    const a = intIn(`${base}.minpollLog2`, "minpoll", minpoll, MIN_POLL_LOG2, MAX_POLL_LOG2);
    const b = intIn(`${base}.maxpollLog2`, "maxpoll", maxpoll, MIN_POLL_LOG2, MAX_POLL_LOG2);
    if (a && b && minpoll > maxpoll) {
      err(`${base}.minpollLog2`, `minpoll ${minpoll} is greater than maxpoll ${maxpoll}`);
    }
  };

  config.sources.forEach((s, i) => {
    const base = `sources.${i}`;
    if (s.address === "") {
      err(base, `"${s.kind}" needs an address`, "syntax");
    } else {
      const c = classifyAddress(s.address);
      if (c.kind === "refclock") {
        err(`${base}.address`, `reference clock ${s.address} is only valid with "server"`);
      } else {
        const problem = checkAddress(s.address, s.family, s.kind);
        if (problem) err(`${base}.address`, problem, "address");
      }
    }
    keyId(`${base}.key`, "key", s.key);
    intIn(`${base}.version`, "version", s.version, 1, 4);
    polls(base, s.minpollLog2, s.maxpollLog2);
    if (s.ttl !== null) intIn(`${base}.ttl`, "ttl", s.ttl, 0, 255);
    if (s.mode !== null) intIn(`${base}.mode`, "mode", s.mode, 0, 0xffffffff);
  });

  const seenClocks = new Map<string, number>();
  config.refclocks.forEach((r, i) => {
    const base = `refclocks.${i}`;
    const c = classifyAddress(`127.127.${r.type}.${r.unit}`);
    if (c.kind !== "refclock") {
      err(base, c.kind === "invalid" ? c.reason : `invalid reference clock ${r.type}.${r.unit}`);
    }
    const id = `${r.type}.${r.unit}`;
    const first = seenClocks.get(id);
    if (first !== undefined) {
      err(base, `reference clock 127.127.${id} is configured twice`, "duplicate");
    } else seenClocks.set(id, i);
    polls(base, r.minpollLog2, r.maxpollLog2);
    if (r.mode !== null) intIn(`${base}.mode`, "mode", r.mode, 0, 0xffffffff);
    const f = r.fudge;
    if (f.time1Sec !== null) numIn(`${base}.fudge.time1Sec`, "time1", f.time1Sec, -86400, 86400);
    if (f.time2Sec !== null) numIn(`${base}.fudge.time2Sec`, "time2", f.time2Sec, -86400, 86400);
    if (f.stratum !== null) intIn(`${base}.fudge.stratum`, "stratum", f.stratum, 0, 15);
    if (f.refid !== null && !/^[\x21-\x7e]{1,4}$/.test(f.refid)) {
      err(`${base}.fudge.refid`, `refid "${f.refid}" must be 1–4 printable ASCII characters`);
    }
  });

  config.restrict.forEach((r, i) => {
    const base = `restrict.${i}`;
    if (r.match === "address") {
      const problem = checkAddress(r.address, r.family, "restrict");
      if (problem) err(`${base}.address`, problem, "address");
      const c = classifyAddress(r.address);
      if (r.mask !== null) {
        const addrV4 = ipFamilyOf(r.address) === 4 || c.kind === "refclock";
        const addrV6 = ipFamilyOf(r.address) === 6;
        if (ipFamilyOf(r.mask) === null) {
          err(`${base}.mask`, `mask "${r.mask}" is not an address`, "address");
        } else if ((addrV4 && ipFamilyOf(r.mask) !== 4) || (addrV6 && ipFamilyOf(r.mask) !== 6)) {
          err(`${base}.mask`, `mask "${r.mask}" is not of the same family as "${r.address}"`);
        }
      }
    }
    for (const flag of r.flags) {
      if (!RESTRICT_FLAGS.includes(flag)) err(`${base}.flags`, `unknown restrict flag "${flag}"`);
    }
  });

  intIn("discard.averageLog2", "discard average", config.discard.averageLog2, 0, 16);
  intIn("discard.minimumSec", "discard minimum", config.discard.minimumSec, 0, 65535);
  intIn("discard.monitor", "discard monitor", config.discard.monitor, 0, 0x7fffffff);

  config.interfaces.forEach((r, i) => {
    const m = r.match;
    if (INTERFACE_CLASSES.includes(m)) return;
    const slash = m.indexOf("/");
    if (slash >= 0) {
      const addr = m.slice(0, slash);
      const len = m.slice(slash + 1);
      const fam = ipFamilyOf(addr);
      const max = fam === 4 ? 32 : fam === 6 ? 128 : -1;
      if (max < 0 || !/^[0-9]{1,3}$/.test(len) || Number(len) > max) {
        err(`interfaces.${i}.match`, `"${m}" is not an address/prefixlen`, "address");
      }
      return;
    }
    if (ipFamilyOf(m) !== null) return;
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(m)) {
      err(`interfaces.${i}.match`, `"${m}" is not an interface name or address`, "address");
    }
  });

  const a = config.auth;
  keyId("auth.requestKey", "requestkey", a.requestKey);
  keyId("auth.controlKey", "controlkey", a.controlKey);
  a.trustedKeys.forEach((k, i) => keyId(`auth.trustedKeys.${i}`, "trustedkey", k));
  if (a.autokeyLog2 !== null) intIn("auth.autokeyLog2", "autokey", a.autokeyLog2, 1, 31);
  if (a.revokeLog2 !== null) intIn("auth.revokeLog2", "revoke", a.revokeLog2, 1, 31);

  config.stats.enabled.forEach((n, i) => {
    if (!STAT_NAMES.includes(n)) err(`stats.enabled.${i}`, `unknown statistics "${n}"`);
  });
  config.stats.filegens.forEach((g, i) => {
    if (!STAT_NAMES.includes(g.name)) {
      err(`stats.filegens.${i}.name`, `unknown statistics "${g.name}"`);
    }
    const problem = checkStatsFileName(g.file);
    if (problem) err(`stats.filegens.${i}.file`, problem, "path");
  });

  const t = config.tos;
  intIn("tos.beaconSec", "tos beacon", t.beaconSec, 1, 86400);
  intIn("tos.ceiling", "tos ceiling", t.ceiling, 1, 16);
  intIn("tos.cohort", "tos cohort", t.cohort, 0, 1);
  if (intIn("tos.floor", "tos floor", t.floor, 0, 15) && t.floor >= t.ceiling) {
    err("tos.floor", `tos floor ${t.floor} must be below ceiling ${t.ceiling}`);
  }
  if (intIn("tos.maxclock", "tos maxclock", t.maxclock, 1, 100)) {
    if (intIn("tos.minclock", "tos minclock", t.minclock, 1, 100) && t.minclock > t.maxclock) {
      err("tos.minclock", `tos minclock ${t.minclock} is greater than maxclock ${t.maxclock}`);
    }
    if (intIn("tos.minsane", "tos minsane", t.minsane, 1, 100) && t.minsane > t.maxclock) {
      err("tos.minsane", `tos minsane ${t.minsane} is greater than maxclock ${t.maxclock}`);
    }
  }
  if (
    numIn("tos.mindistSec", "tos mindist", t.mindistSec, 0.000001, 16) &&
    numIn("tos.maxdistSec", "tos maxdist", t.maxdistSec, 0.001, 16) &&
    t.mindistSec > t.maxdistSec
  ) {
    err("tos.mindistSec", `tos mindist ${t.mindistSec} is greater than maxdist ${t.maxdistSec}`);
  }
  intIn("tos.orphan", "tos orphan", t.orphan, 1, 16);
  intIn("tos.orphanwaitSec", "tos orphanwait", t.orphanwaitSec, 0, 86400);

  const k = config.tinker;
  numIn("tinker.allanSec", "tinker allan", k.allanSec, 1, 1e6);
  numIn("tinker.dispersionPpm", "tinker dispersion", k.dispersionPpm, 0, 500);
  if (k.freqPpm !== null) numIn("tinker.freqPpm", "tinker freq", k.freqPpm, -500, 500);
  if (k.huffpuffSec !== null) {
    numIn("tinker.huffpuffSec", "tinker huffpuff", k.huffpuffSec, 900, 86400 * 7);
  }
  numIn("tinker.panicSec", "tinker panic", k.panicSec, 0, 1e9);
  numIn("tinker.stepSec", "tinker step", k.stepSec, 0, 1e9);
  numIn("tinker.stepoutSec", "tinker stepout", k.stepoutSec, 0, 1e6);
  if (k.tickSec !== null) numIn("tinker.tickSec", "tinker tick", k.tickSec, 1e-9, 1);

  const b = config.broadcast;
  if (b.ttl.length > MAX_TTL_VALUES) {
    err("broadcast.ttl", `ttl takes at most ${MAX_TTL_VALUES} values, got ${b.ttl.length}`);
  }
  b.ttl.forEach((v, i) => intIn(`broadcast.ttl.${i}`, "ttl", v, 1, 255));
  b.multicastClient.forEach((m, i) => {
    if (ipFamilyOf(m) === null) {
      err(`broadcast.multicastClient.${i}`, `multicastclient "${m}" is not an address`, "address");
    }
  });
  b.manycastServer.forEach((m, i) => {
    if (ipFamilyOf(m) === null) {
      err(`broadcast.manycastServer.${i}`, `manycastserver "${m}" is not an address`, "address");
    }
  });
  if (b.delaySec !== null) numIn("broadcast.delaySec", "broadcastdelay", b.delaySec, 0, 1);

  config.traps.forEach((tr, i) => {
    const problem = checkAddress(tr.address, "any", "trap");
    if (problem) err(`traps.${i}.address`, problem, "address");
    if (tr.port !== null) intIn(`traps.${i}.port`, "trap port", tr.port, 1, 65535);
    if (tr.interface !== null && ipFamilyOf(tr.interface) === null) {
      err(`traps.${i}.interface`, `trap interface "${tr.interface}" is not an address`, "address");
    }
  });

  config.setvar.forEach((v, i) => {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(v.name)) {
      err(`setvar.${i}.name`, `setvar name "${v.name}" is not a valid variable name`, "syntax");
    }
  });

  config.logConfig.forEach((tok, i) => {
    if (!isLogConfigToken(tok)) {
      err(`logConfig.${i}`, `logconfig "${tok}" is not a class such as =syncall or +clockall`);
    }
  });

  if (config.callDelaySec !== null) {
    intIn("callDelaySec", "calldelay", config.callDelaySec, 0, 3600);
  }
  for (const [name, v] of Object.entries(config.mru)) {
    if (v !== null) intIn(`mru.${name}`, `mru ${name}`, v, 0, 0x7fffffff);
  }
  for (const [name, v] of Object.entries(config.rlimit)) {
    if (v !== null) intIn(`rlimit.${name}`, `rlimit ${name}`, v, 0, 0x7fffffff);
  }
  return issues;
}
