// A connected AF_UNIX datagram socket through libc FFI: what syslog(3) uses to reach the system
// logger at /dev/log. Non-blocking, so a stalled logger drops messages instead of stalling the
// daemon.

import { errno, openLibc, OsError } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** Bytes of `struct sockaddr_un` (family u16, path[108]). */
const SOCKADDR_UN_BYTES = 110;

/** errno values a sender tells apart. */
export const UnixErrno = {
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  ENOBUFS: 105,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
} as const;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

function sym(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= openLibc(SYMBOLS);
  return lib.symbols;
}

/**
 * Encodes `struct sockaddr_un` for a filesystem path (at most 107 bytes), or for a Linux
 * abstract name written with a leading "@" (as systemd's NOTIFY_SOCKET does): its first byte is
 * 0 and the address is only as long as the name, because every byte of it, trailing zeros
 * included, is part of an abstract name.
 */
export function encodeSockaddrUn(path: string): Uint8Array {
  const bytes = new TextEncoder().encode(path);
  const abstract = path.startsWith("@");
  if (
    bytes.length <= (abstract ? 1 : 0) || bytes.length > SOCKADDR_UN_BYTES - 3 ||
    bytes.includes(0)
  ) {
    throw new RangeError(`not a usable unix socket path: ${JSON.stringify(path)}`);
  }
  if (abstract) {
    const out = new Uint8Array(2 + bytes.length);
    new DataView(out.buffer).setUint16(0, AF_UNIX, true);
    out.set(bytes.subarray(1), 3);
    return out;
  }
  const out = new Uint8Array(SOCKADDR_UN_BYTES);
  new DataView(out.buffer).setUint16(0, AF_UNIX, true);
  out.set(bytes, 2);
  return out;
}

/**
 * Opens a non-blocking datagram socket connected to the unix socket at `path`; throws an
 * {@link OsError} ("socket" or "connect") when that fails.
 */
export function connectUnixDatagram(path: string): number {
  const addr = encodeSockaddrUn(path);
  const fd = sym().socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new OsError("socket", errno());
  if (sym().connect(fd, addr, addr.length) !== 0) {
    const e = errno();
    sym().close(fd);
    throw new OsError("connect", e, path);
  }
  return fd;
}

/** Sends one datagram without waiting; returns 0 when sent, else the errno. */
export function sendUnixDatagram(fd: number, data: Uint8Array): number {
  for (let tries = 0; tries < 3; tries++) {
    const n = Number(sym().send(fd, data, BigInt(data.length), MSG_DONTWAIT | MSG_NOSIGNAL));
    if (n >= 0) return 0;
    const e = errno();
    if (e !== UnixErrno.EINTR) return e;
  }
  return UnixErrno.EINTR;
}

/** Closes the socket. */
export function closeUnixDatagram(fd: number): void {
  sym().close(fd);
}
