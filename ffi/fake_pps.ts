// A fake PPS kernel behind the PpsSyscalls boundary: it decodes the ioctl arguments as Linux's
// pps driver does (drivers/pps/pps.c semantics: capabilities, parameter checks, PPS_FETCH
// waiting for a new event or ETIMEDOUT, a zero timeout not waiting, PPS_KC_BIND checks) and
// writes its answers in the same struct layouts, so that tests run the real ffi/pps.ts code.

import {
  PPS_API_VERS_1,
  PPS_CANWAIT,
  PPS_CAPTUREASSERT,
  PPS_CAPTURECLEAR,
  PPS_FETCH,
  PPS_GETCAP,
  PPS_GETPARAMS,
  PPS_KC_BIND,
  PPS_OFFSETASSERT,
  PPS_OFFSETCLEAR,
  PPS_SETPARAMS,
  PPS_TSFMT_TSPEC,
  type PpsSyscalls,
} from "./pps.ts";

const ENOENT = 2;
const EBADF = 9;
const EFAULT = 14;
const EINVAL = 22;
const ENOTTY = 25;
const ETIMEDOUT = 110;

/** What a test sees of the fake kernel. */
export interface FakePpsKernel {
  /** The system calls to hand to openPpsDevice. */
  sys: PpsSyscalls;
  /** A pulse edge at Unix time sec.nsec (assert unless `clear`). */
  pulse(sec: number, nsec: number, clear?: boolean): void;
  /** The mode last set with PPS_SETPARAMS. */
  readonly mode: number;
  /** The last PPS_KC_BIND arguments (edge 0: unbound), or null. */
  readonly bound: { tsformat: number; edge: number; consumer: number } | null;
  /** Every ioctl request seen, in order. */
  readonly requests: number[];
  /** Resolves when no fetch is waiting. */
  idle(): Promise<void>;
}

/**
 * A fake kernel with one device at `path` (default any /dev/pps* or /dev/gpspps* path) that can
 * capture `caps`. Waits are scaled by `timeScale` (a 1.5 s fetch timeout waits 30 ms by default).
 */
export function fakePpsKernel(
  opts: { caps?: number; paths?: RegExp; timeScale?: number } = {},
): FakePpsKernel {
  const caps = opts.caps ??
    (PPS_CAPTUREASSERT | PPS_CAPTURECLEAR | PPS_OFFSETASSERT | PPS_OFFSETCLEAR | PPS_CANWAIT |
      PPS_TSFMT_TSPEC);
  const paths = opts.paths ?? /^\/dev\/(gps)?pps\d+$/;
  const scale = opts.timeScale ?? 0.02;
  let err = 0;
  let nextFd = 40;
  const open = new Set<number>();
  let mode = PPS_TSFMT_TSPEC;
  let bound: FakePpsKernel["bound"] = null;
  const requests: number[] = [];
  const ev = {
    assertSeq: 0,
    clearSeq: 0,
    assert: [0, 0] as [number, number],
    clear: [0, 0] as [number, number],
  };
  let waiters: (() => void)[] = [];
  let pending = 0;
  let idleWaiters: (() => void)[] = [];
  const fail = (e: number) => {
    err = e;
    return -1;
  };
  const writeInfo = (arg: Uint8Array) => {
    const dv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
    dv.setUint32(0, ev.assertSeq, true);
    dv.setUint32(4, ev.clearSeq, true);
    dv.setBigInt64(8, BigInt(ev.assert[0]), true);
    dv.setInt32(16, ev.assert[1], true);
    dv.setBigInt64(24, BigInt(ev.clear[0]), true);
    dv.setInt32(32, ev.clear[1], true);
    dv.setInt32(40, mode, true);
  };
  const sync = (fd: number, request: number, arg: Uint8Array): number => {
    requests.push(request);
    if (!open.has(fd)) return fail(EBADF);
    const dv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
    switch (request) {
      case PPS_GETCAP:
        if (arg.byteLength < 4) return fail(EFAULT);
        dv.setInt32(0, caps, true);
        return 0;
      case PPS_GETPARAMS:
        if (arg.byteLength < 40) return fail(EFAULT);
        arg.fill(0);
        dv.setInt32(0, PPS_API_VERS_1, true);
        dv.setInt32(4, mode, true);
        return 0;
      case PPS_SETPARAMS: {
        if (arg.byteLength < 40) return fail(EFAULT);
        const m = dv.getInt32(4, true);
        // As Linux: something to capture, and nothing the device cannot do.
        if ((m & (PPS_CAPTUREASSERT | PPS_CAPTURECLEAR)) === 0 || (m & ~caps) !== 0) {
          return fail(EINVAL);
        }
        mode = m;
        return 0;
      }
      case PPS_FETCH:
        if (arg.byteLength < 64) return fail(EFAULT);
        writeInfo(arg);
        return 0;
      case PPS_KC_BIND: {
        if (arg.byteLength < 12) return fail(EFAULT);
        const b = {
          tsformat: dv.getInt32(0, true),
          edge: dv.getInt32(4, true),
          consumer: dv.getInt32(8, true),
        };
        if (b.tsformat !== PPS_TSFMT_TSPEC || b.consumer !== 0) return fail(EINVAL);
        if ((b.edge & ~mode & (PPS_CAPTUREASSERT | PPS_CAPTURECLEAR)) !== 0) return fail(EINVAL);
        bound = b;
        return 0;
      }
      default:
        return fail(ENOTTY);
    }
  };
  const sys: PpsSyscalls = {
    open(path) {
      if (!paths.test(path)) return fail(ENOENT);
      const fd = nextFd++;
      open.add(fd);
      return fd;
    },
    close(fd) {
      open.delete(fd);
    },
    ioctl: sync,
    async ioctlWait(fd, request, arg) {
      if (request !== PPS_FETCH || arg.byteLength < 64) return sync(fd, request, arg);
      const dv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
      const timeoutSec = Number(dv.getBigInt64(48, true)) + dv.getInt32(56, true) / 1e9;
      if (timeoutSec > 0) {
        const seen = ev.assertSeq + ev.clearSeq;
        pending++;
        const woke = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), timeoutSec * 1000 * scale);
          waiters.push(() => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        pending--;
        if (pending === 0) {
          const w = idleWaiters;
          idleWaiters = [];
          w.forEach((f) => f());
        }
        if (!woke && ev.assertSeq + ev.clearSeq === seen) {
          requests.push(request);
          return fail(ETIMEDOUT);
        }
      }
      return sync(fd, request, arg);
    },
    errno: () => err,
  };
  return {
    sys,
    pulse(sec, nsec, clear = false) {
      if (clear) {
        ev.clearSeq++;
        ev.clear = [sec, nsec];
      } else {
        ev.assertSeq++;
        ev.assert = [sec, nsec];
      }
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    },
    get mode() {
      return mode;
    },
    get bound() {
      return bound;
    },
    requests,
    idle: () => pending === 0 ? Promise.resolve() : new Promise((r) => idleWaiters.push(r)),
  };
}
