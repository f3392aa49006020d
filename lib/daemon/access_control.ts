// The daemon's access control: builds the core's restrict list from the configuration (host names
// resolved once at start, `restrict source` entries for each source address as it is mobilised,
// an entry for each of the daemon's own addresses so it never answers itself) and keeps every
// packet path (main thread and server threads) on the current list (ntp.conf(5) "Access Control
// Support"; ntpd 4.2.x restrict, including `restrict source`).

import type { Logger } from "../log/logger.ts";
import { type DiscardSettings, MruList } from "../proto/access/mru.ts";
import {
  formatRestrictEntry,
  RES_MSSNTP,
  type RestrictEntry,
  RestrictList,
  restrictWords,
} from "../proto/access/restrict.ts";
import { parseIp } from "../proto/ip.ts";
import type { ResolveFamily, Resolver } from "./resolver.ts";

/** One `restrict` line, as the configuration holds it. */
export interface RestrictSetting {
  /** "default": every address of `family`; "source": each source's address; "address". */
  match: "default" | "source" | "address";
  /** The address or host name ("0.0.0.0"/"::" for default, "" for source). */
  address: string;
  /** Mask as an address of the same family; null: a single host. */
  mask: string | null;
  family: ResolveFamily;
  /** Restrict words (ignore, kod, limited, ..., ntpport, version). */
  flags: readonly string[];
}

/** `mru` sizing. */
export interface MruSetting {
  /** `mru maxdepth`: entry bound (wins over maxMemBytes when both are set). */
  maxDepth?: number;
  /** `mru maxmem` × 1024. */
  maxMemBytes?: number;
  /** `mru maxage`, seconds. */
  maxAgeSec?: number;
}

/** Access control and rate limiting settings (`restrict`, `discard`, `mru`, `enable monitor`). */
export interface AccessSettings {
  restrict?: RestrictSetting[];
  discard?: Partial<DiscardSettings>;
  mru?: MruSetting;
  /** `enable monitor` / `disable monitor` (default on, as ntpd). */
  monitor?: boolean;
}

/** A rule after host names were resolved: one address (text), a mask, the words. */
interface ResolvedRule {
  address: string;
  mask: string | number | null;
  words: readonly string[];
  /** The configuration line it came from (for messages). */
  text: string;
}

function ruleText(r: RestrictSetting): string {
  const family = r.family === "ipv4" ? "-4 " : r.family === "ipv6" ? "-6 " : "";
  const target = r.match === "address" ? r.address : r.match;
  const mask = r.match === "address" && r.mask !== null ? ` mask ${r.mask}` : "";
  return `restrict ${family}${target}${mask}${r.flags.length > 0 ? " " : ""}${r.flags.join(" ")}`;
}

/** The MRU list the settings ask for (shared memory when server threads will attach to it). */
export function createMruList(s: AccessSettings, shared: boolean): MruList {
  const m = s.mru ?? {};
  return MruList.create({
    ...(m.maxDepth !== undefined ? { maxDepth: m.maxDepth } : {}),
    ...(m.maxMemBytes !== undefined ? { maxMemBytes: m.maxMemBytes } : {}),
    ...(m.maxAgeSec !== undefined ? { maxAgeSec: m.maxAgeSec } : {}),
    ...(s.discard !== undefined ? { discard: s.discard } : {}),
    shared,
  });
}

/**
 * The restrict list's owner. Resolve names with {@link resolveNames} before serving; then every
 * change (own addresses, sources) rebuilds the list and tells the listeners, which replace it in
 * their packet paths.
 */
export class AccessControl {
  #settings: readonly RestrictSetting[];
  readonly #log: Logger;
  readonly #resolver: Resolver;
  #rules: ResolvedRule[] = [];
  /** Restrict words for source addresses (`restrict source`), or null. */
  #sourceWords: string[] | null = null;
  #own: { address: string; port: number }[] = [];
  #sources = new Map<string, number>();
  #list = new RestrictList();
  readonly #listeners: ((list: RestrictList) => void)[] = [];

  /** Access control for `settings`; names are looked up with `resolver`. */
  constructor(settings: AccessSettings, deps: { log: Logger; resolver: Resolver }) {
    this.#settings = settings.restrict ?? [];
    this.#log = deps.log;
    this.#resolver = deps.resolver;
    for (const r of this.#settings) {
      const w = restrictWords(r.flags);
      if (!w.ok) continue; // reported when the rule is added
      if ((w.flags & RES_MSSNTP) !== 0) {
        this.#log.warn(
          `${ruleText(r)}: mssntp (MS-SNTP signing) is not supported; these clients get ` +
            `ordinary unsigned replies`,
        );
      }
    }
  }

  /** The current list. */
  get list(): RestrictList {
    return this.#list;
  }

  /** Calls `fn` with the new list after every change. */
  onChange(fn: (list: RestrictList) => void): void {
    this.#listeners.push(fn);
  }

  /**
   * Resolves the host names of the restrict lines (once, at start: ntpd does the same) and
   * builds the list. A name that does not resolve is logged and its line skipped.
   */
  async resolveNames(): Promise<void> {
    const rules: ResolvedRule[] = [];
    const source: string[] = [];
    let haveSource = false;
    for (const r of this.#settings) {
      const text = ruleText(r);
      if (r.match === "source") {
        haveSource = true;
        source.push(...r.flags);
        continue;
      }
      const mask = r.match === "default" ? 0 : r.mask;
      if (r.match === "default" || parseIp(r.address).ok) {
        rules.push({ address: r.address, mask, words: r.flags, text });
        continue;
      }
      const found = await this.#resolver(r.address, r.family);
      if (!found.ok || found.addresses.length === 0) {
        this.#log.warn(
          `${text}: cannot resolve "${r.address}"${
            found.ok ? "" : ` (${found.reason})`
          }: line ignored`,
        );
        continue;
      }
      const maskIp = r.mask === null ? null : parseIp(r.mask);
      for (const a of found.addresses) {
        // A mask applies to the addresses of its own family only.
        if (maskIp !== null && maskIp.ok && maskIp.ip.family !== a.family) continue;
        rules.push({ address: a.address, mask: r.mask, words: r.flags, text });
      }
    }
    this.#rules = rules;
    this.#sourceWords = haveSource ? [...new Set(source)] : null;
    this.#rebuild(true);
  }

  /**
   * Replaces the restrict lines while running (reload, run-time configuration): resolves their
   * names and rebuilds the list, which goes to every listener.
   */
  async setRules(rules: readonly RestrictSetting[]): Promise<void> {
    this.#settings = rules;
    await this.resolveNames();
  }

  /** Sets the daemon's own addresses and ports (each listen address, after binding). */
  setOwnAddresses(own: readonly { address: string; port: number }[]): void {
    this.#own = own.map((o) => ({ ...o }));
    this.#rebuild(false);
  }

  /** A source's association was mobilised at `address` (for `restrict source`). */
  sourceAdded(address: string): void {
    this.#sources.set(address, (this.#sources.get(address) ?? 0) + 1);
    if (this.#sourceWords !== null && this.#sources.get(address) === 1) this.#rebuild(false);
  }

  /** A source's association at `address` went away. */
  sourceRemoved(address: string): void {
    const n = this.#sources.get(address);
    if (n === undefined) return;
    if (n > 1) {
      this.#sources.set(address, n - 1);
      return;
    }
    this.#sources.delete(address);
    if (this.#sourceWords !== null) this.#rebuild(false);
  }

  /** The current entries, as plain data (for server threads). */
  entries(): RestrictEntry[] {
    return this.#list.entries();
  }

  #rebuild(report: boolean): void {
    const list = new RestrictList();
    for (const r of this.#rules) {
      const why = list.addRule(r.address, r.mask, r.words);
      if (why !== null && report) this.#log.warn(`${r.text}: ${why}: line ignored`);
    }
    if (this.#sourceWords !== null) {
      for (const a of this.#sources.keys()) {
        const why = list.addRule(a, null, this.#sourceWords);
        if (why !== null) this.#log.warn(`restrict source for ${a}: ${why}`);
      }
    }
    for (const o of this.#own) {
      const why = list.addOwnAddress(o.address, o.port);
      if (why !== null) this.#log.warn(`own address ${o.address} port ${o.port}: ${why}`);
    }
    this.#list = list;
    if (report && this.#rules.length > 0) {
      const configured = list.entries().filter((e) => e.match !== "own" && e.flags !== 0);
      this.#log.info(
        `restrict: ${configured.length} entr${configured.length === 1 ? "y" : "ies"} with flags${
          configured.length > 0 && configured.length <= 8
            ? `: ${configured.map(formatRestrictEntry).join("; ")}`
            : ""
        }`,
      );
    }
    for (const fn of this.#listeners) fn(list);
  }
}
