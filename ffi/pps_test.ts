import assert from "node:assert/strict";
import {
  decodePpsInfo,
  decodePpsParams,
  encodePpsBind,
  encodePpsFetch,
  encodePpsParams,
  openPpsDevice,
  PPS_BIND_ARGS_SIZE,
  PPS_CANWAIT,
  PPS_CAPTUREASSERT,
  PPS_CAPTURECLEAR,
  PPS_FDATA_SIZE,
  PPS_FETCH,
  PPS_GETCAP,
  PPS_GETPARAMS,
  PPS_KC_BIND,
  PPS_KPARAMS_SIZE,
  PPS_OFFSETASSERT,
  PPS_OFFSETCLEAR,
  PPS_SETPARAMS,
  PPS_TSFMT_TSPEC,
} from "./pps.ts";
import { OsError } from "./libc.ts";

/** _IOC(dir, 'p', nr, sizeof(void *)) as linux/pps.h declares them. */
function ioc(dir: number, nr: number): number {
  return ((dir << 30) | (8 << 16) | ("p".charCodeAt(0) << 8) | nr) >>> 0;
}

Deno.test("PPS ioctl numbers and flags are those of PLATFORM.md and linux/pps.h", () => {
  assert.equal(PPS_GETPARAMS, 0x800870a1);
  assert.equal(PPS_SETPARAMS, 0x400870a2);
  assert.equal(PPS_GETCAP, 0x800870a3);
  assert.equal(PPS_FETCH, 0xc00870a4);
  assert.equal(PPS_KC_BIND, 0x400870a5);
  assert.deepEqual(
    [ioc(2, 0xa1), ioc(1, 0xa2), ioc(2, 0xa3), ioc(3, 0xa4), ioc(1, 0xa5)],
    [PPS_GETPARAMS, PPS_SETPARAMS, PPS_GETCAP, PPS_FETCH, PPS_KC_BIND],
  );
  assert.deepEqual(
    [
      PPS_CAPTUREASSERT,
      PPS_CAPTURECLEAR,
      PPS_OFFSETASSERT,
      PPS_OFFSETCLEAR,
      PPS_CANWAIT,
      PPS_TSFMT_TSPEC,
    ],
    [0x1, 0x2, 0x10, 0x20, 0x100, 0x1000],
  );
});

Deno.test("PPS struct codecs put each field at PLATFORM.md's offsets", () => {
  // pps_kparams {i32 api_version@0, i32 mode@4, ktime assert_off_tu@8, ktime clear_off_tu@24} 40 B
  const p = encodePpsParams({
    apiVersion: 1,
    mode: 0x1011,
    assertOffset: { sec: 2, nsec: 300, flags: 0 },
    clearOffset: { sec: -1, nsec: 5, flags: 7 },
  });
  assert.equal(p.length, PPS_KPARAMS_SIZE);
  const dv = new DataView(p.buffer);
  assert.equal(dv.getInt32(0, true), 1);
  assert.equal(dv.getInt32(4, true), 0x1011);
  assert.equal(dv.getBigInt64(8, true), 2n);
  assert.equal(dv.getInt32(16, true), 300);
  assert.equal(dv.getBigInt64(24, true), -1n);
  assert.equal(dv.getInt32(32, true), 5);
  assert.equal(dv.getUint32(36, true), 7);
  assert.deepEqual(decodePpsParams(p).clearOffset, { sec: -1, nsec: 5, flags: 7 });
  // pps_fdata {kinfo@0 (48 B), ktime timeout@48} 64 B
  const f = encodePpsFetch(1.25);
  assert.equal(f.length, PPS_FDATA_SIZE);
  const fv = new DataView(f.buffer);
  assert.equal(fv.getBigInt64(48, true), 1n);
  assert.equal(fv.getInt32(56, true), 250_000_000);
  // pps_kinfo {u32 assert_seq@0, u32 clear_seq@4, ktime assert_tu@8, ktime clear_tu@24, i32 mode@40}
  fv.setUint32(0, 0xfffffffe, true);
  fv.setUint32(4, 9, true);
  fv.setBigInt64(8, 1_760_000_000n, true);
  fv.setInt32(16, 999_999_999, true);
  fv.setBigInt64(24, 1_760_000_001n, true);
  fv.setInt32(32, 12, true);
  fv.setInt32(40, 0x1001, true);
  assert.deepEqual(decodePpsInfo(f), {
    assertSequence: 0xfffffffe,
    clearSequence: 9,
    assert: { sec: 1_760_000_000, nsec: 999_999_999, flags: 0 },
    clear: { sec: 1_760_000_001, nsec: 12, flags: 0 },
    currentMode: 0x1001,
  });
  // pps_bind_args {i32 tsformat@0, i32 edge@4, i32 consumer@8} 12 B
  const b = encodePpsBind(PPS_TSFMT_TSPEC, PPS_CAPTURECLEAR, 0);
  assert.equal(b.length, PPS_BIND_ARGS_SIZE);
  assert.deepEqual([...new Int32Array(b.buffer)], [0x1000, 2, 0]);
});

Deno.test("openPpsDevice() on this machine: no device is ENOENT, a non-PPS file answers ENOTTY", () => {
  assert.throws(
    () => openPpsDevice("/dev/pps-horae-test-none"),
    (e: unknown) => e instanceof OsError && e.errno === 2 && e.syscall === "open",
  );
  const dev = openPpsDevice("/dev/null");
  try {
    assert.throws(
      () => dev.capabilities(),
      (e: unknown) => e instanceof OsError && e.errno === 25 && /PPS_GETCAP/.test(e.syscall),
    );
  } finally {
    dev.close();
  }
});
