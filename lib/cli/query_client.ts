// The client side of mode 6 for `horae query` (RFC 9327; what ntpq does): numbered requests,
// signed with a key when asked, answers reassembled from their fragments with ntpq's timeouts
// and one retry, status and association lists, variable lists, and the MRU walk (nonce, then
// READ_MRU requests that name the newest entries already held).

import { KeyStore, type StoredKey } from "../proto/auth/key_store.ts";
import { signPacket } from "../proto/auth/mac.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import type { MacAlgorithm } from "../proto/crypto.ts";
import {
  controlMacOffset,
  CTL_ERROR_TEXT,
  CTL_MAX_DATA_LEN,
  CtlOp,
  encodeControl,
  Reassembler,
} from "../proto/control/mode6.ts";
import { asciiBytes, bytesText, parseVarList, type VarItem } from "../proto/control/var_list.ts";
import type { SocketAddress, Transport } from "../net/transport.ts";

/** A datagram path to one server. */
export interface ControlLink {
  send(data: Uint8Array): void;
  /** The next datagram from the server, or null when `timeoutMs` passes first. */
  receive(timeoutMs: number): Promise<Uint8Array | null>;
  close(): void;
}

/**
 * A link over a {@link Transport}: datagrams from `server` are queued as they arrive. `pump`, when
 * given, is called while waiting (an in-memory network delivers then) instead of sleeping.
 */
export function transportLink(
  transport: Transport,
  server: SocketAddress,
  pump?: () => void,
): ControlLink {
  const queue: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  const serving = transport.serve((d) => {
    if (d.peer.port !== server.port) return;
    queue.push(d.data.slice());
    wake?.();
  });
  return {
    send: (data) => transport.send(data, server, false),
    async receive(timeoutMs) {
      if (pump !== undefined) {
        if (queue.length === 0) pump();
        return queue.shift() ?? null;
      }
      if (queue.length > 0) return queue.shift()!;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      wake = null;
      return queue.shift() ?? null;
    },
    close() {
      transport.close();
      void serving.catch(() => {});
    },
  };
}

/** A failed request: the server's error code, or a local reason. */
export class ControlError extends Error {
  /** The server's error code (CERR_*), or −1 for a local failure (timeout, garbage). */
  readonly code: number;
  constructor(message: string, code = -1) {
    super(message);
    this.name = "ControlError";
    this.code = code;
  }
}

/** An answer: the reassembled data, the status word and the association it is about. */
export interface ControlResponse {
  data: Uint8Array;
  status: number;
  associd: number;
}

/** The key requests are signed with. */
export interface ClientKey {
  id: number;
  algorithm: MacAlgorithm;
  key: Uint8Array;
}

/** One entry of the MRU list as the walk collects it. */
export interface MruRow {
  /** `address:port` (`[v6]:port`). */
  addr: string;
  /** First and last packet, NTP seconds as floats. */
  first: number;
  last: number;
  /** `last` as the server wrote it (echoed back exactly to continue the walk). */
  lastHex: string;
  count: number;
  mode: number;
  version: number;
  /** Restrict flags, in the wire's (NTPsec's) bits. */
  restrict: number;
}

/** The collected MRU list. */
export interface MruList {
  rows: MruRow[];
  /** The server's time at the end of the walk, NTP seconds, or null when it did not end. */
  now: number | null;
}

/** Seconds of a hex NTP timestamp `0xSSSSSSSS.FFFFFFFF` as a float; NaN when it is not one. */
export function ntpHexSeconds(text: string): number {
  const m = /^(?:0x)?([0-9a-fA-F]{1,8})\.([0-9a-fA-F]{1,8})$/.exec(text.trim());
  if (m === null) return NaN;
  return parseInt(m[1]!, 16) + parseInt(m[2]!.padEnd(8, "0"), 16) / 2 ** 32;
}

/** A control session with one server (ntpq's). */
export class ControlClient {
  readonly #link: ControlLink;
  #sequence = 0;
  /** NTP version of requests (ntpq sends 2; any 1–4 is answered). */
  version = 2;
  /** Waiting for the first fragment and for each further one, ms. */
  primaryTimeoutMs = 5000;
  secondaryTimeoutMs = 3000;
  #key: StoredKey | null = null;
  /** Requests sent (for tests). */
  sent = 0;
  /** Where `-d` writes each request and answer, or null. */
  debug: ((line: string) => void) | null = null;

  constructor(link: ControlLink) {
    this.#link = link;
  }

  /** Signs requests that change things with `key` (null: none). */
  setKey(key: ClientKey | null): void {
    if (key === null) {
      this.#key = null;
      return;
    }
    const store = new KeyStore(new PureCrypto(), [{ ...key, allowed: null }], [key.id]);
    this.#key = store.get(key.id)!;
  }

  /** True when a key is set. */
  get hasKey(): boolean {
    return this.#key !== null;
  }

  /** Closes the link. */
  close(): void {
    this.#link.close();
  }

  #build(opcode: number, associd: number, data: Uint8Array, auth: boolean): Uint8Array {
    this.#sequence = (this.#sequence % 0xffff) + 1;
    const h = {
      version: this.version,
      response: false,
      error: false,
      more: false,
      opcode,
      sequence: this.#sequence,
      status: 0,
      associd,
      offset: 0,
    };
    if (!auth) return encodeControl(h, data);
    const key = this.#key;
    if (key === null) throw new ControlError("***No key id and password: use keyid and passwd");
    const buf = encodeControl(h, data, 4 + key.v4DigestLength);
    signPacket(buf, controlMacOffset(data.length), key, key.v4DigestLength);
    return buf;
  }

  /**
   * Sends a request and waits for the whole answer; one retry after a timeout, as ntpq does.
   * Throws a {@link ControlError} for a server error or when nothing (complete) comes back.
   */
  async request(
    opcode: number,
    associd = 0,
    text: string | Uint8Array = "",
    auth = false,
  ): Promise<ControlResponse> {
    const data = typeof text === "string" ? asciiBytes(text) : text;
    if (data.length > CTL_MAX_DATA_LEN) {
      throw new ControlError(`***Request too long (${data.length} bytes)`);
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      const req = this.#build(opcode, associd, data, auth);
      this.debug?.(
        `sendrequest: opcode=${opcode}, associd=${associd}, sequence=${this.#sequence}, ` +
          `${req.length} bytes${auth ? ", signed" : ""}`,
      );
      this.#link.send(req);
      this.sent++;
      const r = new Reassembler(this.#sequence, opcode);
      let timeout = this.primaryTimeoutMs;
      for (let n = 0; n < 64; n++) {
        const d = await this.#link.receive(timeout);
        if (d === null) break;
        const step = r.add(d);
        this.debug?.(`received ${d.length} bytes: ${step}`);
        if (step === "error") {
          const text = CTL_ERROR_TEXT[r.errorCode] ?? `error ${r.errorCode}`;
          throw new ControlError(`***Server reports ${text}`, r.errorCode);
        }
        if (step === "bad") break;
        if (step === "complete") return { data: r.data!, status: r.status, associd: r.associd };
        if (step === "incomplete") timeout = this.secondaryTimeoutMs;
      }
      if (r.fragments > 0 && attempt === 1) {
        throw new ControlError("***Response from server was incomplete");
      }
    }
    throw new ControlError("***Request timed out");
  }

  /** READSTAT 0: the system status and each association's id and status. */
  async associations(): Promise<{ status: number; list: { id: number; status: number }[] }> {
    const r = await this.request(CtlOp.READSTAT);
    const list: { id: number; status: number }[] = [];
    for (let i = 0; i + 4 <= r.data.length; i += 4) {
      const d = r.data;
      list.push({ id: (d[i]! << 8) | d[i + 1]!, status: (d[i + 2]! << 8) | d[i + 3]! });
    }
    list.sort((a, b) => a.id - b.id);
    return { status: r.status, list };
  }

  /** READVAR (or READCLOCK) of `names` (all defaults when empty). */
  async readVars(
    associd: number,
    names: readonly string[] = [],
    opcode: number = CtlOp.READVAR,
  ): Promise<{ status: number; associd: number; vars: VarItem[]; text: string }> {
    const r = await this.request(opcode, associd, names.join(","));
    const text = bytesText(r.data);
    return { status: r.status, associd: r.associd, vars: parseVarList(text), text };
  }

  /** WRITEVAR: `assignments` as `name=value` text, signed. */
  async writeVars(associd: number, assignments: string): Promise<number> {
    const r = await this.request(CtlOp.WRITEVAR, associd, assignments, true);
    return r.status;
  }

  /** CONFIGURE (`:config`): the server's answer text. */
  async configure(text: string): Promise<string> {
    const r = await this.request(CtlOp.CONFIGURE, 0, text, true);
    return bytesText(r.data).replace(/\0.*$/s, "").trim();
  }

  /** REQ_NONCE: the nonce item ("nonce=…"). */
  async nonce(): Promise<string> {
    const r = await this.request(CtlOp.REQ_NONCE);
    const text = bytesText(r.data).trim();
    if (!text.startsWith("nonce=")) throw new ControlError("***Unexpected nonce response format");
    return text.split(/[,\r\n]/)[0]!;
  }

  /**
   * The MRU list: a nonce, then READ_MRU requests (`params` as `name=value` items, e.g.
   * `mincount=2`) each naming the newest entries already held so the server continues after
   * them, until the server marks the end. At most `maxRounds` requests.
   */
  async mrulist(params: readonly string[] = [], maxRounds = 1000): Promise<MruList> {
    let nonce = await this.nonce();
    let nonceAt = Date.now();
    const rows: MruRow[] = [];
    let frags = 8;
    let restarts = 0;
    let extra = params.length > 0 ? `, ${params.join(", ")}` : "";
    for (let round = 0; round < maxRounds; round++) {
      let prior = "";
      for (let i = 0; i < Math.min(rows.length, 16); i++) {
        const e = rows[rows.length - 1 - i]!;
        const next = `, addr.${i}=${e.addr}, last.${i}=${e.lastHex}`;
        if (nonce.length + extra.length + prior.length + next.length + 12 >= CTL_MAX_DATA_LEN) {
          break;
        }
        prior += next;
      }
      let r: ControlResponse;
      try {
        r = await this.request(CtlOp.READ_MRU, 0, `${nonce}, frags=${frags}${extra}${prior}`);
      } catch (e) {
        if (e instanceof ControlError && e.code === 5 && restarts < 8) {
          // None of our newest entries is unchanged there: start again from the beginning.
          restarts++;
          rows.length = 0;
          continue;
        }
        throw e;
      }
      // `recent` applies to the first request only.
      extra = extra.replace(/, recent=\d+/, "");
      const items = parseVarList(bytesText(r.data));
      const byIndex = new Map<number, Partial<Record<string, string>>>();
      let now: number | null = null;
      for (const { name, value } of items) {
        if (value === null) continue;
        if (name === "nonce") nonce = `nonce=${value}`;
        else if (name === "now") now = ntpHexSeconds(value);
        const m = /^(addr|last|first|ct|mv|rs)\.(\d+)$/.exec(name);
        if (m === null) continue;
        const k = Number(m[2]);
        const e = byIndex.get(k) ?? {};
        e[m[1]!] = value;
        byIndex.set(k, e);
      }
      for (const [, e] of [...byIndex].sort((a, b) => a[0] - b[0])) {
        if (e.addr === undefined || e.last === undefined) continue;
        const row: MruRow = {
          addr: e.addr,
          first: ntpHexSeconds(e.first ?? e.last),
          last: ntpHexSeconds(e.last),
          lastHex: e.last,
          count: Number(e.ct ?? 0),
          mode: Number(e.mv ?? 0) & 7,
          version: (Number(e.mv ?? 0) >> 3) & 7,
          restrict: Number(e.rs ?? 0),
        };
        // An address seen again moved to the newest end of the list: keep its newest row only.
        const old = rows.findIndex((x) => x.addr === row.addr);
        if (old >= 0) rows.splice(old, 1);
        rows.push(row);
      }
      if (now !== null) return { rows, now };
      frags = Math.min(32, frags + 1);
      if (Date.now() - nonceAt >= 16_000) {
        nonce = await this.nonce();
        nonceAt = Date.now();
      }
    }
    return { rows, now: null };
  }
}
