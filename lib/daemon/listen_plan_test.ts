import assert from "node:assert/strict";
import { type HostAddress, isLoopback, type ListenRequest, planListen } from "./listen_plan.ts";

const HOST: HostAddress[] = [
  { name: "lo", family: 4, address: "127.0.0.1", scopeId: null },
  { name: "lo", family: 6, address: "::1", scopeId: null },
  { name: "eth0", family: 4, address: "192.0.2.10", scopeId: null },
  { name: "eth0:1", family: 4, address: "192.0.2.11", scopeId: null },
  { name: "eth0", family: 6, address: "2001:db8::10", scopeId: null },
  { name: "eth0", family: 6, address: "fe80::10", scopeId: 2 },
  { name: "eth1", family: 4, address: "198.51.100.7", scopeId: null },
];

function req(over: Partial<ListenRequest> = {}): ListenRequest {
  return {
    port: 123,
    family: "any",
    explicit: [],
    rules: [],
    interfaceOptions: [],
    noVirtual: false,
    ...over,
  };
}

/** "address action" for each bind (wildcards as 0.0.0.0 / ::). */
function binds(r: ListenRequest, host = HOST): string[] {
  return planListen(r, host).binds.map((b) => `${b.address.address} ${b.action}`);
}

Deno.test("planListen() without rules serves the wildcards, one socket per family", () => {
  const p = planListen(req(), HOST);
  assert.deepEqual(p.binds.map((b) => [b.address.address, b.wildcard]), [
    ["0.0.0.0", true],
    ["::", true],
  ]);
  assert.deepEqual(p.warnings, []);
  assert.deepEqual(p.binds.map((b) => b.own), [
    ["127.0.0.1", "192.0.2.10", "192.0.2.11", "198.51.100.7"],
    ["::1", "2001:db8::10", "fe80::10"],
  ]);
  assert.deepEqual(binds(req({ family: "ipv4" })), ["0.0.0.0 listen"]);
});

Deno.test("planListen(): interface listen 127.0.0.1 with ignore wildcard serves loopback only", () => {
  const r = req({
    rules: [{ action: "listen", match: "127.0.0.1" }, { action: "ignore", match: "wildcard" }],
  });
  assert.deepEqual(binds(r), ["127.0.0.1 listen", "::1 listen"]);
  // The wildcard is not opened even without "ignore wildcard": the listen rule names what to serve.
  assert.deepEqual(binds(req({ rules: [{ action: "listen", match: "127.0.0.1" }] })), [
    "127.0.0.1 listen",
    "::1 listen",
  ]);
  const p = planListen(r, HOST);
  assert.ok(p.notes.includes("interface eth0 192.0.2.10: ignore (no listen rule names it)"));
  assert.ok(p.notes.includes("interface 0.0.0.0: not opened (rule: ignore)"), p.notes.join("\n"));
});

Deno.test("planListen(): names, prefixes, drop, the last matching rule wins, loopback kept", () => {
  assert.deepEqual(
    binds(req({
      rules: [
        { action: "ignore", match: "all" },
        { action: "listen", match: "eth0" },
        { action: "drop", match: "2001:db8::/32" },
      ],
    })),
    [
      "127.0.0.1 listen",
      "192.0.2.10 listen",
      "::1 listen",
      "2001:db8::10 drop",
      "fe80::10%2 listen",
    ],
  );
  assert.deepEqual(
    binds(req({
      rules: [{ action: "ignore", match: "ipv6" }, { action: "ignore", match: "::1" }],
    })),
    ["127.0.0.1 listen", "192.0.2.10 listen", "192.0.2.11 listen", "198.51.100.7 listen"],
  );
  // Only ignore rules: every other address is still served, each on its own socket.
  assert.deepEqual(binds(req({ rules: [{ action: "ignore", match: "198.51.100.0/24" }] })), [
    "127.0.0.1 listen",
    "192.0.2.10 listen",
    "192.0.2.11 listen",
    "::1 listen",
    "2001:db8::10 listen",
    "fe80::10%2 listen",
  ]);
});

Deno.test("planListen(): interface listen wildcard with a refused address serves each address", () => {
  const p = planListen(
    req({ rules: [{ action: "listen", match: "wildcard" }, { action: "ignore", match: "eth1" }] }),
    HOST,
  );
  assert.deepEqual(
    p.binds.map((b) => b.address.address),
    [
      "127.0.0.1",
      "192.0.2.10",
      "192.0.2.11",
      "0.0.0.0",
    ].slice(0, 3).concat(["::"]),
  );
  assert.equal(p.warnings.length, 1);
  assert.match(p.warnings[0]!, /would also answer on 198\.51\.100\.7/);
});

Deno.test("planListen(): -I names what to serve (loopback kept), config rules then unused", () => {
  const p = planListen(
    req({ interfaceOptions: ["eth1"], rules: [{ action: "listen", match: "all" }] }),
    HOST,
  );
  assert.deepEqual(p.binds.map((b) => b.address.address), ["127.0.0.1", "198.51.100.7", "::1"]);
  assert.ok(p.notes.some((n) => /-I\/-L given/.test(n)));
  assert.deepEqual(binds(req({ interfaceOptions: ["lo"] })), ["127.0.0.1 listen", "::1 listen"]);
  assert.deepEqual(binds(req({ interfaceOptions: ["2001:db8::10"] })), [
    "127.0.0.1 listen",
    "::1 listen",
    "2001:db8::10 listen",
  ]);
});

Deno.test("planListen(): -L leaves out alias interfaces unless a rule names them", () => {
  assert.deepEqual(binds(req({ noVirtual: true, family: "ipv4" })), [
    "127.0.0.1 listen",
    "192.0.2.10 listen",
    "198.51.100.7 listen",
  ]);
  assert.deepEqual(
    binds(req({ noVirtual: true, family: "ipv4", interfaceOptions: ["eth0:1"] })),
    ["127.0.0.1 listen", "192.0.2.11 listen"],
  );
  // No alias on the host: the wildcard serves the same set.
  const plain = HOST.filter((h) => !h.name.includes(":"));
  assert.deepEqual(binds(req({ noVirtual: true }), plain), ["0.0.0.0 listen", ":: listen"]);
});

Deno.test("planListen(): --listen is exact and says the rules are not applied", () => {
  const p = planListen(
    req({
      explicit: [
        { family: 4, address: "127.0.0.1", port: 123 },
        { family: 6, address: "::1", port: 1123 },
      ],
      rules: [{ action: "listen", match: "eth0" }],
    }),
    HOST,
  );
  assert.deepEqual(p.binds.map((b) => `${b.address.address} ${b.address.port}`), [
    "127.0.0.1 123",
    "::1 1123",
  ]);
  assert.equal(p.warnings.length, 1);
  assert.deepEqual(p.binds.map((b) => b.own), [["127.0.0.1"], ["::1"]]);
  assert.deepEqual(
    binds(req({ explicit: [{ family: 6, address: "::1", port: 123 }], family: "ipv4" })),
    [],
  );
  const any = planListen(req({ explicit: [{ family: 4, address: "0.0.0.0", port: 123 }] }), HOST);
  assert.deepEqual(any.binds[0]!.own, ["127.0.0.1", "192.0.2.10", "192.0.2.11", "198.51.100.7"]);
});

Deno.test("isLoopback() knows 127/8 and ::1 only", () => {
  assert.equal(isLoopback(4, "127.3.4.5"), true);
  assert.equal(isLoopback(6, "::1"), true);
  assert.equal(isLoopback(6, "::2"), false);
  assert.equal(isLoopback(4, "128.0.0.1"), false);
});
