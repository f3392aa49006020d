// A multicast forwarder for a test namespace that routes between two others. These kernels have
// no multicast routing (MRT_INIT on a raw IGMP socket gives ENOPROTOOPT: no CONFIG_IP_MROUTE), so
// a small Deno process does what a multicast router would for one group: it reads the group's
// datagrams arriving on interface `from` with a raw UDP socket (the whole IP header, TTL
// included), drops those whose TTL is 1 or less, and sends the rest on interface `to` with the
// TTL one lower and everything else unchanged (the client's source address too, so that a server
// answers the client; the UDP checksum is computed afresh) through a raw IP socket that writes its own header (IPPROTO_RAW). That is
// what gives a manycast request's TTL its meaning across a chain of namespaces. Multicast loop is
// off on the sending socket, so the forwarded datagram is not delivered on this host again. The
// process stays until stopped, 15 minutes at most.

import { NO_SYS_TIME, Proc } from "../support/peers.ts";

const SCRIPT = `
const [group, from, to] = Deno.args;
const lib = Deno.dlopen("libc.so.6", {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize", nonblocking: true },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
});
const c = lib.symbols;
const fail = (what) => { console.log("forwarder failed: " + what); Deno.exit(1); };
const dev = (name) => new TextEncoder().encode(name + "\\0");
const rx = c.socket(2, 3, 17); // AF_INET, SOCK_RAW, IPPROTO_UDP: arriving UDP with its IP header
const tx = c.socket(2, 3, 255); // IPPROTO_RAW: we write the IP header
if (rx < 0 || tx < 0) fail("socket");
if (c.setsockopt(rx, 1, 25, dev(from), from.length + 1) !== 0) fail("SO_BINDTODEVICE " + from);
if (c.setsockopt(tx, 1, 25, dev(to), to.length + 1) !== 0) fail("SO_BINDTODEVICE " + to);
const zero = new Uint8Array(4);
if (c.setsockopt(tx, 0, 34, zero, 4) !== 0) fail("IP_MULTICAST_LOOP");
const g = group.split(".").map(Number);
const dst = new Uint8Array(16);
dst[0] = 2;
dst.set(g, 4);
const buf = new Uint8Array(2048);
// A datagram from a veth peer may carry a partial UDP checksum (the sender left it to an offload
// that never ran): compute it in full over the pseudo-header and the segment.
function udpChecksum(b, at, end) {
  b[at + 6] = 0; b[at + 7] = 0;
  let sum = 0;
  for (let i = 12; i < 20; i += 2) sum += (b[i] << 8) | b[i + 1];
  sum += 17 + (end - at);
  for (let i = at; i < end; i += 2) sum += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  let c = ~sum & 0xffff;
  if (c === 0) c = 0xffff;
  b[at + 6] = c >> 8; b[at + 7] = c & 0xff;
}
let forwarded = 0, dropped = 0;
setTimeout(() => Deno.exit(0), 15 * 60 * 1000);
console.log("forwarder ready");
for (;;) {
  const n = Number(await c.recv(rx, buf, 2048n, 0));
  if (n < 28) continue;
  if (buf[16] !== g[0] || buf[17] !== g[1] || buf[18] !== g[2] || buf[19] !== g[3]) continue;
  if (buf[8] <= 1) { dropped++; console.log("ttl expired " + dropped); continue; }
  buf[8] -= 1;
  buf[10] = 0; buf[11] = 0; // the kernel fills in the header checksum
  udpChecksum(buf, (buf[0] & 15) * 4, n);
  if (Number(c.sendto(tx, buf, BigInt(n), 0, dst, 16)) === n) console.log("forwarded " + ++forwarded);
}
`;

/** Starts forwarding `group` from interface `from` to `to` in `netns`; stop with `stop()`. */
export async function startMulticastForwarder(
  netns: string,
  group: string,
  from: string,
  to: string,
): Promise<Proc> {
  const proc = new Proc([
    "ip",
    "netns",
    "exec",
    netns,
    ...NO_SYS_TIME,
    Deno.execPath(),
    "eval",
    SCRIPT,
    group,
    from,
    to,
  ]);
  await proc.waitFor(/forwarder (ready|failed.*)/, 20_000);
  if (!/forwarder ready/.test(proc.output)) {
    await proc.stop();
    throw new Error(`multicast forwarder in ${netns}: ${proc.output}`);
  }
  return proc;
}
