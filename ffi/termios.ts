// Serial ports through FFI (open, termios, poll, read): raw 8N1 input at a chosen baud rate for
// the serial reference clocks (NMEA). struct termios layout and speed_t values: PLATFORM.md.

import { errno, openLibc, OsError } from "./libc.ts";

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  tcflush: { parameters: ["i32", "i32"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  cfsetispeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfsetospeed: { parameters: ["buffer", "u32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
function sym(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (lib === null) lib = openLibc(SYMBOLS);
  return lib.symbols;
}

/** sizeof(struct termios) on x86_64 glibc. */
export const TERMIOS_SIZE = 60;
/** Byte offsets in struct termios. */
export const TERMIOS_OFFSETS = {
  iflag: 0,
  oflag: 4,
  cflag: 8,
  lflag: 12,
  line: 16,
  cc: 17,
  ispeed: 52,
  ospeed: 56,
} as const;
/** c_cc indices. */
export const VTIME = 5;
export const VMIN = 6;
/** c_cflag bits. */
export const CREAD = 0o200;
export const CLOCAL = 0o4000;
const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const TCSANOW = 0;
const TCIFLUSH = 0;
const POLLIN = 1;
const EAGAIN = 11;
const EINTR = 4;

/** The speed_t constant of each supported baud rate (Linux termbits). */
export const BAUD_CONSTANTS: ReadonlyMap<number, number> = new Map([
  [1200, 0o11],
  [2400, 0o13],
  [4800, 0o14],
  [9600, 0o15],
  [19200, 0o16],
  [38400, 0o17],
  [57600, 0o10001],
  [115200, 0o10002],
  [230400, 0o10003],
]);

/** An open serial port (or anything else that reads bytes and can be waited on). */
export interface SerialPort {
  /** Waits until bytes can be read or `timeoutMs` passes; true when readable. */
  wait(timeoutMs: number): Promise<boolean>;
  /**
   * Reads what is there without blocking (an empty array when nothing is); throws when the
   * port has gone (hang-up, I/O error).
   */
  read(): Uint8Array;
  /** Closes the port. */
  close(): void;
}

/**
 * Sets `termios` (a struct termios copy) to raw 8-bit input at speed constant `speed`, ignoring
 * modem control lines, with reads returning as soon as one byte is there. Exported so that the
 * layout can be tested without a device.
 */
export function makeRawTermios(termios: Uint8Array, speed: number): void {
  const s = sym();
  s.cfmakeraw(termios);
  if (s.cfsetispeed(termios, speed) !== 0) throw new OsError("cfsetispeed", errno());
  if (s.cfsetospeed(termios, speed) !== 0) throw new OsError("cfsetospeed", errno());
  const dv = new DataView(termios.buffer, termios.byteOffset, TERMIOS_SIZE);
  dv.setUint32(
    TERMIOS_OFFSETS.cflag,
    dv.getUint32(TERMIOS_OFFSETS.cflag, true) | CLOCAL | CREAD,
    true,
  );
  termios[TERMIOS_OFFSETS.cc + VMIN] = 1;
  termios[TERMIOS_OFFSETS.cc + VTIME] = 0;
}

/**
 * Opens `path` (a tty) non-blocking, without making it our controlling terminal, in raw mode at
 * `baud`. Throws an OsError when it cannot be opened or is not a terminal, or an Error for a
 * baud rate that has no speed_t constant.
 */
export function openSerial(path: string, baud: number): SerialPort {
  const speed = BAUD_CONSTANTS.get(baud);
  if (speed === undefined) throw new Error(`baud rate ${baud} is not supported`);
  const s = sym();
  const fd = s.open(
    new TextEncoder().encode(path + "\0"),
    O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
  );
  if (fd < 0) throw new OsError("open", errno(), path);
  const t = new Uint8Array(TERMIOS_SIZE);
  try {
    if (s.tcgetattr(fd, t) !== 0) throw new OsError("tcgetattr", errno(), path);
    makeRawTermios(t, speed);
    if (s.tcsetattr(fd, TCSANOW, t) !== 0) throw new OsError("tcsetattr", errno(), path);
    s.tcflush(fd, TCIFLUSH);
  } catch (e) {
    s.close(fd);
    throw e;
  }
  return fdPort(fd, path);
}

/** A SerialPort over an open non-blocking descriptor. */
function fdPort(fd: number, path: string): SerialPort {
  const s = sym();
  const pfd = new Uint8Array(8);
  const pv = new DataView(pfd.buffer);
  const buf = new Uint8Array(4096);
  let open = true;
  let waiting = false;
  let closeAfterWait = false;
  return {
    async wait(timeoutMs) {
      if (!open) return false;
      pv.setInt32(0, fd, true);
      pv.setInt16(4, POLLIN, true);
      pv.setInt16(6, 0, true);
      waiting = true;
      const r = await s.poll(pfd, 1n, Math.max(0, Math.floor(timeoutMs)));
      waiting = false;
      if (closeAfterWait) {
        closeAfterWait = false;
        s.close(fd);
        return false;
      }
      return r > 0 && pv.getInt16(6, true) !== 0;
    },
    read() {
      if (!open) return new Uint8Array(0);
      const n = Number(s.read(fd, buf, BigInt(buf.length)));
      if (n < 0) {
        const e = errno();
        if (e === EAGAIN || e === EINTR) return new Uint8Array(0);
        throw new OsError("read", e, path);
      }
      // With O_NONBLOCK "nothing yet" is EAGAIN: 0 is the end (the other side hung up).
      if (n === 0) throw new Error(`read ${path}: end of input (hung up)`);
      return buf.slice(0, n);
    },
    close() {
      if (!open) return;
      open = false;
      // A poll in flight on the helper thread still uses the descriptor: close when it ends.
      if (waiting) closeAfterWait = true;
      else s.close(fd);
    },
  };
}
