// The client side of mode 7 for `horae dc` (what ntpdc does): one request, then the answer's
// datagrams collected by sequence number until the last one (no "more" bit) and every one
// before it are in; a server that says "implementation incompatible" is asked again with the
// IPv4-only implementation number, as ntpdc falls back.

import type { ControlLink } from "./query_client.ts";
import {
  decodeMode7,
  encodeMode7Request,
  IMPL_XNTPD,
  IMPL_XNTPD_OLD,
  MODE7_ERROR_TEXT,
  MODE7_MAXSEQ,
  Mode7Err,
  mode7Items,
} from "../proto/control/mode7.ts";

/** A failed request: the server's error code, or −1 for a local failure. */
export class Mode7Error extends Error {
  readonly code: number;
  constructor(message: string, code = -1) {
    super(message);
    this.name = "Mode7Error";
    this.code = code;
  }
}

/** An answer: its items and their size. */
export interface Mode7Response {
  items: Uint8Array[];
  itemSize: number;
  /** The implementation number the server answered for. */
  implementation: number;
}

/** Options of one request. */
export interface Mode7Query {
  items?: readonly Uint8Array[];
  /** Item size for the current implementation, and for the IPv4-only one. */
  itemSize?: number;
  v4ItemSize?: number;
}

/** Mode 7 requests to one server. */
export class Mode7Client {
  readonly #link: ControlLink;
  /** ms to wait for the first datagram of an answer (ntpdc's default is 5 s). */
  timeoutMs = 5000;
  /** ms to wait for each further datagram (ntpdc: 2 s). */
  moreTimeoutMs = 2000;
  /** IMPL_XNTPD until a server asks for the old one. */
  implementation: number = IMPL_XNTPD;
  /** Debug lines, when set. */
  debug: ((line: string) => void) | null = null;

  constructor(link: ControlLink) {
    this.#link = link;
  }

  close(): void {
    this.#link.close();
  }

  /** Sends `request` and collects the answer; throws {@link Mode7Error}. */
  async query(request: number, q: Mode7Query = {}): Promise<Mode7Response> {
    try {
      return await this.#once(request, q);
    } catch (e) {
      if (
        e instanceof Mode7Error && e.code === Mode7Err.IMPL && this.implementation === IMPL_XNTPD
      ) {
        this.implementation = IMPL_XNTPD_OLD;
        return await this.#once(request, q);
      }
      throw e;
    }
  }

  async #once(request: number, q: Mode7Query): Promise<Mode7Response> {
    const old = this.implementation === IMPL_XNTPD_OLD;
    const itemSize = old ? q.v4ItemSize ?? q.itemSize ?? 0 : q.itemSize ?? 0;
    const req = encodeMode7Request({
      request,
      implementation: this.implementation,
      items: q.items ?? [],
      itemSize,
    });
    // Drain anything left over from an earlier, timed-out request.
    while (await this.#link.receive(0) !== null) { /* stale */ }
    this.debug?.(`sending ${req.length} octets, request ${request}, impl ${this.implementation}`);
    this.#link.send(req);
    const parts = new Map<number, Uint8Array[]>();
    let last = -1;
    let size = -1;
    let impl = this.implementation;
    for (let n = 0; n < 4 * (MODE7_MAXSEQ + 1); n++) {
      const d = await this.#link.receive(parts.size === 0 ? this.timeoutMs : this.moreTimeoutMs);
      if (d === null) {
        throw new Mode7Error(
          parts.size === 0 ? "***Request timed out" : "***Response from server was incomplete",
        );
      }
      const r = decodeMode7(d);
      if (!r.ok) continue;
      const m = r.message;
      if (!m.response || m.request !== request) continue;
      this.debug?.(
        `received ${d.length} octets, seq ${m.sequence}${m.more ? " more" : ""}, ` +
          `err ${m.error}, ${m.nitems} items of ${m.itemSize}`,
      );
      if (m.error !== 0) {
        throw new Mode7Error(
          MODE7_ERROR_TEXT[m.error] ?? `***Server returns unknown error code ${m.error}`,
          m.error,
        );
      }
      const items = mode7Items(m);
      if (items === null || parts.has(m.sequence)) continue;
      if (size >= 0 && m.itemSize !== size) continue;
      size = m.itemSize;
      impl = m.implementation;
      parts.set(m.sequence, items.map((i) => i.slice()));
      if (!m.more) last = m.sequence;
      if (last >= 0 && parts.size === last + 1) break;
    }
    if (last < 0 || parts.size !== last + 1) {
      throw new Mode7Error("***Response from server was incomplete");
    }
    const items: Uint8Array[] = [];
    for (let s = 0; s <= last; s++) items.push(...parts.get(s)!);
    return { items, itemSize: size, implementation: impl };
  }
}
