// Opens the best UDP transport this process may use: the FFI socket (batched, kernel
// timestamps) when FFI is permitted, else Deno.listenDatagram, and says which and why.

import { LIBC_PATH } from "../../ffi/libc.ts";
import { socketLib } from "../../ffi/socket.ts";
import type { Transport } from "./transport.ts";
import { DatagramTransport } from "./datagram_transport.ts";
import { UdpTransport, type UdpTransportOptions } from "./udp_transport.ts";

/** Which implementation was opened. */
export type UdpTransportKind = "ffi" | "datagram";

/** Options of `openUdpTransport`: those of `UdpTransport` plus a preference. */
export interface OpenUdpTransportOptions extends UdpTransportOptions {
  /** "auto" (default): FFI when permitted; "ffi" or "datagram" force one (throwing if unusable). */
  prefer?: "auto" | UdpTransportKind;
}

/** The opened transport, its kind and a one-line reason for the choice (for the log). */
export interface OpenedUdpTransport {
  transport: Transport;
  kind: UdpTransportKind;
  reason: string;
}

/** Whether FFI sockets can be used, asking no permission prompt; `reason` when they cannot. */
export function ffiSocketsUsable(): { ok: true } | { ok: false; reason: string } {
  let state: Deno.PermissionState;
  try {
    state = Deno.permissions.querySync({ name: "ffi", path: LIBC_PATH }).state;
  } catch (e) {
    return { ok: false, reason: `FFI permission unknown (${(e as Error).message})` };
  }
  if (state !== "granted") return { ok: false, reason: `FFI not permitted for ${LIBC_PATH}` };
  try {
    socketLib();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `cannot load ${LIBC_PATH}: ${(e as Error).message}` };
  }
}

function datagramUsable(): { ok: true } | { ok: false; reason: string } {
  return typeof Deno.listenDatagram === "function"
    ? { ok: true }
    : { ok: false, reason: "Deno.listenDatagram needs --unstable-net" };
}

/**
 * Opens a UDP transport: the FFI `UdpTransport` when FFI is permitted, else the
 * `Deno.listenDatagram` fallback (which ignores the batch, buffer-size, timestamp, reusePort,
 * v6Only and tos options). Bind errors are thrown, never hidden by falling back.
 */
export function openUdpTransport(options: OpenUdpTransportOptions): OpenedUdpTransport {
  const prefer = options.prefer ?? "auto";
  if (prefer !== "datagram") {
    const ffi = ffiSocketsUsable();
    if (ffi.ok) {
      return {
        // Client requests get kernel transmit timestamps unless asked otherwise.
        transport: new UdpTransport({ txTimestamps: true, ...options }),
        kind: "ffi",
        reason: "FFI sockets: recvmmsg/sendmmsg batches with kernel timestamps",
      };
    }
    if (prefer === "ffi") throw new Error(`FFI UDP transport unavailable: ${ffi.reason}`);
    const dg = datagramUsable();
    if (!dg.ok) throw new Error(`no UDP transport: ${ffi.reason}; ${dg.reason}`);
    return {
      transport: openDatagram(options),
      kind: "datagram",
      reason: `Deno.listenDatagram fallback (${ffi.reason}): no kernel timestamps`,
    };
  }
  const dg = datagramUsable();
  if (!dg.ok) throw new Error(`Deno.listenDatagram transport unavailable: ${dg.reason}`);
  return {
    transport: openDatagram(options),
    kind: "datagram",
    reason: "Deno.listenDatagram as asked: no kernel timestamps",
  };
}

function openDatagram(options: OpenUdpTransportOptions): DatagramTransport {
  return new DatagramTransport({
    address: options.address,
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.reuseAddress === undefined ? {} : { reuseAddress: options.reuseAddress }),
    ...(options.bufferBytes === undefined ? {} : { bufferBytes: options.bufferBytes }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}
