// A TLS session (ffi/libssl.ts, memory BIOs) carried over a Deno TCP connection: the session
// never touches the socket, so every wait is an ordinary `await conn.read()` and the event loop
// keeps running while a peer is slow. Timeouts belong to the caller: closing the connection ends
// any pending step with an error.

import type { TlsSession, TlsStep } from "../../ffi/libssl.ts";

/** A failed step: what went wrong, in words for the log. */
export interface TlsFailure {
  ok: false;
  reason: string;
}

/** A TLS session over a TCP connection. */
export class TlsStream {
  readonly #conn: Deno.Conn;
  readonly #session: TlsSession;
  readonly #netBuf = new Uint8Array(16384);
  #closed = false;
  /** Ciphertext bytes received from the network (for bounds and statistics). */
  bytesIn = 0;

  /** Wraps `conn` and `session`; the stream owns both from here on. */
  constructor(conn: Deno.Conn, session: TlsSession) {
    this.#conn = conn;
    this.#session = session;
  }

  /** The TLS session (for ALPN, the exporter and certificate results). */
  get session(): TlsSession {
    return this.#session;
  }

  async #flush(): Promise<void> {
    for (let i = 0; i < 64; i++) {
      const out = this.#session.takeOutput();
      if (out === null) return;
      let at = 0;
      while (at < out.length) at += await this.#conn.write(out.subarray(at));
    }
  }

  /** Reads ciphertext into the session: false on end of stream. */
  async #pull(): Promise<boolean> {
    const n = await this.#conn.read(this.#netBuf);
    if (n === null) return false;
    this.bytesIn += n;
    this.#session.feed(this.#netBuf.subarray(0, n));
    return true;
  }

  /** Runs the handshake to its end. */
  async handshake(): Promise<{ ok: true } | TlsFailure> {
    try {
      for (;;) {
        const st = this.#session.handshake();
        await this.#flush();
        if (st.status === "done") return { ok: true };
        if (st.status !== "want") return { ok: false, reason: stepReason(st) };
        if (!(await this.#pull())) {
          return { ok: false, reason: "connection closed during the TLS handshake" };
        }
      }
    } catch (e) {
      return { ok: false, reason: ioReason(e, "TLS handshake") };
    }
  }

  /** Sends `data` as one TLS write (one or more records). */
  async write(data: Uint8Array): Promise<{ ok: true } | TlsFailure> {
    try {
      const st = this.#session.write(data);
      await this.#flush();
      return st.status === "done" ? { ok: true } : { ok: false, reason: stepReason(st) };
    } catch (e) {
      return { ok: false, reason: ioReason(e, "TLS write") };
    }
  }

  /**
   * Reads application data into `buf`: a byte count, "eof" when the peer closed (with or without
   * close_notify: NTS-KE messages end with their own End of Message), or a failure.
   */
  async read(buf: Uint8Array): Promise<number | "eof" | TlsFailure> {
    try {
      for (;;) {
        const r = this.#session.read(buf);
        if (typeof r === "number") return r;
        await this.#flush();
        if (r.status === "closed") return "eof";
        if (r.status !== "want") return { ok: false, reason: stepReason(r) };
        if (!(await this.#pull())) return "eof";
      }
    } catch (e) {
      return { ok: false, reason: ioReason(e, "TLS read") };
    }
  }

  /** Sends close_notify (best effort), closes the connection and frees the session. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#session.shutdown();
      await this.#flush();
    } catch {
      // The peer may be gone already; closing is all that is left.
    }
    this.abort();
  }

  /** Closes the connection at once (timeouts); pending reads and writes end with a failure. */
  abort(): void {
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#session.free();
  }
}

function stepReason(st: TlsStep): string {
  switch (st.status) {
    case "error":
      return st.reason;
    case "closed":
      return "peer closed the TLS session";
    default:
      return `unexpected TLS state ${st.status}`;
  }
}

function ioReason(e: unknown, what: string): string {
  if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) {
    return `${what}: connection closed (timeout or shutdown)`;
  }
  return `${what}: ${(e as Error).message}`;
}
