// Benchmark-only NTP server: the daemon's hot path (UdpTransport + Server, handler as in
// lib/daemon/daemon.ts) alone, with an event-loop lag probe and SO_REUSEPORT workers.
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { realtime } from "../../ffi/libc.ts";
import { UdpTransport } from "../../lib/net/udp_transport.ts";
import { fromUnix } from "../../lib/proto/ntp_time.ts";
import { Server } from "../../lib/proto/server.ts";
import { LagProbe } from "./lag_probe.ts";

/** refid 127.127.1.0 (the LOCAL clock's address), as the daemon sets it above stratum 1. */
const LOCAL_REFID = 0x7f7f0100;

/**
 * Runs the server until SIGTERM or SIGINT. Signals: SIGHUP starts a lag window, SIGUSR2 prints
 * `{"lag": …}` for it on stdout; on exit it prints `{"final": …}` with the transport and server
 * counters. Prints "Listening on ADDR:PORT" on stderr when ready, like the daemon. (Not
 * SIGUSR1: Deno opens its inspector on SIGUSR1.)
 */
export async function runCoreServer(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      address: { type: "string", default: "127.0.0.1" },
      "reuse-port": { type: "boolean", default: false },
      "no-kernel-timestamps": { type: "boolean", default: false },
      stratum: { type: "string", default: "10" },
      "lag-interval-ms": { type: "string", default: "10" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error("usage: core_server.ts --port N [--reuse-port] [--no-kernel-timestamps]");
    return 2;
  }
  const transport = new UdpTransport({
    address: values.address,
    port,
    reusePort: values["reuse-port"],
    kernelTimestamps: !values["no-kernel-timestamps"],
  });
  const [sec, nsec] = realtime();
  const server = new Server({
    leap: 0,
    stratum: Number(values.stratum),
    precisionLog2: -20,
    rootDelaySec: 0,
    rootDispersionSec: 0.01,
    refid: LOCAL_REFID,
    referenceTime: fromUnix(sec, nsec),
  });
  const probe = new LagProbe(Number(values["lag-interval-ms"]));
  probe.start();
  Deno.addSignalListener("SIGHUP", () => probe.reset());
  Deno.addSignalListener("SIGUSR2", () => console.log(JSON.stringify({ lag: probe.summary() })));
  const stop = () => transport.close();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  const a = transport.localAddress;
  console.error(
    `Listening on ${a.address}:${a.port}${
      transport.kernelTimestamps ? " (kernel timestamps)" : ""
    }`,
  );
  // The same handler as the daemon's, so this measures the daemon's per-packet work.
  await transport.serve((d, slot) => {
    const n = server.respondAt(d.data, d.rxUnixSec, d.rxUnixNsec, slot.buffer, slot.view);
    slot.length = n;
    slot.stampTransmit = n > 0;
  });
  probe.stop();
  console.log(JSON.stringify({ final: { transport: transport.stats(), server: server.stats() } }));
  return 0;
}

if (import.meta.main) Deno.exit(await runCoreServer(Deno.args));
