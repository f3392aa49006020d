import assert from "node:assert/strict";
import { RES_IGNORE, RES_KOD, RES_LIMITED, RES_NOSERVE } from "../proto/access/restrict.ts";
import { ipWordsOf } from "../proto/ip.ts";
import { AccessControl, type AccessSettings, createMruList } from "./access_control.ts";
import type { Resolver } from "./resolver.ts";

function logger(lines: string[] = []) {
  const put = (m: string) => void lines.push(m);
  return { debug: put, info: put, warn: put, error: put };
}

const NAMES: Resolver = (name, family) => {
  const all: Record<string, { family: 4 | 6; address: string }[]> = {
    "ntp.example": [
      { family: 4, address: "192.0.2.10" },
      { family: 6, address: "2001:db8::10" },
    ],
  };
  const found = (all[name] ?? []).filter((a) =>
    family === "any" || (family === "ipv4") === (a.family === 4)
  );
  return Promise.resolve(
    found.length > 0 ? { ok: true, addresses: found } : { ok: false, reason: "NXDOMAIN" },
  );
};

function flags(ac: AccessControl, address: string, port = 40000): number {
  return ac.list.lookup(ipWordsOf(address)!, port);
}

Deno.test("AccessControl resolves host names once, in the rule's family, and skips what fails", async () => {
  const lines: string[] = [];
  const ac = new AccessControl({
    restrict: [
      { match: "default", address: "0.0.0.0", mask: "0.0.0.0", family: "ipv4", flags: ["kod"] },
      { match: "address", address: "ntp.example", mask: null, family: "any", flags: ["noserve"] },
      {
        match: "address",
        address: "ntp.example",
        mask: "255.255.255.0",
        family: "ipv4",
        flags: ["limited"],
      },
      { match: "address", address: "gone.example", mask: null, family: "any", flags: ["ignore"] },
    ],
  }, { log: logger(lines), resolver: NAMES });
  await ac.resolveNames();
  // The most specific entry decides alone (its flags are not merged with the default's).
  assert.equal(flags(ac, "192.0.2.10"), RES_NOSERVE, "the host entry");
  assert.equal(flags(ac, "192.0.2.99"), RES_LIMITED, "the /24 of the name's IPv4 address");
  assert.equal(flags(ac, "2001:db8::10"), RES_NOSERVE);
  assert.equal(flags(ac, "198.51.100.1"), RES_KOD, "IPv4 default");
  assert.equal(flags(ac, "2001:db8::99"), 0, "IPv6 default: no flags");
  assert.ok(lines.some((l) => /gone\.example.*cannot resolve.*NXDOMAIN.*line ignored/.test(l)));
});

Deno.test("AccessControl: restrict source follows the mobilised sources; own addresses ignore themselves", async () => {
  const seen: number[] = [];
  const ac = new AccessControl({
    restrict: [
      { match: "source", address: "", mask: null, family: "any", flags: ["nomodify", "kod"] },
    ],
  }, { log: logger(), resolver: NAMES });
  ac.onChange((list) => void seen.push(list.size));
  await ac.resolveNames();
  assert.equal(flags(ac, "203.0.113.5", 123), 0);
  ac.sourceAdded("203.0.113.5");
  ac.sourceAdded("203.0.113.5"); // a second association at the same address
  assert.equal(flags(ac, "203.0.113.5", 123) & RES_KOD, RES_KOD);
  ac.sourceRemoved("203.0.113.5");
  assert.equal(flags(ac, "203.0.113.5", 123) & RES_KOD, RES_KOD, "one association left");
  ac.sourceRemoved("203.0.113.5");
  assert.equal(flags(ac, "203.0.113.5", 123), 0);
  ac.setOwnAddresses([{ address: "127.0.0.1", port: 123 }, { address: "::1", port: 123 }]);
  assert.equal(flags(ac, "127.0.0.1", 123) & RES_IGNORE, RES_IGNORE, "itself: never answered");
  assert.equal(flags(ac, "127.0.0.1", 40000), 0, "local clients on other ports are served");
  assert.equal(flags(ac, "::1", 123) & RES_IGNORE, RES_IGNORE);
  assert.ok(ac.entries().some((e) => e.match === "own" && e.port === 123));
  assert.ok(seen.length >= 4, "every change handed on to the paths");
});

Deno.test("AccessControl warns once about mssntp and a bad line, and the rest still applies", async () => {
  const lines: string[] = [];
  const settings: AccessSettings = {
    restrict: [
      {
        match: "address",
        address: "192.0.2.0",
        mask: "255.255.255.0",
        family: "ipv4",
        flags: ["mssntp"],
      },
      {
        match: "address",
        address: "192.0.2.1",
        mask: "255.0.255.0",
        family: "ipv4",
        flags: ["ignore"],
      },
      {
        match: "address",
        address: "198.51.100.0",
        mask: "255.255.255.0",
        family: "ipv4",
        flags: ["frob"],
      },
    ],
  };
  const ac = new AccessControl(settings, { log: logger(lines), resolver: NAMES });
  await ac.resolveNames();
  assert.equal(lines.filter((l) => /mssntp .*not supported/.test(l)).length, 1);
  assert.ok(
    lines.some((l) => /198\.51\.100\.0 .*unknown restrict flag "frob".*line ignored/.test(l)),
  );
  // A non-contiguous mask is legal and matches bit by bit.
  assert.equal(flags(ac, "192.7.2.1") & RES_IGNORE, RES_IGNORE);
});

Deno.test("createMruList() sizes the list from mru and discard settings", () => {
  const byDepth = createMruList({ mru: { maxDepth: 100, maxMemBytes: 1 << 20 } }, false);
  assert.equal(byDepth.capacity, 100, "maxdepth wins over maxmem");
  const byMem = createMruList(
    { mru: { maxMemBytes: 64 * 1024 }, discard: { averageLog2: 5 } },
    true,
  );
  assert.ok(byMem.buffer.byteLength <= 64 * 1024);
  assert.ok(byMem.buffer instanceof SharedArrayBuffer);
  assert.equal(byMem.discard.averageLog2, 5);
  assert.equal(createMruList({}, false).buffer.byteLength <= 1 << 20, true, "1 MiB by default");
});
