// Tests of the MRU list and rate control: recording, ordering, the memory bound and eviction,
// the discard rates, kiss spacing and the global kiss cap, and exact counts across threads.

import assert from "node:assert/strict";
import { IpWords, ipWordsOf } from "../ip.ts";
import {
  DEFAULT_MRU_MAXMEM_BYTES,
  MRU_ENTRY_BYTES,
  MRU_EXCEEDED,
  MRU_RECORDED,
  mruBytes,
  mruCapacityFor,
  MruList,
} from "./mru.ts";

/** A receive time `t` seconds after the Unix epoch. */
function at(t: number): { rxUnixSec: number; rxUnixNsec: number } {
  const sec = Math.floor(t);
  return { rxUnixSec: sec, rxUnixNsec: Math.round((t - sec) * 1e9) };
}

function ip(text: string): IpWords {
  const w = ipWordsOf(text);
  assert.ok(w, text);
  return w;
}

Deno.test("MruList records clients, most recent first, with count, times, port, mode, version", () => {
  const mru = MruList.create({ maxDepth: 10 });
  assert.equal(mru.observe(ip("192.0.2.1"), 5000, 3, 4, 0x20, at(100)), MRU_RECORDED);
  mru.observe(ip("2001:db8::1"), 123, 1, 3, 0, at(101));
  mru.observe(ip("192.0.2.1"), 5001, 3, 2, 0x40, at(170));
  const e = mru.entries();
  assert.equal(e.length, 2);
  assert.deepEqual(e[0], {
    address: "192.0.2.1",
    family: 4,
    port: 5001,
    count: 2,
    firstSec: 100,
    lastSec: 170,
    mode: 3,
    version: 2,
    restrictFlags: 0x40,
  });
  assert.equal(e[1]!.address, "2001:db8::1");
  assert.equal(e[1]!.family, 6);
  assert.equal(mru.entries(1).length, 1);
  const s = mru.stats();
  assert.equal(s.entries, 2);
  assert.equal(s.added, 2);
});

Deno.test("mruCapacityFor() turns a byte bound into the largest entry count that fits", () => {
  for (const bytes of [1000, 4096, DEFAULT_MRU_MAXMEM_BYTES, 10_000_000]) {
    const cap = mruCapacityFor(bytes);
    assert.ok(mruBytes(cap) <= bytes || cap === 1, `${bytes}`);
    assert.ok(mruBytes(cap + 1) > bytes, `${bytes}`);
  }
  const def = MruList.create({});
  assert.equal(def.capacity, mruCapacityFor(DEFAULT_MRU_MAXMEM_BYTES));
  assert.ok(def.buffer.byteLength <= DEFAULT_MRU_MAXMEM_BYTES);
  assert.ok(def.capacity > DEFAULT_MRU_MAXMEM_BYTES / (MRU_ENTRY_BYTES + 8) - 1);
  assert.equal(MruList.create({ maxDepth: 7, maxMemBytes: 1 << 20 }).capacity, 7);
});

Deno.test("MruList stays within its bound and recycles the oldest entry first", () => {
  const mru = MruList.create({ maxDepth: 100, maxAgeSec: 64 });
  const w = new IpWords();
  for (let i = 0; i < 100; i++) {
    mru.observe(w.setV4(0x0a000000 + i), 1000, 3, 4, 0, at(1000 + i / 10));
  }
  assert.equal(mru.stats().entries, 100);
  // The list is full of entries younger than maxage: a newcomer is not recorded (it would need
  // a credit of 1 at 10/3000 per newcomer).
  assert.equal(mru.observe(w.setV4(0x0b000000), 1000, 3, 4, 0, at(1010)), 0);
  assert.equal(mru.stats().notRecorded, 1);
  // Later the oldest (10.0.0.0, last seen at 1000) is past maxage and gives way.
  mru.observe(w.setV4(0x0a000001), 1000, 3, 4, 0, at(1050)); // refresh the second oldest
  assert.equal(mru.observe(w.setV4(0x0b000000), 1000, 3, 4, 0, at(1100)), MRU_RECORDED);
  const addresses = mru.entries().map((e) => e.address);
  assert.equal(addresses.length, 100);
  assert.ok(!addresses.includes("10.0.0.0"), "the oldest went first");
  assert.ok(addresses.includes("10.0.0.1"), "the refreshed one stayed");
  assert.equal(addresses[0], "11.0.0.0");
  assert.equal(mru.stats().recycled, 1);
});

Deno.test("MruList: with the list full of recent clients, newcomers get in at age/monitor", () => {
  const mru = MruList.create({ maxDepth: 2, discard: { monitorSec: 100 } });
  const w = new IpWords();
  mru.observe(w.setV4(1), 1, 3, 4, 0, at(0));
  mru.observe(w.setV4(2), 1, 3, 4, 0, at(0));
  // The oldest entry is 20 s old: one newcomer in 100/20 = 5 takes its place.
  const got = [3, 4, 5, 6, 7].map((k) => mru.observe(w.setV4(k), 1, 3, 4, 0, at(20)));
  assert.deepEqual(got, [0, 0, 0, 0, MRU_RECORDED]);
  assert.equal(mru.stats().notRecorded, 4);
  assert.equal(mru.entries()[0]!.address, "0.0.0.7");
});

Deno.test("MruList: a client polling at 2^6 s or at the average rate is never over the rates", () => {
  const mru = MruList.create({ maxDepth: 10 });
  const src = ip("192.0.2.5");
  for (let k = 0; k < 200; k++) {
    assert.equal(mru.observe(src, 1, 3, 4, 0, at(64 * k)) & MRU_EXCEEDED, 0);
  }
  const avg = ip("192.0.2.6");
  for (let k = 0; k < 200; k++) {
    assert.equal(mru.observe(avg, 1, 3, 4, 0, at(8 * k)) & MRU_EXCEEDED, 0);
  }
  // chronyd's iburst: four packets 2 s apart, then 64 s.
  const burst = ip("192.0.2.7");
  for (const t of [0, 2, 4, 6, 70, 134]) {
    assert.equal(mru.observe(burst, 1, 3, 4, 0, at(t)) & MRU_EXCEEDED, 0, `t=${t}`);
  }
});

Deno.test("MruList: closer than the minimum spacing is over the rates", () => {
  const mru = MruList.create({ maxDepth: 10 });
  const src = ip("198.51.100.1");
  assert.equal(mru.observe(src, 1, 3, 4, 0, at(1000)) & MRU_EXCEEDED, 0);
  assert.equal(mru.observe(src, 1, 3, 4, 0, at(1000.2)) & MRU_EXCEEDED, MRU_EXCEEDED);
});

Deno.test("MruList: above the average rate the score builds up, and the client must then wait", () => {
  const mru = MruList.create({ maxDepth: 10 });
  const src = ip("198.51.100.2");
  // Every 4 s: above the minimum spacing (2 s) but twice the average rate (8 s).
  let firstOver = -1;
  for (let k = 0; k < 100 && firstOver < 0; k++) {
    if (mru.observe(src, 1, 3, 4, 0, at(4 * k)) & MRU_EXCEEDED) firstOver = k;
  }
  assert.ok(firstOver > 5 && firstOver < 40, `first over the rates at packet ${firstOver}`);
  const t = 4 * firstOver;
  // Right after, even a polite spacing is still over: the score was pushed past the limit.
  assert.equal(mru.observe(src, 1, 3, 4, 0, at(t + 8)) & MRU_EXCEEDED, MRU_EXCEEDED);
  // After a long silence it is served again.
  assert.equal(mru.observe(src, 1, 3, 4, 0, at(t + 8 + 200)) & MRU_EXCEEDED, 0);
});

Deno.test("MruList.takeKiss() allows one kiss per client per 2^average s", () => {
  const mru = MruList.create({ maxDepth: 10, discard: { averageLog2: 4 } });
  const src = ip("203.0.113.9");
  assert.equal(mru.takeKiss(src, 0), false, "no entry: no kiss");
  mru.observe(src, 1, 3, 4, 0, at(0));
  assert.equal(mru.takeKiss(src, 0), true);
  assert.equal(mru.takeKiss(src, 10), false);
  assert.equal(mru.takeKiss(src, 15.9), false);
  assert.equal(mru.takeKiss(src, 16), true);
  const s = mru.stats();
  assert.equal(s.kisses, 2);
  assert.equal(s.kissesSuppressed, 3);
});

Deno.test("MruList.takeKiss() obeys the global kiss rate across clients", () => {
  const mru = MruList.create({ maxDepth: 1000, kissesPerSec: 5 });
  const w = new IpWords();
  let granted = 0;
  for (let i = 0; i < 100; i++) {
    mru.observe(w.setV4(i + 1), 1, 3, 4, 0, at(0));
    if (mru.takeKiss(w, 0)) granted++;
  }
  assert.equal(granted, 5, "the saved-up burst");
  granted = 0;
  for (let i = 0; i < 100; i++) if (mru.takeKiss(w.setV4(i + 1), 10 + i * 0.01)) granted++;
  // The 5 saved up over the pause, plus about one second of refill: 5 more, not 100.
  assert.ok(granted >= 9 && granted <= 10, `${granted}`);
});

Deno.test("MruList.clear() empties the list (disable monitor)", () => {
  const mru = MruList.create({ maxDepth: 4 });
  mru.observe(ip("10.0.0.1"), 1, 3, 4, 0, at(0));
  mru.clear();
  assert.equal(mru.entries().length, 0);
  assert.equal(mru.observe(ip("10.0.0.1"), 1, 3, 4, 0, at(1)), MRU_RECORDED);
  assert.equal(mru.entries()[0]!.count, 1);
});

Deno.test("MruList.attach() shares one list between two views of the same memory", () => {
  const a = MruList.create({ maxDepth: 16, shared: true });
  assert.ok(a.buffer instanceof SharedArrayBuffer);
  const b = MruList.attach(a.buffer, 1);
  const src = ip("192.0.2.44");
  a.observe(src, 1000, 3, 4, 0, at(0));
  // Another thread's view sees the same client: its too-soon packet is over the rates.
  assert.equal(b.observe(src, 1001, 3, 4, 0, at(0.1)) & MRU_EXCEEDED, MRU_EXCEEDED);
  assert.equal(a.entries()[0]!.count, 2);
  assert.equal(b.capacity, 16);
  assert.throws(() => MruList.attach(new SharedArrayBuffer(16), 1), RangeError);
  assert.throws(() => MruList.attach(new ArrayBuffer(4096), 1), RangeError);
  assert.equal(b.releaseStaleLock(1), false, "not held");
});

Deno.test("MruList counts exactly under concurrent updates from two worker threads", async () => {
  const list = MruList.create({ maxDepth: 512, shared: true });
  const mruUrl = new URL("./mru.ts", import.meta.url).href;
  const ipUrl = new URL("../ip.ts", import.meta.url).href;
  const code = `
    import { MruList } from "${mruUrl}";
    import { IpWords } from "${ipUrl}";
    self.onmessage = (e) => {
      const { buffer, thread, n } = e.data;
      const mru = MruList.attach(buffer, thread);
      const shared = new IpWords().setV4(0xc0000201);
      const own = new IpWords();
      for (let i = 0; i < n; i++) {
        const now = { rxUnixSec: Math.floor(i / 1000), rxUnixNsec: (i % 1000) * 1e6 };
        mru.observe(shared, 1000 + i % 5000, 3, 4, 0, now);
        // Distinct addresses per thread, more than the list holds: constant eviction.
        mru.observe(own.setV4(((thread << 24) | (i % 4000)) >>> 0), 1, 3, 4, 0, now);
      }
      self.postMessage("done");
    };`;
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const n = 20_000;
  const workers = [1, 2].map(() => new Worker(url, { type: "module" }));
  try {
    await Promise.all(workers.map((w, k) =>
      new Promise<void>((resolve, reject) => {
        w.onmessage = () => resolve();
        w.onerror = (e) => reject(e);
        w.postMessage({ buffer: list.buffer, thread: k + 1, n });
      })
    ));
  } finally {
    for (const w of workers) w.terminate();
    URL.revokeObjectURL(url);
  }
  const entries = list.entries();
  const shared = entries.find((e) => e.address === "192.0.2.1");
  assert.ok(shared, "the shared client is among the most recent");
  assert.equal(shared.count, 2 * n, "no update lost");
  assert.equal(entries.length, 512);
  assert.equal(new Set(entries.map((e) => e.address)).size, 512, "no entry linked twice");
  const s = list.stats();
  assert.equal(s.busy, 0);
  assert.equal(s.added, s.entries + s.recycled);
});
