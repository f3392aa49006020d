// A raw NTS-KE client for interop tests: TLS 1.3 through the project's libssl binding, then a
// request written in pieces of any size (one TLS record and one TCP write each), and the reply
// read to End of Message. For the byte-by-byte, wrong-AEAD and flood tests against a running
// daemon (run inside the test's network namespace through a small script, or on loopback).

import { TlsContext } from "../../ffi/libssl.ts";
import { TlsStream } from "../../lib/net/tls_stream.ts";
import { encodeRecords, KeRecordReader, NTS_KE_ALPN } from "../../lib/proto/nts/ke_records.ts";
import {
  buildKeRequest,
  interpretKeResponse,
  type KeResponseResult,
} from "../../lib/proto/nts/ke_negotiation.ts";

/** What one raw exchange gave. */
export type RawKeOutcome =
  | { ok: true; response: KeResponseResult }
  | { ok: false; reason: string };

/** One exchange with `host`:`port` offering `aeadIds`, the request written `step` bytes a time. */
export async function rawKeExchange(opts: {
  host: string;
  port: number;
  ca: string;
  aeadIds: number[];
  step: number;
  pauseMs?: number;
}): Promise<RawKeOutcome> {
  const ctx = TlsContext.create({
    role: "client",
    alpn: NTS_KE_ALPN,
    minVersion: "TLS1.3",
    maxVersion: "TLS1.3",
    caFile: opts.ca,
  });
  if (!ctx.ok) return { ok: false, reason: ctx.reason };
  let stream: TlsStream | null = null;
  try {
    const conn = await Deno.connect({ hostname: opts.host, port: opts.port });
    conn.setNoDelay(true);
    stream = new TlsStream(conn, ctx.context.session(opts.host));
    const hs = await stream.handshake();
    if (!hs.ok) return { ok: false, reason: hs.reason };
    const request = encodeRecords(buildKeRequest({ aeadIds: opts.aeadIds }));
    for (let i = 0; i < request.length; i += opts.step) {
      const w = await stream.write(request.subarray(i, i + opts.step));
      if (!w.ok) return { ok: false, reason: w.reason };
      if (opts.pauseMs !== undefined) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
    const reader = new KeRecordReader();
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 1000; i++) {
      const n = await stream.read(buf);
      if (n === "eof") return { ok: false, reason: "closed before End of Message" };
      if (typeof n !== "number") return { ok: false, reason: n.reason };
      const r = reader.push(buf.subarray(0, n));
      if (r.status === "error") return { ok: false, reason: r.reason };
      if (r.status === "done") {
        return { ok: true, response: interpretKeResponse(r.records, opts.aeadIds) };
      }
    }
    return { ok: false, reason: "no End of Message" };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await stream?.close();
    ctx.context.close();
  }
}
