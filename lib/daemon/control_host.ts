// The daemon's side of mode 6: the read-only ControlView over what the daemon already keeps
// (the core's snapshot, what replies carry, the reference clocks, sysstats, the MRU list), the
// ControlServer that answers from it, trap messages sent on the core's events, and the clock
// jitter and wander ntpq shows (from the ntpd discipline, or averaged here from each clock
// update under Horae's discipline, the way ntpd averages them).

import type { Clock, KernelClockState } from "../clock/clock.ts";
import { loadKeysFile } from "../config/keys_file.ts";
import type { Logger } from "../log/logger.ts";
import type { SocketAddress } from "../net/transport.ts";
import type { MruEntry, MruList } from "../proto/access/mru.ts";
import { KeyStore } from "../proto/auth/key_store.ts";
import { MacVerifier } from "../proto/auth/mac.ts";
import { NTP_MINPOLL } from "../proto/constants.ts";
import { keyedControlAuth } from "../proto/control/control_auth.ts";
import {
  type ControlAuth,
  type ControlCounters,
  ControlServer,
  type SetvarSetting,
  type TrapSetting,
} from "../proto/control/control_server.ts";
import {
  type ControlIdentity,
  type ControlIo,
  type ControlKernel,
  type ControlPeer,
  type ControlSystem,
  type ControlView,
  PeerSelect,
  peersFromSnapshot,
  SyncSource,
} from "../proto/control/control_view.ts";
import { type EventAction, PeerEvent } from "../proto/events.ts";
import { parseIp } from "../proto/ip.ts";
import type { NtpTime } from "../proto/ntp_time.ts";
import type { PacketIn } from "../proto/packet_path.ts";
import type { SysStatsSnapshot } from "../proto/sys_stats.ts";
import type { SystemSnapshot } from "../proto/system.ts";
import type { SystemState } from "../proto/server.ts";
import type { LoopFilter } from "../proto/loop_filter.ts";
import type { LeapSecondTable } from "../proto/leap_seconds.ts";
import { HORAE_VERSION } from "../cli/version.ts";
import { CryptoRng } from "./crypto_rng.ts";
import { writeFileAtomic } from "../files/safe_file.ts";
import { isLoopback } from "./listen_plan.ts";
import { NodeCrypto } from "./crypto_node.ts";

/** The control protocol's settings (ntp.conf `controlkey`, `trap`, `setvar`, the keys file). */
export interface ControlSettings {
  controlKey: number | null;
  traps: TrapSetting[];
  setvar: SetvarSetting[];
  /** `keys`: the keys file control requests are checked against (null: none). */
  keysFile: string | null;
  /** `trustedkey`. */
  trustedKeys: number[];
  /**
   * SAVECONFIG (ntpq `saveconfig`, with the controlkey): the running configuration's text (or
   * a function of the file name that makes it at each save) and
   * the one folder it may be written to (`saveconfigdir`);
   * absent or null: SAVECONFIG is refused.
   */
  saveConfig?: { dir: string; text: string | ((name: string) => string) } | null;
  /**
   * CONFIGURE (ntpq `:config`, with the controlkey): applies ntp.conf lines through the reload
   * seam (reload.ts) and resolves with ntpd's answer text; absent or null: refused.
   */
  configure?: ((text: string, from: string) => Promise<string>) | null;
}

/** A reference clock as the control protocol shows it. */
export interface ControlRefclock {
  /** Its association in the core (null before it is mobilised). */
  assocId?: number | null;
  type: number;
  unit: number;
  name: string;
  stratum: number;
  refid: string;
  fudgeTime1Sec: number;
  fudgeTime2Sec: number;
  polls: number;
  noReply: number;
  reach: number;
  /** Its last sample's dispersion (s), or null before one. */
  dispersionSec: number | null;
  /** When it last gave a sample, or 0n. */
  lastSample: NtpTime;
  /** fudge flag1–flag4. */
  flags?: readonly boolean[];
  /** The driver's last raw timecode. */
  timecode?: string;
  /** The driver's own counters. */
  counters?: Readonly<Record<string, number>>;
}

/** What the host reads from the daemon. */
export interface ControlHostDeps {
  log: Logger;
  /** The clock replies are served on (observe mode's virtual clock). */
  clock: Clock;
  /** What replies carry, and where it comes from. */
  served: () => {
    state: SystemState;
    source: "network" | "refclock" | "none";
    refclock: string | null;
  };
  /** The core's snapshot (null without network sources). */
  snapshot: () => SystemSnapshot | null;
  /** The core's discipline (null without network sources). */
  loop: () => LoopFilter | null;
  refclocks: () => ControlRefclock[];
  sysstats: () => SysStatsSnapshot;
  mru: MruList;
  /** True while packets are recorded in the MRU list. */
  monitoring: () => boolean;
  /** Sends a datagram (trap messages) from a socket of the destination's family. */
  send: (data: Uint8Array, to: SocketAddress) => boolean;
  /** Smallest configured minpoll (mintc). */
  minPollLog2: number;
  /** The sockets that answer (the daemon polls its servers from one of them). */
  listening: () => SocketAddress[];
  /** The kernel clock (read only), or null. */
  kernel: () => KernelClockState | null;
  /** Socket counters. */
  io: () => ControlIo;
  /** The leap-seconds table (`leapfile`), for tai, leapsec and expire; absent: none. */
  leapTable?: () => LeapSecondTable | null;
}

/** Association ids of reference clocks (apart from the core's, which count up from 1). */
export const REFCLOCK_ASSOC_BASE = 60000;

/** ntpd's averaging constant for the clock jitter and wander. */
const CLOCK_AVG = 8;

function processor(): string {
  return Deno.build.arch;
}

function systemName(): string {
  try {
    return `${Deno.build.os === "linux" ? "Linux" : Deno.build.os}/${Deno.osRelease()}`;
  } catch {
    return Deno.build.os;
  }
}

/** The daemon's control protocol. */
export class ControlHost implements ControlView {
  readonly identity: ControlIdentity;
  readonly #deps: ControlHostDeps;
  readonly #settings: ControlSettings;
  readonly #server: ControlServer;
  readonly #received = new Map<string, NtpTime>();
  #coreDatagrams = 0;
  #seenUpdates = -1;
  #lastOffsetSec = 0;
  #lastFreqPpm = 0;
  #jitterSec = 0;
  #wanderPpm = 0;

  constructor(settings: ControlSettings, deps: ControlHostDeps) {
    this.#deps = deps;
    this.identity = {
      version: `horae ${HORAE_VERSION}`,
      processor: processor(),
      system: systemName(),
    };
    for (const t of settings.traps) {
      if (!parseIp(t.address).ok) {
        deps.log.warn(`trap ${t.address}: traps are sent to addresses only; this one is skipped`);
      }
    }
    this.#server = new ControlServer({
      view: this,
      rng: new CryptoRng(),
      crypto: new NodeCrypto(),
      controlKey: settings.controlKey,
      traps: settings.traps.filter((t) => parseIp(t.address).ok),
      setvar: settings.setvar,
      config: {
        ...(settings.saveConfig ? { saveConfig: (name: string) => this.#save(name) } : {}),
        ...(settings.configure ? { configure: settings.configure } : {}),
      },
    });
    this.#settings = settings;
  }

  /**
   * Uses the daemon's keys for control messages (e.g. DaemonAuth's `controlAuth()`), instead
   * of the copy {@link loadKeys} reads.
   */
  setAuth(auth: ControlAuth, controlKey: number | null): void {
    this.#server.setAuth(auth, controlKey);
  }

  /** Loads the keys file (when one is configured) so that signed requests can be checked. */
  async loadKeys(): Promise<void> {
    const s = this.#settings;
    if (s.keysFile === null) {
      if (s.controlKey !== null) {
        this.#deps.log.warn(`controlkey ${s.controlKey}: no keys file, so no change is accepted`);
      }
      return;
    }
    try {
      const loaded = await loadKeysFile(s.keysFile);
      for (const w of loaded.warnings) this.#deps.log.warn(`${w.file}: ${w.message}`);
      const store = new KeyStore(new NodeCrypto(), loaded.keys, s.trustedKeys);
      // The controlkey is trusted for control messages even when trustedkey does not name it.
      if (s.controlKey !== null) store.setTrusted(s.controlKey, true);
      this.#server.setAuth(keyedControlAuth(new MacVerifier(store)), s.controlKey);
    } catch (e) {
      this.#deps.log.error(`control: ${(e as Error).message}; signed requests are refused`);
    }
  }

  /** Answers a control datagram the packet path forwarded; `send` sends back to its sender. */
  handle(p: PacketIn, restrictFlags: number, send: (data: Uint8Array) => void): void {
    const a = this.#server.handle(
      { data: p.data, src: p.src, srcPort: p.srcPort, restrictFlags },
      this.#deps.clock.now(),
    );
    for (const d of a.replies) send(d);
    // SAVECONFIG answers once the file is written.
    void a.later?.then((b) => {
      for (const d of b.replies) send(d);
    });
  }

  /** Writes the running configuration as `name` (a plain file name) in the allowed folder. */
  async #save(name: string): Promise<string> {
    const sc = this.#settings.saveConfig!;
    const path = `${sc.dir.replace(/\/+$/, "")}/${name}`;
    try {
      // The configuration as it runs now (after reloads and run-time configuration).
      await writeFileAtomic(path, typeof sc.text === "string" ? sc.text : sc.text(name), 0o644);
    } catch (e) {
      this.#deps.log.warn(`saveconfig ${path}: ${(e as Error).message}`);
      throw e;
    }
    this.#deps.log.info(`saveconfig: configuration saved to ${path}`);
    return `Configuration saved to '${name}'`;
  }

  /** A core event: counted in the status words, and sent to the trap receivers. */
  noteEvent(a: EventAction): void {
    const msgs = this.#server.noteEvent(a.scope, a.assocId, a.code, this.#deps.clock.now());
    for (const m of msgs) {
      const ip = parseIp(m.address);
      if (!ip.ok) continue;
      for (const d of m.data) {
        this.#deps.send(d, { family: ip.ip.family, address: m.address, port: m.port });
      }
    }
    if (a.scope === "peer" && a.code === PeerEvent.DEMOBIL) this.#server.forgetPeer(a.assocId);
  }

  /** A datagram for the core arrived from `peer` at `rxTime` (ntpq's `rec`). */
  noteReceive(peer: SocketAddress, rxTime: NtpTime): void {
    this.#coreDatagrams++;
    this.#received.set(`${peer.address}|${peer.port}`, rxTime);
    if (this.#received.size > 4096) this.#received.delete(this.#received.keys().next().value!);
  }

  /** After the core's actions: average the clock jitter and wander over each clock update. */
  onCoreUpdate(): void {
    const loop = this.#deps.loop();
    if (loop === null || loop.updates === this.#seenUpdates) return;
    const offset = loop.lastOffsetSec;
    const freq = loop.freqPpm;
    if (this.#seenUpdates >= 0) {
      const d = offset - this.#lastOffsetSec;
      this.#jitterSec = Math.sqrt(
        this.#jitterSec ** 2 + (d * d - this.#jitterSec ** 2) / CLOCK_AVG,
      );
      const f = freq - this.#lastFreqPpm;
      this.#wanderPpm = Math.sqrt(
        this.#wanderPpm ** 2 + (f * f - this.#wanderPpm ** 2) / CLOCK_AVG,
      );
    }
    this.#seenUpdates = loop.updates;
    this.#lastOffsetSec = offset;
    this.#lastFreqPpm = freq;
  }

  /** Datagrams handed to the core so far (each looks up its association: ntpdc's findpeer). */
  get coreDatagrams(): number {
    return this.#coreDatagrams;
  }

  /** The control server's counters. */
  counters(): ControlCounters {
    return this.#server.counters();
  }

  // --- ControlView ---

  system(now: NtpTime): ControlSystem {
    const served = this.#deps.served();
    const st = served.state;
    const snap = this.#deps.snapshot();
    const loop = this.#deps.loop();
    let source: number = SyncSource.UNSPEC;
    let systemPeer = 0;
    if (st.leap !== 3 && st.stratum < 16) {
      if (served.source !== "none") {
        // Reference clocks are core associations: the system peer may be one of them.
        systemPeer = snap?.systemPeer ?? 0;
        const rc = this.#deps.refclocks().find((r) => systemPeer !== 0 && r.assocId === systemPeer);
        source = rc === undefined
          ? SyncSource.NTP
          : rc.type === 1
          ? SyncSource.LOCAL
          : rc.type === 22
          ? SyncSource.ATOM
          : SyncSource.UHF;
      }
    }
    return {
      leap: st.leap,
      stratum: st.stratum,
      precisionLog2: st.precisionLog2,
      rootDelaySec: st.rootDelaySec,
      rootDispersionSec: st.rootDispersionSec,
      refid: st.refid,
      referenceTime: st.referenceTime,
      clock: now,
      source,
      systemPeer,
      systemPeerMode: systemPeer === 0 ? 0 : 4,
      pollLog2: snap?.pollLog2 ?? 6,
      minPollLog2: this.#deps.minPollLog2,
      offsetSec: snap?.offsetSec ?? 0,
      freqPpm: snap?.freqPpm ?? loop?.freqPpm ?? 0,
      sysJitterSec: snap?.sysJitterSec ?? 0,
      clockJitterSec: loop?.clockJitterSec ?? this.#jitterSec,
      clockWanderPpm: loop?.clockWanderPpm ?? this.#wanderPpm,
      leapTable: leapFacts(this.#deps.leapTable?.() ?? null, now),
    };
  }

  peers(_now: NtpTime): ControlPeer[] {
    const snap = this.#deps.snapshot();
    const listening = this.#deps.listening();
    const out: ControlPeer[] = snap === null ? [] : peersFromSnapshot(snap, {
      local: (server) => localFor(listening, server),
      receiveTime: (id) => {
        const a = snap.associations.find((x) => x.id === id);
        return a === undefined
          ? null
          : this.#received.get(`${a.address.address}|${a.address.port}`) ?? null;
      },
    });
    const served = this.#deps.served();
    this.#deps.refclocks().forEach((r, k) => {
      // A clock in the core is listed with its association; the driver adds the clock variables.
      const p = (r.assocId ?? null) === null ? undefined : out.find((x) => x.id === r.assocId);
      if (p === undefined) out.push(this.#refclockPeer(r, k, served));
      else {
        p.srcHost = r.name;
        p.clock = this.#refclockPeer(r, k, served).clock ?? null;
      }
    });
    return out;
  }

  #refclockPeer(
    r: ControlRefclock,
    k: number,
    served: ReturnType<ControlHostDeps["served"]>,
  ): ControlPeer {
    const precision = this.#deps.clock.precisionLog2;
    const refid = [...r.refid.slice(0, 4)].reduce((v, c) => (v << 8) | c.charCodeAt(0), 0) <<
      (8 * (4 - Math.min(4, r.refid.length)));
    const selected = served.source === "refclock" && served.refclock === r.name;
    return {
      id: REFCLOCK_ASSOC_BASE + k,
      srcAddress: `127.127.${r.type}.${r.unit}`,
      srcPort: 123,
      srcHost: r.name,
      dstAddress: "127.0.0.1",
      dstPort: 123,
      configured: true,
      authEnabled: false,
      authentic: false,
      selection: selected ? PeerSelect.SYSPEER : r.reach !== 0 ? PeerSelect.CANDIDATE : 0,
      leap: 0,
      stratum: r.stratum,
      precisionLog2: precision,
      rootDelaySec: 0,
      rootDispersionSec: 0,
      refid: refid >>> 0,
      referenceTime: r.lastSample,
      receiveTime: r.lastSample,
      reach: r.reach,
      unreach: null,
      hostMode: 3,
      peerMode: 4,
      hostPollLog2: 6,
      peerPollLog2: 6,
      headwaySec: 0,
      flash: null,
      keyId: 0,
      offsetSec: r.dispersionSec === null ? null : r.fudgeTime1Sec,
      delaySec: r.dispersionSec === null ? null : 0,
      dispersionSec: r.dispersionSec,
      jitterSec: r.dispersionSec === null ? null : 2 ** precision,
      filter: null,
      clock: {
        type: r.type,
        name: r.name,
        timecode: r.timecode ?? "",
        polls: r.polls,
        noReply: r.noReply,
        badFormat: r.counters?.badformat ?? 0,
        badData: r.counters?.baddata ?? 0,
        fudgeTime1Sec: r.fudgeTime1Sec,
        fudgeTime2Sec: r.fudgeTime2Sec,
        stratum: r.stratum,
        refid: refid >>> 0,
        flags: (r.flags ?? []).reduce((v, f, i) => v | (f ? 1 << i : 0), 0),
        status: r.noReply > 0 && r.reach === 0 ? 1 : 0,
        lastEvent: 0,
      },
    };
  }

  sysstats(): SysStatsSnapshot {
    return this.#deps.sysstats();
  }

  mru(): MruEntry[] | null {
    return this.#deps.monitoring() ? this.#deps.mru.entries() : null;
  }

  kernel(): ControlKernel | null {
    let k: KernelClockState | null;
    try {
      k = this.#deps.kernel();
    } catch {
      return null;
    }
    return k === null ? null : {
      offsetSec: k.offsetSec,
      freqPpm: k.freqPpm,
      maxErrorSec: k.maxErrorSec,
      estErrorSec: k.estErrorSec,
      status: k.status,
      constant: k.constant,
      precisionSec: k.precisionSec,
      toleranceSppm: k.toleranceSppm,
    };
  }

  io(): ControlIo {
    return this.#deps.io();
  }
}

/**
 * What ntpq shows of a leap-seconds table at `now`: TAI−UTC in force, the leap it came from
 * (or the next one the table announces) and the table's expiry.
 */
export function leapFacts(
  table: LeapSecondTable | null,
  now: NtpTime,
): { taiSec: number; leapAt: NtpTime; expire: NtpTime } | null {
  if (table === null || table.entries.length === 0) return null;
  const nowSec = Number(now >> 32n);
  let current = table.entries[0]!;
  let next: typeof current | null = null;
  for (const e of table.entries) {
    if (e.ntpSec <= nowSec) current = e;
    else if (next === null) next = e;
  }
  const at = next ?? current;
  return {
    taiSec: current.taiOffsetSec,
    leapAt: BigInt(at.ntpSec) << 32n,
    expire: BigInt(table.expiresNtpSec) << 32n,
  };
}

/** `mintc` from the sources' minpoll (ntpd's default minpoll when none is given). */
export function smallestMinpoll(minpolls: readonly (number | null | undefined)[]): number {
  const given = minpolls.filter((m): m is number => typeof m === "number");
  return given.length === 0 ? 6 : Math.max(NTP_MINPOLL, Math.min(...given));
}

/**
 * The socket the daemon polls `server` from, as the packet router picks it: of the server's
 * family, a wildcard first, else one on the same side of loopback.
 */
export function localFor(
  listening: readonly SocketAddress[],
  server: { family: 4 | 6; address: string },
): { address: string; port: number } | null {
  let pick: SocketAddress | null = null;
  let score = -1;
  const toLoopback = isLoopback(server.family, server.address);
  for (const a of listening) {
    if (a.family !== server.family) continue;
    const wildcard = a.address === "0.0.0.0" || a.address === "::";
    const s = wildcard ? 2 : isLoopback(a.family, a.address) === toLoopback ? 1 : 0;
    if (s > score) {
      pick = a;
      score = s;
    }
  }
  return pick === null ? null : { address: pick.address, port: pick.port };
}
