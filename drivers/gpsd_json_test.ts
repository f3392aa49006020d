import assert from "node:assert/strict";
import {
  GPSD_MAX_LINE,
  GPSD_WATCH,
  gpsdAddress,
  GpsdJsonDriver,
  gpsdWatch,
  parseGpsdMessage,
} from "./gpsd_json.ts";
import { manualContext } from "./_test_context.ts";
import type { RefclockSample } from "./driver.ts";
import { addSec, fromUnix } from "../lib/proto/ntp_time.ts";

const T = 1_760_000_000;

// Reports as gpsd 3.22 writes them (fields trimmed to those that matter, order kept).
const VERSION =
  '{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}';
const tpv = (sec: number, mode = 3) =>
  `{"class":"TPV","device":"tcp://127.0.0.1:5000","mode":${mode},"time":"${
    new Date(sec * 1000).toISOString().replace(".000Z", ".000Z")
  }","ept":0.005,"lat":48.117300000,"lon":11.516666667,"alt":545.400}`;
const toff = (realSec: number, clockSec: number, clockNsec: number) =>
  `{"class":"TOFF","device":"tcp://127.0.0.1:5000","real_sec":${realSec},"real_nsec":0,` +
  `"clock_sec":${clockSec},"clock_nsec":${clockNsec},"precision":-1}`;
const pps = (realSec: number, clockSec: number, clockNsec: number) =>
  `{"class":"PPS","device":"/dev/pps0","real_sec":${realSec},"real_nsec":0,` +
  `"clock_sec":${clockSec},"clock_nsec":${clockNsec},"precision":-20,"shm":"NTP2"}`;

Deno.test("parseGpsdMessage() reads TPV, TOFF, PPS and VERSION and refuses what is not gpsd JSON", () => {
  assert.deepEqual(parseGpsdMessage(VERSION), { kind: "version", release: "3.22" });
  assert.deepEqual(parseGpsdMessage(tpv(T)), {
    kind: "tpv",
    mode: 3,
    time: "2025-10-09T08:53:20.000Z",
    leap: null,
    device: "tcp://127.0.0.1:5000",
  });
  assert.deepEqual(parseGpsdMessage(toff(T, T, 120_000_000)), {
    kind: "toff",
    pair: { realSec: T, realNsec: 0, clockSec: T, clockNsec: 120_000_000, precision: -1 },
    device: "tcp://127.0.0.1:5000",
  });
  assert.equal(parseGpsdMessage(pps(T, T - 1, 999_999_000)).kind, "pps");
  assert.deepEqual(parseGpsdMessage('{"class":"SKY","satellites":[]}'), {
    kind: "other",
    cls: "SKY",
  });
  for (const bad of ["", "{", "[1]", "null", '{"mode":3}', '{"class":"TPV"}']) {
    assert.equal(parseGpsdMessage(bad).kind, "bad", bad);
  }
  assert.equal(
    parseGpsdMessage(toff(T, T, 1_000_000_000)).kind,
    "bad",
    "nanoseconds must be below 1e9",
  );
  assert.equal(parseGpsdMessage('{"class":"TOFF","real_sec":"x"}').kind, "bad");
});

Deno.test("gpsdAddress() reads host:port and a device, defaulting to 127.0.0.1:2947 and any", () => {
  const d = (hostname: string, port: number, device: string | null = null) => ({
    hostname,
    port,
    device,
  });
  assert.deepEqual(gpsdAddress(null), d("127.0.0.1", 2947));
  assert.deepEqual(gpsdAddress("127.0.0.2:3000"), d("127.0.0.2", 3000));
  assert.deepEqual(gpsdAddress("[::1]:3000"), d("::1", 3000));
  assert.deepEqual(gpsdAddress("gps.local"), d("gps.local", 2947));
  assert.deepEqual(gpsdAddress("/dev/ttyUSB0"), d("127.0.0.1", 2947, "/dev/ttyUSB0"));
  assert.deepEqual(gpsdAddress("10.0.0.1:2000/dev/gps1"), d("10.0.0.1", 2000, "/dev/gps1"));
  assert.throws(() => gpsdAddress("a:99999"), /not a gpsd address/);
  assert.throws(() => gpsdAddress("/dev/a b"), /not a device path/);
  assert.equal(
    gpsdWatch("/dev/gps1"),
    '?WATCH={"enable":true,"json":true,"pps":true,"device":"/dev/gps1"}\n',
  );
  assert.equal(gpsdWatch(null), GPSD_WATCH);
});

Deno.test("GpsdJsonDriver: with a device in path, other devices' reports are counted and left out", () => {
  const m = manualContext(fromUnix(T), 8);
  const d = new GpsdJsonDriver(
    { type: 46, unit: 0, mode: null, fudge: {}, path: "/dev/pps0" },
    () => Promise.reject(new Error("not used")),
  );
  d.start(m.ctx, () => {});
  const at = addSec(fromUnix(T + 1), 0.1);
  d.receive(tpv(T + 1), at); // tcp://127.0.0.1:5000
  d.receive(toff(T + 1, T + 1, 100_000_000), at);
  d.receive(pps(T + 1, T + 1, 5), at); // /dev/pps0: kept (and not used without flag1)
  const c = d.counters();
  assert.equal(c.otherDevice, 2);
  assert.equal(c.pps, 1);
  assert.equal(c.samples, 0);
  d.stop();
});

Deno.test("GpsdJsonDriver.receive(): TOFF after a good fix is a sample at time2; without a fix it is counted", () => {
  const m = manualContext(fromUnix(T), 8);
  const d = new GpsdJsonDriver(
    { type: 46, unit: 0, mode: null, fudge: { time2Sec: 0.05 } },
    () => Promise.reject(new Error("not used")),
  );
  const got: RefclockSample[] = [];
  // Started only for the filter; the connection attempt fails and waits.
  d.start(m.ctx, (s) => got.push(s));
  const at = (k: number) => addSec(fromUnix(T + k), 0.1);
  d.receive(toff(T, T, 100_000_000), at(0)); // before any fix
  d.receive(tpv(T + 1, 1), at(1)); // no fix
  d.receive(toff(T + 1, T + 1, 100_000_000), at(1));
  for (let k = 2; k < 6; k++) {
    d.receive(tpv(T + k), at(k));
    // gpsd received the sentence of second T+k at T+k+0.1 on this clock.
    d.receive(toff(T + k, T + k, 100_000_000), at(k));
    d.receive(pps(T + k, T + k, 3_000), at(k)); // not used without flag1
  }
  d.receive("garbage", at(6));
  m.advance(4.5);
  const c = d.counters();
  assert.equal(c.samples, 4);
  assert.equal(c.baddata, 2);
  assert.equal(c.badformat, 1);
  assert.equal(c.pps, 4);
  assert.equal(got.length, 1);
  assert.ok(Math.abs(got[0]!.offsetSec - (-0.1 + 0.05)) < 1e-9, `${got[0]!.offsetSec}`);
  assert.equal(d.timecode, new Date((T + 5) * 1000).toISOString());
  d.stop();
});

Deno.test("GpsdJsonDriver: a gpsd on loopback gets the watch request; overlong lines and a closed connection are survived", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const requests: string[] = [];
  const enc = new TextEncoder();
  const served = (async () => {
    // Two connections: the first sends an overlong line and closes, the second reports a fix.
    for (let round = 0; round < 2; round++) {
      const conn = await listener.accept();
      const buf = new Uint8Array(512);
      const n = await conn.read(buf);
      requests.push(new TextDecoder().decode(buf.subarray(0, n ?? 0)));
      const now = Math.floor(Date.now() / 1000);
      const lines = round === 0
        ? [VERSION, "x".repeat(GPSD_MAX_LINE + 100), tpv(now)]
        : [VERSION, tpv(now), toff(now, now, 200_000_000)];
      await conn.write(enc.encode(lines.join("\n") + "\n"));
      if (round === 0) conn.close();
      else {
        await new Promise((r) => setTimeout(r, 300));
        conn.close();
      }
    }
  })();
  const lines: string[] = [];
  const stats: string[] = [];
  const d = new GpsdJsonDriver({
    type: 46,
    unit: 1,
    mode: null,
    fudge: {},
    path: `127.0.0.1:${port}`,
  });
  assert.equal(d.name, "GPSD_JSON(1)");
  d.start({
    now: () => fromUnix(Math.floor(Date.now() / 1000), 200_000_000),
    every: () => () => {},
    pollSec: 8,
    log: (_l, msg) => void lines.push(msg),
    clockstats: (t) => void stats.push(t),
  }, () => {});
  await served;
  for (let i = 0; i < 100 && (d.counters().disconnects ?? 0) < 2; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  d.stop();
  await d.stopped;
  listener.close();
  assert.deepEqual(requests, [GPSD_WATCH, GPSD_WATCH]);
  const c = d.counters();
  assert.equal(c.connects, 2);
  assert.equal(c.badformat, 1, JSON.stringify(c));
  assert.equal(c.tpv, 2);
  assert.equal(c.samples, 1);
  assert.ok(stats.some((s) => s.startsWith("TOFF ")), stats.join("\n"));
  assert.match(lines.join("\n"), /connected to gpsd at 127\.0\.0\.1:\d+/);
  assert.match(lines.join("\n"), /gpsd closed the connection; connecting again/);
});
