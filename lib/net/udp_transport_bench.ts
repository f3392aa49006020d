// Micro-benchmarks of the UDP transport hot path and a loopback batch round trip:
//   deno bench --allow-all --unstable-net lib/net/udp_transport_bench.ts

import { realtime } from "../../ffi/libc.ts";
import {
  closeSocket,
  encodeSockaddrIn,
  findTimestampNs,
  MmsgBatch,
  MSG_DONTWAIT,
  openUdpSocket,
  PollSet,
  receiveBatch,
  SCM_TIMESTAMPNS,
  sendBatch,
  SOL_SOCKET,
} from "../../ffi/socket.ts";
import { sockaddrToSocketAddress } from "./socket_address.ts";
import { UdpTransport } from "./udp_transport.ts";

const now = realtime();

const sa = new Uint8Array(28);
encodeSockaddrIn(sa, [192, 0, 2, 33], 40123);
Deno.bench("sockaddrToSocketAddress() IPv4: cost of decoding a peer eagerly", () => {
  sockaddrToSocketAddress(sa, 16);
});

const ctl = new DataView(new ArrayBuffer(64));
ctl.setUint32(0, 32, true);
ctl.setInt32(8, SOL_SOCKET, true);
ctl.setInt32(12, SCM_TIMESTAMPNS, true);
ctl.setUint32(16, now[0], true);
ctl.setUint32(24, now[1], true);
const tsOut = new Float64Array(2);
Deno.bench("findTimestampNs() (cmsg walk per datagram)", () => {
  findTimestampNs(ctl, 0, 32, tsOut);
});

for (const txTimestamps of [false, true]) {
  Deno.bench(
    `UdpTransport: 20 round trips of 64 requests on loopback (txTimestamps ${txTimestamps})`,
    { group: "round trips" },
    async (b) => {
      const server = new UdpTransport({ address: "127.0.0.1", txTimestamps });
      const served = server.serve((d, r) => {
        const q = d.data;
        if (q.length < 48) return;
        const out = r.buffer;
        out[0] = (q[0]! & 0x38) | 4;
        out[1] = 2;
        for (let k = 0; k < 8; k++) out[24 + k] = q[40 + k]!;
        r.length = 48;
        r.stampTransmit = true;
      });
      const fd = openUdpSocket(4);
      const client = new MmsgBatch({ count: 64, bufferBytes: 64, controlBytes: 0 });
      const dest = new Uint8Array(new ArrayBuffer(16));
      encodeSockaddrIn(dest, [127, 0, 0, 1], server.localAddress.port);
      for (let j = 0; j < 64; j++) {
        client.txBuffer(j)[0] = 0x23;
        client.setTx(j, j, 48, dest);
      }
      const poll = new PollSet([fd]);
      b.start();
      for (let round = 0; round < 20; round++) {
        sendBatch(fd, client, 0, 64);
        let got = 0;
        for (let tries = 0; got < 64 && tries < 1000; tries++) {
          const n = receiveBatch(fd, client, 64 - got, MSG_DONTWAIT);
          if (n > 0) {
            got += n;
            client.resetReceive(n);
          } else {
            await poll.wait(1000);
          }
        }
      }
      b.end();
      closeSocket(fd);
      server.close();
      await served;
    },
  );
}
