// An NTS-KE flood against a running Horae, bounded in count (240 silent connections, then 120
// full exchanges 20 at a time) and in time (each step has a deadline): the cap on connections in
// progress holds (the rest are closed at accept and counted), silent connections are closed at
// their deadline and then every exchange is served, and the NTP service answers throughout
// (every query gets a reply within a second, generous for a loaded machine: this is about
// answering at all, not speed).

import assert from "node:assert/strict";
import { freeTcpPort, needPeers, readJson, startHorae, tempDir } from "../support/peers.ts";
import { makeTestPki, ntsServerConf } from "../support/nts_pki.ts";
import { DEFAULT_NTS_KE_SERVER_OPTIONS } from "../../lib/daemon/nts_ke_server.ts";
import { rawKeExchange } from "./_nts_ke_raw.ts";

const peers = await needPeers("NTS-KE flood against horae", {
  programs: ["openssl"],
});

// deno-lint-ignore no-explicit-any
type Json = any;

const SILENT = 240;
const EXCHANGES = 120;
const BATCH = 20;

/** Sends mode 3 requests every 50 ms until stopped; counts requests and replies within 1 s. */
function ntpProbe(port: number) {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let sent = 0;
  let answered = 0;
  let stopped = false;
  const pending = new Map<number, number>();
  const reader = (async () => {
    try {
      for (;;) {
        const [data] = await sock.receive();
        if (data.length < 48) continue;
        // The request's transmit timestamp comes back as the origin timestamp.
        const seq = new DataView(data.buffer, data.byteOffset).getUint32(28);
        const at = pending.get(seq);
        if (at !== undefined && performance.now() - at <= 1000) answered++;
        pending.delete(seq);
      }
    } catch {
      // closed
    }
  })();
  const sender = (async () => {
    while (!stopped) {
      const req = new Uint8Array(48);
      req[0] = 0x23; // version 4, mode 3
      new DataView(req.buffer).setUint32(44, ++sent);
      pending.set(sent, performance.now());
      await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop(): Promise<{ sent: number; answered: number }> {
      stopped = true;
      await sender;
      await new Promise((r) => setTimeout(r, 1000)); // the last replies
      sock.close();
      await reader;
      return { sent, answered };
    },
  };
}

Deno.test(
  "interop: an NTS-KE flood is capped, silent connections time out, NTP keeps answering",
  { ignore: peers.ignore },
  async () => {
    const dir = await tempDir("nts-flood-");
    try {
      const pki = await makeTestPki(dir);
      const kePort = freeTcpPort();
      const horae = await startHorae({
        conf: ntsServerConf(pki, kePort, { cookieFile: `${dir}/cookies` }),
        args: ["--status-file", "status.json"],
      });
      const probe = ntpProbe(horae.port);
      const silent: Deno.TcpConn[] = [];
      try {
        await horae.proc.waitFor(/NTS-KE server on TCP port/, 10_000);
        const t0 = performance.now();
        // Silent connections: the first ones hold every place until the server's deadline
        // closes them; the rest are closed at accept.
        for (let i = 0; i < SILENT; i++) {
          try {
            silent.push(await Deno.connect({ hostname: "127.0.0.1", port: kePort }));
          } catch {
            // refused under load: it cannot get in either
          }
        }
        // While the places are held, a real client is turned away too.
        const blocked = await rawKeExchange({
          host: "127.0.0.1",
          port: kePort,
          ca: pki.ca,
          aeadIds: [15],
          step: 64,
        });
        assert.equal(blocked.ok, false, "the cap is full");
        // The server's deadline (5 s) frees the places.
        await new Promise((r) =>
          setTimeout(r, (DEFAULT_NTS_KE_SERVER_OPTIONS.timeoutSec + 1) * 1000)
        );
        // Full exchanges in batches: every one served.
        let ok = 0;
        for (let b = 0; b < EXCHANGES / BATCH; b++) {
          const batch = await Promise.all(
            Array.from(
              { length: BATCH },
              () =>
                rawKeExchange({
                  host: "127.0.0.1",
                  port: kePort,
                  ca: pki.ca,
                  aeadIds: [15],
                  step: 64,
                }),
            ),
          );
          ok += batch.filter((r) => r.ok && r.response.ok).length;
        }
        const floodSec = (performance.now() - t0) / 1000;
        assert.ok(floodSec < 60, `the flood took ${floodSec} s`);
        assert.equal(ok, EXCHANGES);
        const { sent, answered } = await probe.stop();
        await new Promise((r) => setTimeout(r, 2500)); // one more status write
        const s: Json = await readJson(`${horae.dir}/status.json`);
        const k = s.nts.server;
        // deno-lint-ignore no-console
        console.log(
          `flood: ${floodSec.toFixed(1)} s, ${ok}/${EXCHANGES} exchanges, server ${
            JSON.stringify(k)
          }, NTP ${answered}/${sent}`,
        );
        const cap = DEFAULT_NTS_KE_SERVER_OPTIONS.maxConnections;
        assert.ok(k.peakConnections <= cap, `peak ${k.peakConnections} > cap ${cap}`);
        assert.ok(k.busy >= SILENT - cap, `busy ${k.busy}: the cap turned connections away`);
        assert.equal(k.active, 0);
        // All from 127.0.0.1: only the per-address share of the cap got in.
        const perAddress = DEFAULT_NTS_KE_SERVER_OPTIONS.maxPerAddress;
        assert.equal(
          k.timeouts,
          perAddress,
          "the silent connections that got in were closed at 5 s",
        );
        assert.equal(k.served, EXCHANGES);
        assert.ok(sent >= 40, `only ${sent} NTP queries sent`);
        assert.ok(answered >= sent - 2, `NTP answered ${answered} of ${sent} within 1 s`);
      } finally {
        for (const c of silent) {
          try {
            c.close();
          } catch { /* closed by the server */ }
        }
        await probe.stop().catch(() => {});
        const st = await horae.stop();
        assert.equal(st.code, 0, horae.proc.output.slice(-2000));
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
