// Tests for the capget/capset byte layout and the read-only calls. Nothing here changes
// credentials in the test process (lib/daemon/privileges_test.ts does that in a child).

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CAP_DATA_SIZE,
  CAP_HEADER_SIZE,
  CAP_VERSION_3,
  capGet,
  decodeCapData,
  encodeCapData,
  encodeCapHeader,
  geteuid,
  getpid,
  gettid,
} from "./privileges.ts";

Deno.test("encodeCapHeader() writes version 3 and the thread id, little-endian", () => {
  const h = encodeCapHeader(0x1234);
  assert.equal(h.length, CAP_HEADER_SIZE);
  assert.deepEqual([...h], [0x22, 0x05, 0x08, 0x20, 0x34, 0x12, 0, 0]);
  assert.equal(new DataView(h.buffer).getUint32(0, true), CAP_VERSION_3);
});

Deno.test("encodeCapData() puts bits 0-31 in the first struct and 32-63 in the second", () => {
  // CAP_SYS_TIME (25) effective+permitted, CAP_CHECKPOINT_RESTORE (40) inheritable.
  const b = encodeCapData({ effective: 1n << 25n, permitted: 1n << 25n, inheritable: 1n << 40n });
  assert.equal(b.length, CAP_DATA_SIZE);
  const v = new DataView(b.buffer);
  const words = [0, 4, 8, 12, 16, 20].map((o) => v.getUint32(o, true));
  assert.deepEqual(words, [0x0200_0000, 0x0200_0000, 0, 0, 0, 1 << 8]);
});

Deno.test("decodeCapData() inverts encodeCapData() for any 64-bit sets", () => {
  const mask = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  fc.assert(
    fc.property(mask, mask, mask, (effective, permitted, inheritable) => {
      const sets = { effective, permitted, inheritable };
      assert.deepEqual(decodeCapData(encodeCapData(sets)), sets);
    }),
  );
  assert.throws(() => decodeCapData(new Uint8Array(12)), RangeError);
});

Deno.test("capGet() agrees with /proc/thread-self/status on the calling thread", () => {
  const caps = capGet();
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  const line = (name: string) =>
    BigInt(`0x${new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(status)![1]}`);
  assert.equal(caps.effective, line("CapEff"));
  assert.equal(caps.permitted, line("CapPrm"));
  assert.equal(caps.inheritable, line("CapInh"));
});

Deno.test("gettid() names the thread running JavaScript; getpid() and geteuid() match Deno's", () => {
  // Under `deno run` JavaScript runs on the process's first thread; under `deno test` it may not.
  assert.equal(Deno.readLinkSync("/proc/thread-self"), `${Deno.pid}/task/${gettid()}`);
  assert.equal(getpid(), Deno.pid);
  assert.equal(geteuid(), Deno.uid());
});
