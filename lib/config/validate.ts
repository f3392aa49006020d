// Semantic checks on a configuration model, shared by the ntp.conf and TOML readers: the option
// spec's rules between values (ntpd's consistency checks), and what ntp.conf(5) and its
// companion pages say of addresses, names and files. Value ranges come from the spec.

import {
  type AddressFamily,
  INTERFACE_CLASSES,
  type NtpConfig,
  RESTRICT_FLAGS,
  STAT_NAMES,
} from "./config_model.ts";
import { classifyAddress } from "./address.ts";
import { ipFamilyOf, isGroupAddress } from "../proto/ip.ts";
import type { ConfigSpec, SectionSpec } from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import { MAX_KEY_ID, MIN_KEY_ID } from "../proto/options/sources.ts";
import { MAX_TTL_VALUES } from "../proto/options/broadcast.ts";
import type { Severity } from "./diagnostics.ts";
import { getPath, joinPath } from "./model_path.ts";
import { NOT_APPLIED_CODE, notAppliedMessage } from "./not_applied.ts";

export { MAX_KEY_ID, MAX_TTL_VALUES, MIN_KEY_ID };

/** One problem in a model, located by its model path (e.g. "sources.2.minpollLog2"). */
export interface ValidationIssue {
  severity: Severity;
  /** Dotted model path of the offending value. */
  path: string;
  message: string;
  code: string;
}

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

/** Where a rule or range problem of a section instance is: its model path and values. */
function instancesOf(
  config: NtpConfig,
  s: SectionSpec,
): { base: string; values: Record<string, unknown> }[] {
  const at = getPath(config, s.model);
  if (s.array) {
    return Array.isArray(at) ? at.map((values, i) => ({ base: joinPath(s.model, i), values })) : [];
  }
  return at !== null && typeof at === "object"
    ? [{ base: s.model, values: at as Record<string, unknown> }]
    : [];
}

/**
 * The spec's rules between options (ntpd's own consistency checks) as warnings, correcting
 * values in place where ntpd corrects them; and, for models built by code rather than read
 * (the readers already applied ntpd's treatment), every value outside its range as an error.
 */
function specIssues(config: NtpConfig, spec: ConfigSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const s of spec.sections) {
    for (const { base, values } of instancesOf(config, s)) {
      for (const rule of s.rules ?? []) {
        for (const r of rule.check(values)) {
          issues.push({
            severity: "warning",
            path: joinPath(base, r.field),
            message: r.message,
            code: "rule",
          });
        }
      }
      for (const part of s.parts) {
        for (const o of part.options) {
          const r = o.range;
          if (r === undefined) continue;
          const path = joinPath(base, part.at, o.field);
          const v = getPath(values, joinPath(part.at, o.field));
          const name = o.ntpConf ?? o.toml;
          const list = Array.isArray(v) ? v : [v];
          if (o.maxItems !== undefined && list.length > o.maxItems) {
            issues.push({
              severity: "error",
              path,
              message: `${name} takes at most ${o.maxItems} values, got ${list.length}`,
              code: "range",
            });
          }
          list.forEach((x, i) => {
            if (typeof x !== "number") return;
            const isInt = o.type === "int" || o.type === "int-list";
            if (x >= r.min && x <= r.max && (!isInt || Number.isInteger(x))) return;
            issues.push({
              severity: "error",
              path: Array.isArray(v) ? `${path}.${i}` : path,
              message: `${name} ${x} is out of range ${r.min}–${r.max}`,
              code: "range",
            });
          });
        }
      }
    }
  }
  return issues;
}

/**
 * Validates a whole model and returns every problem found (empty when the model is valid):
 * the spec's rules and ranges, then the checks of addresses, names and files.
 */
export function validateConfig(
  config: NtpConfig,
  spec: ConfigSpec = CONFIG_SPEC,
): ValidationIssue[] {
  const issues: ValidationIssue[] = specIssues(config, spec);
  const err = (path: string, message: string, code = "range"): void => {
    issues.push({ severity: "error", path, message, code });
  };

  const notApplied = (path: string, name: string, text: string): void => {
    issues.push({
      severity: "warning",
      path,
      message: notAppliedMessage(name, text),
      code: NOT_APPLIED_CODE,
    });
  };

  config.sources.forEach((s, i) => {
    const base = `sources.${i}`;
    if (s.address === "") {
      err(base, `"${s.kind}" needs an address`, "syntax");
    } else if (
      (s.kind === "broadcast" || s.kind === "manycastclient") && ipFamilyOf(s.address) === null
    ) {
      // A name would need a lookup at every send, and its answer could be anything: ntpd too
      // takes an address here. The daemon leaves the line out.
      notApplied(
        `${base}.address`,
        `${s.kind} ${s.address}`,
        "needs an address, not a name; line left out",
      );
    } else if (s.kind === "manycastclient" && !isGroupAddress(s.address)) {
      notApplied(
        `${base}.address`,
        `manycastclient ${s.address}`,
        "not a multicast group; line left out",
      );
    } else {
      const c = classifyAddress(s.address);
      if (c.kind === "refclock") {
        err(`${base}.address`, `reference clock ${s.address} is only valid with "server"`);
      } else {
        const problem = checkAddress(s.address, s.family, s.kind);
        if (problem) err(`${base}.address`, problem, "address");
      }
    }
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
    const f = r.fudge;
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

  const b = config.broadcast;
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

  config.traps.forEach((tr, i) => {
    const problem = checkAddress(tr.address, "any", "trap");
    if (problem) err(`traps.${i}.address`, problem, "address");
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

  if (config.system.pps && (config.tinker.discipline !== "ntpd" || !config.system.kernel)) {
    // As ntpd: only the kernel-mode discipline hands the clock to the kernel's PPS discipline.
    notApplied(
      "system.pps",
      "enable pps",
      "the kernel PPS discipline (STA_PPSTIME/STA_PPSFREQ) is used only with " +
        '"tinker discipline ntpd" and "enable kernel"; a PPS clock with flag3 still binds the ' +
        "kernel consumer, which then only measures (ntptime's pps lines)",
    );
  }

  return issues;
}
