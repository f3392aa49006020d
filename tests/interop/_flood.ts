// A flooding NTP client for the flood interop test: one source address, many source ports, mode 3
// requests sent with sendmmsg as fast as the machine allows, bounded in count and in time; every
// reply read back and sorted into ordinary replies and RATE/DENY kisses. Prints one JSON line.
//
// deno run --allow-ffi flood.ts <source> <server> <port> <sockets> <seconds> <max-requests>
// deno-lint-ignore-file no-console

import {
  bindSocket,
  closeSocket,
  encodeSockaddrIn,
  MmsgBatch,
  MSG_DONTWAIT,
  openUdpSocket,
  receiveBatch,
  sendBatch,
  setSocketOption,
  SO_RCVBUF,
  SOL_SOCKET,
} from "../../ffi/socket.ts";

const BATCH = 64;

function ipv4(text: string): number[] {
  return text.split(".").map(Number);
}

const [source, server, portText, socketsText, secondsText, maxText] = Deno.args;
const port = Number(portText);
const socketCount = Number(socketsText ?? 32);
const seconds = Number(secondsText ?? 5);
const maxRequests = Number(maxText ?? 1_000_000);

const to = new Uint8Array(16);
encodeSockaddrIn(to, ipv4(server!), port);
const request = new Uint8Array(48);
request[0] = 0x23; // version 4, mode 3
request[2] = 6;
request.set([0xe9, 0, 0, 1, 0, 0, 0, 1], 40); // a transmit timestamp (never zero)

const sockets = Array.from({ length: socketCount }, () => {
  const fd = openUdpSocket(4);
  setSocketOption(fd, SOL_SOCKET, SO_RCVBUF, 1 << 20);
  const name = new Uint8Array(16);
  encodeSockaddrIn(name, ipv4(source!), 0);
  bindSocket(fd, name);
  const batch = new MmsgBatch({ count: BATCH, bufferBytes: 128, controlBytes: 0 });
  for (let j = 0; j < BATCH; j++) {
    batch.txBuffer(j).set(request);
    batch.setTx(j, j, 48, to);
  }
  return { fd, batch };
});

let sent = 0;
let replies = 0;
let kisses = 0;
let kissesDeny = 0;
let sendErrors = 0;

function drain(s: { fd: number; batch: MmsgBatch }): void {
  for (;;) {
    const n = receiveBatch(s.fd, s.batch, BATCH, MSG_DONTWAIT);
    if (n <= 0) return;
    for (let i = 0; i < n; i++) {
      const b = s.batch.rxBuffer(i);
      if (s.batch.rxLength(i) < 48) continue;
      if (b[1] === 0) {
        const code = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
        if (code === "RATE") kisses++;
        else if (code === "DENY") kissesDeny++;
      } else {
        replies++;
      }
    }
  }
}

const end = performance.now() + seconds * 1000;
let round = 0;
while (sent < maxRequests && performance.now() < end) {
  for (const s of sockets) {
    const want = Math.min(BATCH, maxRequests - sent);
    if (want <= 0) break;
    const n = sendBatch(s.fd, s.batch, 0, want);
    if (n > 0) sent += n;
    else sendErrors++;
  }
  if (++round % 4 === 0) { for (const s of sockets) drain(s); }
}
// Late replies and kisses: a moment for them to arrive, then read everything.
await new Promise((r) => setTimeout(r, 500));
for (const s of sockets) drain(s);
for (const s of sockets) closeSocket(s.fd);
console.log(
  JSON.stringify({ sent, replies, kisses, kissesDeny, sendErrors, sockets: socketCount }),
);
