// The RFC 2783 PPS API over Linux's /dev/ppsN ioctls (PPS_GETCAP, PPS_GETPARAMS, PPS_SETPARAMS,
// PPS_FETCH with a timeout, PPS_KC_BIND): the structs are encoded here by hand, with the
// ioctl numbers and layouts of PLATFORM.md. The system calls go through a small interface
// (PpsSyscalls) so that tests can put a fake kernel behind the same code.

import { errno, openLibc, OsError } from "./libc.ts";

/** ioctl request numbers (linux/pps.h; the size field is 8: the header declares pointers). */
export const PPS_GETPARAMS = 0x800870a1;
export const PPS_SETPARAMS = 0x400870a2;
export const PPS_GETCAP = 0x800870a3;
export const PPS_FETCH = 0xc00870a4;
export const PPS_KC_BIND = 0x400870a5;

/** Mode and capability bits (RFC 2783 §3.3). */
export const PPS_CAPTUREASSERT = 0x01;
export const PPS_CAPTURECLEAR = 0x02;
export const PPS_OFFSETASSERT = 0x10;
export const PPS_OFFSETCLEAR = 0x20;
export const PPS_ECHOASSERT = 0x40;
export const PPS_ECHOCLEAR = 0x80;
export const PPS_CANWAIT = 0x100;
export const PPS_CANPOLL = 0x200;
export const PPS_TSFMT_TSPEC = 0x1000;
export const PPS_TSFMT_NTPFP = 0x2000;
/** The kernel consumer PPS_KC_BIND binds (the hardpps() discipline). */
export const PPS_KC_HARDPPS = 0;
/** api_version of struct pps_kparams. */
export const PPS_API_VERS_1 = 1;

/** Struct sizes (x86_64). */
export const PPS_KTIME_SIZE = 16;
export const PPS_KINFO_SIZE = 48;
export const PPS_KPARAMS_SIZE = 40;
export const PPS_FDATA_SIZE = 64;
export const PPS_BIND_ARGS_SIZE = 12;

/** struct pps_ktime: a time (or an offset) as seconds and nanoseconds. */
export interface PpsKtime {
  sec: number;
  nsec: number;
  flags: number;
}

/** struct pps_kinfo: the last assert and clear events and their sequence numbers. */
export interface PpsInfo {
  assertSequence: number;
  clearSequence: number;
  assert: PpsKtime;
  clear: PpsKtime;
  currentMode: number;
}

/** struct pps_kparams. */
export interface PpsParams {
  apiVersion: number;
  mode: number;
  assertOffset: PpsKtime;
  clearOffset: PpsKtime;
}

function readKtime(dv: DataView, at: number): PpsKtime {
  return {
    sec: Number(dv.getBigInt64(at, true)),
    nsec: dv.getInt32(at + 8, true),
    flags: dv.getUint32(at + 12, true),
  };
}

function writeKtime(dv: DataView, at: number, t: PpsKtime): void {
  dv.setBigInt64(at, BigInt(Math.trunc(t.sec)), true);
  dv.setInt32(at + 8, t.nsec | 0, true);
  dv.setUint32(at + 12, t.flags >>> 0, true);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Encodes struct pps_kparams (40 bytes). */
export function encodePpsParams(p: PpsParams): Uint8Array {
  const b = new Uint8Array(PPS_KPARAMS_SIZE);
  const dv = view(b);
  dv.setInt32(0, p.apiVersion, true);
  dv.setInt32(4, p.mode, true);
  writeKtime(dv, 8, p.assertOffset);
  writeKtime(dv, 24, p.clearOffset);
  return b;
}

/** Decodes struct pps_kparams. */
export function decodePpsParams(b: Uint8Array): PpsParams {
  const dv = view(b);
  return {
    apiVersion: dv.getInt32(0, true),
    mode: dv.getInt32(4, true),
    assertOffset: readKtime(dv, 8),
    clearOffset: readKtime(dv, 24),
  };
}

/** Encodes struct pps_fdata (64 bytes): an empty info and the wait `timeoutSec`. */
export function encodePpsFetch(timeoutSec: number): Uint8Array {
  const b = new Uint8Array(PPS_FDATA_SIZE);
  const sec = Math.floor(timeoutSec);
  writeKtime(view(b), 48, { sec, nsec: Math.round((timeoutSec - sec) * 1e9), flags: 0 });
  return b;
}

/** Decodes the pps_kinfo at the start of a struct pps_fdata (or a bare pps_kinfo). */
export function decodePpsInfo(b: Uint8Array): PpsInfo {
  const dv = view(b);
  return {
    assertSequence: dv.getUint32(0, true),
    clearSequence: dv.getUint32(4, true),
    assert: readKtime(dv, 8),
    clear: readKtime(dv, 24),
    currentMode: dv.getInt32(40, true),
  };
}

/** Encodes struct pps_bind_args (12 bytes): tsformat, edge (0 unbinds), consumer. */
export function encodePpsBind(tsformat: number, edge: number, consumer: number): Uint8Array {
  const b = new Uint8Array(PPS_BIND_ARGS_SIZE);
  const dv = view(b);
  dv.setInt32(0, tsformat, true);
  dv.setInt32(4, edge, true);
  dv.setInt32(8, consumer, true);
  return b;
}

/** The system calls a PPS device needs: the FFI boundary, which tests replace. */
export interface PpsSyscalls {
  /** open(2); a descriptor or -1. */
  open(path: string): number;
  close(fd: number): void;
  /** ioctl(2) with a pointer argument; 0 or -1. */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /**
   * The same on a helper thread, for calls that wait (PPS_FETCH with a timeout). That thread's
   * errno cannot be read afterwards: the caller asks again without waiting to learn it.
   */
  ioctlWait(fd: number, request: number, arg: Uint8Array): Promise<number>;
  /** errno of the last failed call. */
  errno(): number;
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl_wait: {
    name: "ioctl",
    parameters: ["i32", "u64", "buffer"],
    result: "i32",
    nonblocking: true,
  },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

/** The real system calls through glibc. */
export const LINUX_PPS_SYSCALLS: PpsSyscalls = {
  open(path) {
    if (lib === null) lib = openLibc(SYMBOLS);
    const O_RDWR_CLOEXEC = 0o2 | 0o2000000;
    return lib.symbols.open(new TextEncoder().encode(path + "\0"), O_RDWR_CLOEXEC);
  },
  close(fd) {
    lib?.symbols.close(fd);
  },
  ioctl(fd, request, arg) {
    return lib!.symbols.ioctl(fd, BigInt(request), arg);
  },
  ioctlWait(fd, request, arg) {
    return lib!.symbols.ioctl_wait(fd, BigInt(request), arg);
  },
  errno() {
    return errno();
  },
};

/** An open PPS device (RFC 2783's handle). */
export interface PpsDevice {
  /** The device's capabilities (PPS_GETCAP). */
  capabilities(): number;
  /** Its parameters (PPS_GETPARAMS). */
  params(): PpsParams;
  /** Sets its parameters (PPS_SETPARAMS). */
  setParams(p: PpsParams): void;
  /** The latest events, waiting up to `timeoutSec` for a new one (PPS_FETCH). */
  fetch(timeoutSec: number): Promise<PpsInfo>;
  /** Binds the kernel's hardpps() discipline to `edge` (0 unbinds) (PPS_KC_BIND). */
  bindKernel(edge: number): void;
  close(): void;
}

/** Opens the PPS device `path`; throws an OsError when it cannot be opened. */
export function openPpsDevice(path: string, sys: PpsSyscalls = LINUX_PPS_SYSCALLS): PpsDevice {
  const fd = sys.open(path);
  if (fd < 0) throw new OsError("open", sys.errno(), path);
  let open = true;
  const call = (name: string, req: number, arg: Uint8Array) => {
    if (!open) throw new Error(`${path} is closed`);
    if (sys.ioctl(fd, req, arg) < 0) throw new OsError(name, sys.errno(), path);
  };
  return {
    capabilities() {
      const b = new Uint8Array(4);
      call("ioctl(PPS_GETCAP)", PPS_GETCAP, b);
      return view(b).getInt32(0, true);
    },
    params() {
      const b = new Uint8Array(PPS_KPARAMS_SIZE);
      call("ioctl(PPS_GETPARAMS)", PPS_GETPARAMS, b);
      return decodePpsParams(b);
    },
    setParams(p) {
      call("ioctl(PPS_SETPARAMS)", PPS_SETPARAMS, encodePpsParams(p));
    },
    async fetch(timeoutSec) {
      if (!open) throw new Error(`${path} is closed`);
      const b = encodePpsFetch(timeoutSec);
      const r = await sys.ioctlWait(fd, PPS_FETCH, b);
      if (r < 0) {
        // Most often ETIMEDOUT (no pulse within the timeout). Ask once more without waiting
        // (a zero timeout does not wait), on this thread, to read the state or the real error.
        const again = encodePpsFetch(0);
        if (sys.ioctl(fd, PPS_FETCH, again) < 0) {
          throw new OsError("ioctl(PPS_FETCH)", sys.errno(), path);
        }
        return decodePpsInfo(again);
      }
      return decodePpsInfo(b);
    },
    bindKernel(edge) {
      call("ioctl(PPS_KC_BIND)", PPS_KC_BIND, encodePpsBind(PPS_TSFMT_TSPEC, edge, PPS_KC_HARDPPS));
    },
    close() {
      if (!open) return;
      open = false;
      sys.close(fd);
    },
  };
}
