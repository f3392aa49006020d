// The one packet path: every datagram the daemon receives, on the main thread or a server
// thread, goes through `PacketPath.handle`, which checks it in a fixed order (format, restrict,
// rate control, authentication) and then dispatches it by mode (RFC 5905 §9 "peer process",
// ntpd 4.2.x receive()). The answer is a verdict: replies written into a reply slot, a hand-over
// to the timekeeping core, a forward to a main-thread handler, or a drop with a counted reason.
//
// Nothing here does I/O. The caller owns the sockets: it fills a reused `PacketIn`, passes the
// transport's reply slot, and acts on the verdict. Every datagram is counted exactly once:
// received = processed + the sum of the drop reasons (SysStats).
//
// Authentication (RFC 5905 §7.3, RFC 8573, ntpd 4.2.8): a request whose MAC verifies gets a reply
// signed with the same key and digest length, signed by the slot's finalize step after the
// transport writes the transmit timestamp; a request whose MAC fails gets a crypto-NAK (ntpd's
// answer; chronyd stays silent). A reply or broadcast whose MAC fails never reaches the core.

import { KEY_ID_LEN, LEN_PKT_NOMAC, NTP_VERSION } from "./constants.ts";
import type { AuthFailure } from "./auth/mac.ts";
import { IpWords } from "./ip.ts";
import { type DecodeError, decodePacket, PacketPeek } from "./packet.ts";
import { MRU_EXCEEDED, type MruList } from "./access/mru.ts";
import {
  RES_IGNORE,
  RES_INTERFACE,
  RES_KOD,
  RES_LIMITED,
  RES_NOQUERY,
  RES_NOSERVE,
  RES_NOTRUST,
  RES_VERSION,
  type RestrictList,
} from "./access/restrict.ts";
import type { Server } from "./server.ts";
import { looksLikeNts, REFID_NTSN } from "./nts/extension_fields.ts";
import type { NtsServer } from "./nts/nts_server.ts";
import type { DropReason, SysCounters } from "./sys_stats.ts";

/** One received datagram, as the caller fills it (reuse one object: nothing here keeps it). */
export class PacketIn {
  /** The datagram's bytes. */
  data: Uint8Array = new Uint8Array(0);
  /** The sender's address. */
  readonly src: IpWords = new IpWords();
  /** The sender's UDP port. */
  srcPort = 0;
  /** The local address it arrived on (the unspecified address when not known). */
  readonly dst: IpWords = new IpWords();
  /** The local port it arrived on. */
  dstPort = 0;
  /** Receive time, Unix seconds (the kernel timestamp, on the clock replies are served on). */
  rxUnixSec = 0;
  /** Nanoseconds within `rxUnixSec`. */
  rxUnixNsec = 0;
}

/**
 * A reply's last step, run by the transport after it wrote the transmit timestamp and just
 * before sending (the MAC must cover the transmit timestamp the client reads). Fills bytes of
 * `buffer[0, length)` in place; never throws, never changes the length.
 */
export interface ReplyFinalizer {
  finalize(buffer: Uint8Array, length: number): void;
}

/** Where a reply is written: the transport's reply slot (lib/net ReplySlot has this shape). */
export interface ReplyBuffer {
  /** At least as long as the request. */
  readonly buffer: Uint8Array;
  /** A DataView over exactly `buffer`. */
  readonly view: DataView;
  /** Bytes to send (0: none). */
  length: number;
  /** Let the transport restamp the transmit timestamp just before sending. */
  stampTransmit: boolean;
  /** Run after the stamp (signs an authenticated reply); null: none. */
  finalize: ReplyFinalizer | null;
}

/** An empty reply buffer of `size` bytes: no length, no restamp, no finaliser. */
export function emptyReplyBuffer(size: number): ReplyBuffer {
  const buffer = new Uint8Array(size);
  return {
    buffer,
    view: new DataView(buffer.buffer),
    length: 0,
    stampTransmit: false,
    finalize: null,
  };
}

/**
 * What to do with a datagram:
 * - "reply": send `slot.length` bytes from the slot (then each of `more`, in order);
 * - "core": hand the datagram to the timekeeping core (modes 2, 4, 5; on a server thread: to
 *   the main thread, which hands it over without checking it again);
 * - "forward": give it to the main-thread handler named by `forward`;
 * - "drop": nothing (the reason is counted).
 */
export type VerdictKind = "reply" | "core" | "forward" | "drop";

/**
 * Main-thread handlers a datagram can be forwarded to: "control" (mode 6), "mode7" (ntpd's
 * private requests, with `enable mode7`), "peer" (mode 1, symmetric active), "auth" (a MAC or
 * NTS fields this thread cannot check: the main thread continues with
 * {@link PacketPath.continueForwarded}).
 */
export type ForwardTo = "control" | "mode7" | "peer" | "auth";

/** A kiss code sent in a kiss-o'-death. */
export type KissCode = "RATE" | "DENY";

const REFID_RATE = 0x52415445;
const REFID_DENY = 0x44454e59;

/** The decision about one datagram. The path reuses one object: read it before the next call. */
export class Verdict {
  kind: VerdictKind = "drop";
  /**
   * Why the datagram was denied or dropped (null when it was processed). A kiss-o'-death or a
   * crypto-NAK is a "reply" with a reason.
   */
  reason: DropReason | null = null;
  /** The handler for "forward" (null otherwise). */
  forward: ForwardTo | null = null;
  /** The kiss code when the reply is a kiss-o'-death. */
  kiss: KissCode | null = null;
  /** Mode and version of the datagram (0 when it had none). */
  mode = 0;
  version = 0;
  /**
   * RES_* flags of the matching restrict entry. Later stages use them: the core applies
   * nopeer/noepeer when a packet would mobilise an association, control applies nomodify,
   * notrap, lowpriotrap and nomrulist.
   */
  restrictFlags = 0;
  /**
   * The key id whose MAC verified (0: the packet was not authenticated). The core takes it with
   * a "core" verdict: an association with a key accepts only replies authenticated with it.
   */
  keyId = 0;
  /** Replies after the one in the slot (mode 6 fragments); empty on the server path. */
  readonly more: Uint8Array[] = [];

  reset(): void {
    this.kind = "drop";
    this.reason = null;
    this.forward = null;
    this.kiss = null;
    this.mode = 0;
    this.version = 0;
    this.restrictFlags = 0;
    this.keyId = 0;
    if (this.more.length > 0) this.more.length = 0;
  }
}

/**
 * Result of authenticating a packet that carries a MAC or extension fields: "none" (nothing to
 * check: unauthenticated), "ok" (verified with key `keyId`), "crypto_nak" (a key id 0 alone),
 * an {@link AuthFailure} (the MAC does not verify: a request gets a crypto-NAK, anything else is
 * dropped; each counted as bad authentication), or "forward" (this thread cannot check it: the
 * main thread must).
 */
export type AuthResult = "none" | "ok" | "crypto_nak" | "forward" | AuthFailure;

/** The authentication step (lib/proto/auth/packet_auth.ts implements it with the keys). */
export interface Authenticator {
  /**
   * Judges a mode 1–5 packet from `from` with a MAC at `macOffset` (key id `keyId`), or with
   * extension fields (`macOffset` −1 when they are not followed by a MAC).
   */
  check(
    data: Uint8Array,
    macOffset: number,
    keyId: number,
    hasExtensions: boolean,
    from: IpWords,
  ): AuthResult;
  /**
   * Signs a reply to a request that passed: the path writes the key id at byte 48 and sets the
   * reply's length to mirror the request's digest; this fills the digest after the transmit
   * stamp. Null when nothing can pass ("ok" is then never returned).
   */
  readonly signer: ReplyFinalizer | null;
}

/**
 * No keys: a MAC cannot be verified (a client gets a crypto-NAK, as ntpd answers an unknown key);
 * extension fields alone are not authentication.
 */
export const NO_KEYS: Authenticator = {
  check: (data, macOffset, keyId) =>
    macOffset < 0
      ? "none"
      : keyId === 0 && data.length - macOffset === KEY_ID_LEN
      ? "crypto_nak"
      : "unknown_key",
  signer: null,
};

/** The main-thread handlers a verdict can hand a datagram to. */
export interface Handlers {
  /** The timekeeping core (modes 2, 4, 5). */
  core: boolean;
  /** The control protocol (mode 6). */
  control: boolean;
  /** Symmetric active peers (mode 1). */
  peer: boolean;
  /** Mode 7 requests (only asked for with `enable mode7`). */
  mode7: boolean;
}

/** Options of a {@link PacketPath}. */
export interface PacketPathOptions {
  /** Answers client requests. */
  server: Server;
  /** The restrict list (shared by every thread's path: it is read-only per packet). */
  restrict: RestrictList;
  /** The MRU list (shared memory across threads), or null for none (no rates, no kisses). */
  mru: MruList | null;
  /** This thread's counters. */
  counters: SysCounters;
  /** `enable monitor` (default true); monitoring also runs whenever restrict uses limited/kod. */
  monitor?: boolean;
  /** `enable mode7` (default false): mode 7 requests go to the "mode7" handler, else dropped. */
  mode7?: boolean;
  /** The authentication step (default {@link NO_KEYS}). */
  authenticator?: Authenticator;
  /**
   * `enable auth` (default true): a symmetric active (mode 1) or broadcast (mode 5) packet, which
   * would mobilise an association, must be authenticated.
   */
  authRequired?: boolean;
  /**
   * Which handlers exist on this (main) thread (default: all). A datagram for a missing one is
   * dropped as "no_handler" (e.g. a reply with no timekeeping core, a control query before the
   * control protocol exists) instead of being counted as processed.
   */
  handlers?: Partial<Handlers>;
  /**
   * True on a server thread: "core" and "forward" verdicts go to the main thread, which counts
   * their outcome when it takes them ({@link PacketPath.acceptForwarded}); a forward the thread
   * cannot deliver is counted with {@link PacketPath.forwardDropped}.
   */
  serverThread?: boolean;
  /**
   * NTS (RFC 8915) requests: answered here by this {@link NtsServer}, handed to the main thread
   * ("forward", a server thread without the keys), or null (default: no NTS; a request with NTS
   * fields is answered as plain NTP, which an NTS client refuses).
   */
  nts?: NtsServer | "forward" | null;
}

function decodeReason(e: DecodeError): DropReason {
  switch (e) {
    case "too_short":
    case "bad_length":
    case "bad_version":
    case "bad_extension":
    case "bad_mac_length":
      return e;
    default:
      return "bad_mode"; // mode 6/7 never reach the decoder here
  }
}

/**
 * The packet path of one thread. Every thread has its own (its Server, counters and scratch
 * objects), over the shared restrict list, MRU list and counter memory.
 *
 * @example
 * ```ts
 * const path = new PacketPath({ server, restrict, mru, counters: stats.counters(0) });
 * const v = path.handle(input, slot);
 * if (v.kind === "core") system.onPacket(input.data, ...);
 * ```
 */
export class PacketPath {
  readonly #server: Server;
  #restrict: RestrictList;
  readonly #mru: MruList | null;
  readonly #counters: SysCounters;
  #monitor: boolean;
  #mode7: boolean;
  #auth: Authenticator;
  #authRequired: boolean;
  readonly #serverThread: boolean;
  readonly #handlers: Handlers;
  #nts: NtsServer | "forward" | null;
  #configuredPeer: ((src: IpWords, port: number) => boolean) | null = null;
  readonly #peek = new PacketPeek();
  readonly #verdict = new Verdict();

  /** A path over `options`. */
  constructor(options: PacketPathOptions) {
    this.#server = options.server;
    this.#restrict = options.restrict;
    this.#mru = options.mru;
    this.#counters = options.counters;
    this.#monitor = options.monitor ?? true;
    this.#mode7 = options.mode7 ?? false;
    this.#auth = options.authenticator ?? NO_KEYS;
    this.#authRequired = options.authRequired ?? true;
    this.#serverThread = options.serverThread ?? false;
    this.#handlers = { core: true, control: true, peer: true, mode7: true, ...options.handlers };
    this.#nts = options.nts ?? null;
  }

  /**
   * Tells the path which senders are configured symmetric peers (NtpSystem.hasConfiguredPeer):
   * their mode 1 packets go to the core without a MAC under `enable auth`. Null (the default,
   * and always on a server thread): no sender is known, and a server thread hands an
   * unauthenticated mode 1 packet to the main thread, which decides.
   */
  setConfiguredPeers(known: ((src: IpWords, port: number) => boolean) | null): void {
    this.#configuredPeer = known;
  }

  /** Turns NTS on (with this thread's {@link NtsServer}, or "forward" to the main thread) or off. */
  setNts(nts: NtsServer | "forward" | null): void {
    this.#nts = nts;
  }

  /** Says which main-thread handlers exist now (the core starts after the sockets open). */
  setHandlers(handlers: Partial<Handlers>): void {
    Object.assign(this.#handlers, handlers);
  }

  /**
   * `enable monitor` / `disable monitor`. Disabling empties the (shared) MRU list, unless the
   * restrict list needs it for limited/kod, as ntpd frees its list.
   */
  setMonitor(on: boolean): void {
    this.#monitor = on;
    if (!on && this.#mru !== null && !this.#restrict.needsMonitor) this.#mru.clear();
  }

  /** `enable mode7` / `disable mode7`. */
  setMode7(on: boolean): void {
    this.#mode7 = on;
  }

  /** Replaces the restrict list (a reconfiguration). */
  setRestrict(list: RestrictList): void {
    this.#restrict = list;
  }

  /** Replaces the authentication step (keys loaded or reloaded). */
  setAuthenticator(auth: Authenticator): void {
    this.#auth = auth;
  }

  /** `enable auth` / `disable auth`. */
  setAuthRequired(on: boolean): void {
    this.#authRequired = on;
  }

  /** True when packets are recorded in the MRU list. */
  get monitoring(): boolean {
    return this.#mru !== null && (this.#monitor || this.#restrict.needsMonitor);
  }

  /**
   * Decides what to do with one datagram; a reply is written into `slot` (whose length is set
   * to 0 otherwise). Never throws on any input; allocation-free for a client request without
   * extension fields. The verdict is valid until the next call.
   */
  handle(p: PacketIn, slot: ReplyBuffer): Verdict {
    const v = this.#verdict;
    v.reset();
    slot.length = 0;
    slot.stampTransmit = false;
    slot.finalize = null;
    const c = this.#counters;
    c.received();
    const data = p.data;
    const n = data.length;

    // 1. Length and format (and senders no datagram can honestly come from).
    if (p.srcPort === 0) return this.#drop("source_port_zero");
    if (p.src.isInvalidSource()) return this.#drop("source_invalid");
    if (n < 1) return this.#drop("too_short");
    const mode = data[0]! & 7;
    const version = (data[0]! >> 3) & 7;
    v.mode = mode;
    v.version = version;
    let macOffset = -1;
    let hasExtensions = false;
    let nts = false;
    if (mode === 6) {
      if (n < 12) return this.#drop("too_short");
      if (version < 1 || version > 4) return this.#drop("bad_version");
      // A response or an error: nothing is ever sent in answer to one.
      if ((data[1]! & 0x80) !== 0) return this.#drop("control_response");
    } else if (mode === 0) {
      return this.#drop(version === 1 ? "v1_mode0" : "bad_mode");
    } else if (mode !== 7) {
      const peek = this.#peek;
      const check = peek.read(data);
      if (check !== "ok") return this.#drop(decodeReason(check));
      // COMPAT: NTPv1 (RFC 1059) packets are not answered, as before the packet path.
      if (version === 1) {
        return this.#drop(mode === 3 ? "v1_client" : mode === 1 ? "v1_symmetric" : "v1_other");
      }
      macOffset = peek.macOffset;
      hasExtensions = peek.hasExtensions;
      // An NTS request's fields are read (as strictly: RFC 7822 framing included) by the NTS
      // step, which needs no copy of them.
      nts = hasExtensions && mode === 3 && this.#nts !== null && looksLikeNts(data);
      if (hasExtensions && !nts) {
        // Rare path: walk the extension fields once with the full decoder.
        const full = decodePacket(data);
        if (!full.ok) return this.#drop(decodeReason(full.reason));
        if (full.packet.mac !== null) macOffset = n - 4 - full.packet.mac.digest.length;
      }
    }

    // 2. Restrict.
    const flags = this.#restrict.lookup(p.src, p.srcPort);
    v.restrictFlags = flags;
    if ((flags & RES_IGNORE) !== 0) {
      return this.#drop((flags & RES_INTERFACE) !== 0 ? "own_address" : "ignored");
    }
    if (mode === 6 || mode === 7) {
      if ((flags & RES_NOQUERY) !== 0) return this.#drop("noquery");
      // COMPAT: mode 7 is answered only with `enable mode7` (ntpd 4.2.8's default too), and then
      // only its read-only requests, by the main thread's handler.
      if (mode === 7) {
        return this.#mode7 ? this.#handOn("forward", "mode7") : this.#drop("private_mode");
      }
      // Control messages are neither rate limited nor recorded (ntpd answers them before its
      // monitor); their own handler applies nomodify, notrap and nomrulist.
      return this.#handOn("forward", "control");
    }
    c.version(version === NTP_VERSION);
    let denied: DropReason | null = null;
    if ((flags & RES_NOSERVE) !== 0) denied = "noserve";
    else if ((flags & RES_VERSION) !== 0 && version !== NTP_VERSION) denied = "version";

    // 3. Rate control: record the client, then judge its rate (denied clients too, so that
    // their kisses are spaced as well).
    let rate = 0;
    const mru = this.#mru;
    if (mru !== null && (this.#monitor || this.#restrict.needsMonitor)) {
      rate = mru.observe(p.src, p.srcPort, mode, version, flags, p);
    }
    // Only requests are ever kissed: never a reply (2, 4, 5), and a kiss is itself a reply.
    const kissable = (mode === 3 || mode === 1) && (flags & RES_KOD) !== 0;
    if (denied !== null) {
      if (denied === "noserve" && kissable) return this.#kiss(p, slot, "DENY", denied);
      return this.#drop(denied);
    }
    if ((flags & RES_LIMITED) !== 0 && (rate & MRU_EXCEEDED) !== 0) {
      if (kissable) return this.#kiss(p, slot, "RATE", "rate_limited");
      return this.#drop("rate_limited");
    }

    // 4. Authentication, then 5. dispatch. An NTS request has its own (RFC 8915 §5.7).
    if (nts && macOffset < 0 && this.#nts !== null) {
      if (this.#nts === "forward") {
        return this.#serverThread ? this.#handOn("forward", "auth") : this.#drop("nts_bad_cookie");
      }
      return this.#ntsRequest(this.#nts, p, slot, flags);
    }
    let auth: AuthResult = "none";
    let keyId = 0;
    if (macOffset >= 0 || hasExtensions) {
      keyId = macOffset >= 0 ? u32At(data, macOffset) : 0;
      auth = this.#auth.check(data, macOffset, keyId, hasExtensions, p.src);
    }
    // Only a server thread forwards for authentication; the main thread holds the keys.
    if (auth === "forward") {
      return this.#serverThread ? this.#handOn("forward", "auth") : this.#drop("unknown_key");
    }
    return this.#afterAuth(p, slot, mode, flags, auth, keyId, macOffset);
  }

  /**
   * The main thread's side of a datagram a server thread handed on: `kind`, `forward` and
   * `flags` are that thread's verdict. "core", "control" and "peer" are taken as decided (and
   * counted here); "auth" is authenticated with the main thread's keys and dispatched. The
   * returned verdict says what to do, as from {@link handle}.
   */
  acceptForwarded(
    p: PacketIn,
    slot: ReplyBuffer,
    kind: VerdictKind,
    forward: ForwardTo | null,
    flags: number,
    keyId = 0,
  ): Verdict {
    const v = this.#verdict;
    v.reset();
    slot.length = 0;
    slot.stampTransmit = false;
    slot.finalize = null;
    const data = p.data;
    v.restrictFlags = flags;
    if (data.length > 0) {
      v.mode = data[0]! & 7;
      v.version = (data[0]! >> 3) & 7;
    }
    if (kind === "core") {
      v.keyId = keyId;
      return this.#handOn("core", null, true);
    }
    if (kind !== "forward" || forward === null) return this.#drop("no_handler");
    if (forward !== "auth") {
      // A server thread hands on an unauthenticated mode 1 packet: only this thread knows
      // whether its sender is a configured peer.
      if (forward === "peer" && keyId === 0 && !this.#admitsUnauthenticatedPeer(p)) {
        return this.#drop("auth_required");
      }
      v.keyId = keyId; // a symmetric active packet's verified key
      return this.#handOn("forward", forward, true);
    }
    const peek = this.#peek;
    // The server thread checked the format; read the header again for the MAC's place.
    if (peek.read(data) !== "ok") return this.#drop("too_short");
    let macOffset = peek.macOffset;
    if (peek.hasExtensions) {
      const full = decodePacket(data);
      if (!full.ok) return this.#drop(decodeReason(full.reason));
      macOffset = full.packet.mac === null ? -1 : data.length - 4 - full.packet.mac.digest.length;
    }
    const nts = this.#nts;
    if (
      v.mode === 3 && macOffset < 0 && nts !== null && nts !== "forward" && looksLikeNts(data)
    ) {
      return this.#ntsRequest(nts, p, slot, flags);
    }
    const id = macOffset >= 0 ? u32At(data, macOffset) : 0;
    let auth = this.#auth.check(data, macOffset, id, peek.hasExtensions, p.src);
    if (auth === "forward") auth = "unknown_key"; // the main thread has no one to forward to
    return this.#afterAuth(p, slot, v.mode, flags, auth, id, macOffset);
  }

  /**
   * Counts a datagram a server thread could not hand to the main thread (its queue was full).
   */
  forwardDropped(): void {
    this.#counters.dropped("overload");
  }

  /** A "core" or "forward" verdict, counted as processed unless a server thread hands it on. */
  #handOn(kind: "core" | "forward", forward: ForwardTo | null, count = !this.#serverThread) {
    const v = this.#verdict;
    if (count) {
      // Where the datagram is taken (the main thread), it needs a handler to be processed.
      const h = this.#handlers;
      const ok = kind === "core"
        ? h.core
        : forward === "control"
        ? h.control
        : forward === "mode7"
        ? h.mode7
        : h.peer;
      if (!ok) return this.#drop("no_handler");
      this.#counters.processed();
    }
    v.kind = kind;
    v.forward = forward;
    return v;
  }

  #afterAuth(
    p: PacketIn,
    slot: ReplyBuffer,
    mode: number,
    flags: number,
    auth: Exclude<AuthResult, "forward">,
    keyId: number,
    macOffset: number,
  ): Verdict {
    const v = this.#verdict;
    const kissable = (mode === 3 || mode === 1) && (flags & RES_KOD) !== 0;
    if ((flags & RES_NOTRUST) !== 0 && auth !== "ok") {
      if (kissable) return this.#kiss(p, slot, "DENY", "notrust");
      return this.#drop("notrust");
    }
    // A crypto-NAK says "your MAC failed"; in a request it means nothing, and as a reply it is not
    // authentic itself, so it must not reach the core (counted: that is how it is recognised).
    if (auth === "crypto_nak") return this.#drop("crypto_nak");
    const failure = auth === "none" || auth === "ok" ? null : auth;
    const failed = failure !== null;
    const data = p.data;
    switch (mode) {
      case 3: {
        if (!failed && isZeroTransmit(data)) return this.#drop("zero_transmit");
        const len = this.#server.answerAdmitted(
          data,
          failed,
          p.rxUnixSec,
          p.rxUnixNsec,
          slot.buffer,
          slot.view,
        );
        slot.length = len;
        slot.stampTransmit = len > 0;
        v.kind = "reply";
        if (failure !== null) {
          // A crypto-NAK: the client learns its MAC did not verify.
          v.reason = failure;
          this.#counters.dropped(failure);
          return v;
        }
        const signer = this.#auth.signer;
        if (auth === "ok" && len === LEN_PKT_NOMAC && signer !== null) {
          // The same key and digest length as the request (never longer than it); the digest is
          // written by the finalize step, after the transmit stamp.
          const end = LEN_PKT_NOMAC + data.length - macOffset;
          putU32(slot.buffer, LEN_PKT_NOMAC, keyId);
          slot.length = end;
          slot.finalize = signer;
          v.keyId = keyId;
        }
        this.#counters.processed();
        return v;
      }
      case 1:
        if (failure !== null) return this.#drop(failure);
        // Would mobilise a symmetric passive association, unless it comes from a configured
        // peer (decided on the main thread).
        if (auth !== "ok" && !this.#serverThread && !this.#admitsUnauthenticatedPeer(p)) {
          return this.#drop("auth_required");
        }
        v.keyId = auth === "ok" ? keyId : 0;
        return this.#handOn("forward", "peer");
      case 5:
        if (failure !== null) return this.#drop(failure);
        // Would mobilise a broadcast client association (never configured one by one).
        if (auth !== "ok" && this.#authRequired) return this.#drop("auth_required");
        v.keyId = auth === "ok" ? keyId : 0;
        return this.#handOn("core", null);
      default: // 2, 4: replies, for the core; never answered here
        if (failure !== null) return this.#drop(failure);
        v.keyId = auth === "ok" ? keyId : 0;
        return this.#handOn("core", null);
    }
  }

  /**
   * `enable auth`: an unauthenticated mode 1 packet is taken only from a configured peer (the
   * rest would mobilise an ephemeral association, which needs a trusted key).
   */
  #admitsUnauthenticatedPeer(p: PacketIn): boolean {
    return !this.#authRequired || (this.#configuredPeer?.(p.src, p.srcPort) ?? false);
  }

  /**
   * An NTS-protected client request: answered with an NTS reply (sealed by the finalize step
   * after the transmit stamp), an NTS NAK when its cookie cannot be used, or dropped; each
   * refusal counted by its reason. A verified request counts as authenticated for notrust.
   */
  #ntsRequest(nts: NtsServer, p: PacketIn, slot: ReplyBuffer, flags: number): Verdict {
    const v = this.#verdict;
    const data = p.data;
    if (isZeroTransmit(data)) return this.#drop("zero_transmit");
    const verdict = nts.check(data);
    if (verdict === "ok") {
      const len = this.#server.answerAdmitted(
        data,
        false,
        p.rxUnixSec,
        p.rxUnixNsec,
        slot.buffer,
        slot.view,
      );
      const total = len === LEN_PKT_NOMAC ? nts.writeReply(data, slot.buffer, len) : 0;
      if (total === 0) return this.#drop("nts_malformed");
      slot.length = total;
      slot.stampTransmit = true;
      slot.finalize = nts;
      v.kind = "reply";
      this.#counters.processed();
      return v;
    }
    if ((flags & RES_NOTRUST) !== 0) return this.#drop("notrust");
    if (verdict !== "nts_bad_cookie" && verdict !== "nts_wrong_aead") return this.#drop(verdict);
    // An NTS NAK (kiss code NTSN, the request's unique identifier, nothing authenticated).
    this.#counters.dropped(verdict);
    v.reason = verdict;
    const len = this.#server.writeKiss(
      data,
      REFID_NTSN,
      -128,
      p.rxUnixSec,
      p.rxUnixNsec,
      slot.buffer,
      slot.view,
    );
    if (len === 0) return v;
    slot.length = nts.writeNak(data, slot.buffer, len);
    slot.stampTransmit = true;
    v.kind = "reply";
    return v;
  }

  #kiss(p: PacketIn, slot: ReplyBuffer, code: KissCode, reason: DropReason) {
    const v = this.#verdict;
    const mru = this.#mru;
    this.#counters.dropped(reason);
    v.reason = reason;
    const nowSec = p.rxUnixSec + p.rxUnixNsec * 1e-9;
    if (mru === null || !mru.takeKiss(p.src, nowSec)) return v; // kind stays "drop"
    const len = this.#server.writeKiss(
      p.data,
      code === "RATE" ? REFID_RATE : REFID_DENY,
      mru.discard.averageLog2,
      p.rxUnixSec,
      p.rxUnixNsec,
      slot.buffer,
      slot.view,
    );
    if (len === 0 || len > p.data.length) return v;
    slot.length = len;
    slot.stampTransmit = true;
    v.kind = "reply";
    v.kiss = code;
    this.#counters.kissSent();
    return v;
  }

  #drop(reason: DropReason): Verdict {
    const v = this.#verdict;
    v.kind = "drop";
    v.reason = reason;
    this.#counters.dropped(reason);
    return v;
  }
}

function putU32(b: Uint8Array, at: number, value: number): void {
  b[at] = value >>> 24;
  b[at + 1] = (value >>> 16) & 0xff;
  b[at + 2] = (value >>> 8) & 0xff;
  b[at + 3] = value & 0xff;
}

function u32At(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function isZeroTransmit(data: Uint8Array): boolean {
  for (let i = 40; i < 48; i++) if (data[i] !== 0) return false;
  return true;
}
