// Access control against real clients: chronyd (-Q, and a daemon read back with chronyc) and
// NTPsec's ntpdig talk from 127.0.0.x addresses of a test namespace to Horae on port 123, and
// each restrict rule (one host, a mask, a prefix, default, -6 default with ::1, version,
// ntpport) gets the treatment ntp.conf(5) gives it: served, a DENY or RATE kiss, or silence. A
// well-behaved chronyd client stays served throughout, and the counters add up.

import assert from "node:assert/strict";
import { chronydMeasure, needPeers, startHorae, withNetns } from "../support/peers.ts";
import {
  addLoopbackAddresses,
  assertCountersAddUp,
  chronydQuery,
  ntpdig,
  readCounters,
  startChronydClient,
} from "./_access_peers.ts";

const peers = await needPeers("access control against chronyd and ntpdig", {
  programs: ["chronyd", "chronyc", "ntpdig"],
  root: "a network namespace",
});

const RULES = `server 127.127.1.0
fudge 127.127.1.0 stratum 9
# 4 s on average, 2 s between two packets at least
discard average 2 minimum 2
# IPv4 default: rate limited, with kisses
restrict default limited kod
# IPv6 default: time service refused, with DENY kisses (::1 included)
restrict -6 default noserve kod
# one host: silence
restrict 127.0.0.2 ignore
# a mask: refused with DENY kisses ...
restrict 127.0.1.0 mask 255.255.255.0 noserve kod
# ... but one host inside it is served: the most specific entry wins
restrict 127.0.1.7
# a prefix: NTPv4 only
restrict 127.0.2.0/24 version
`;

Deno.test(
  "interop: restrict rules for a host, a mask, a prefix, default and -6 default, as chronyd and ntpdig see them",
  {
    ignore: peers.ignore,
  },
  async () => {
    const chronyd = peers.path("chronyd");
    const chronyc = peers.path("chronyc");
    const dig = peers.path("ntpdig");
    await withNetns("hacc", async (ns) => {
      await addLoopbackAddresses(ns, [
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.1.5",
        "127.0.1.6",
        "127.0.1.7",
        "127.0.2.5",
        "127.0.2.6",
      ]);
      const horae = await startHorae({
        conf: RULES,
        port: 123,
        netns: ns,
        listen: [],
        args: ["--status-file", "status.json"],
      });
      const status = `${horae.dir}/status.json`;
      // The polite client: one request every 4 s (the average allowed), from the default range.
      const good = await startChronydClient(chronyd, chronyc, {
        netns: ns,
        server: "127.0.0.4 port 123 iburst minpoll 2 maxpoll 2",
      });
      // The DENY kiss as chronyd records it.
      const denied = await startChronydClient(chronyd, chronyc, {
        netns: ns,
        server: "127.0.1.5 port 123 iburst minpoll 0 maxpoll 0",
      });
      try {
        const [digDefault, digHost, digMask, digInside, digPrefix, digV6] = await Promise.all([
          ntpdig(dig, "127.0.0.1", ns),
          ntpdig(dig, "127.0.0.2", ns),
          ntpdig(dig, "127.0.1.6", ns),
          ntpdig(dig, "127.0.1.7", ns),
          ntpdig(dig, "127.0.2.5", ns),
          ntpdig(dig, "::1", ns),
        ]);
        assert.ok(digDefault.served && !digDefault.kissed, `default:\n${digDefault.output}`);
        assert.ok(!digHost.served && !digHost.kissed, `ignore is silent:\n${digHost.output}`);
        assert.ok(!digMask.served && digMask.kissed, `mask, noserve kod:\n${digMask.output}`);
        assert.ok(digInside.served, `host inside the mask:\n${digInside.output}`);
        assert.ok(digPrefix.served, `prefix, NTPv4:\n${digPrefix.output}`);
        assert.ok(!digV6.served && digV6.kissed, `-6 default noserve kod, ::1:\n${digV6.output}`);

        const [qDefault, qHost, qV3, qV4, qRate, qV6] = await Promise.all([
          chronydMeasure(chronyd, "127.0.0.1", 123, "", { netns: ns }),
          chronydMeasure(chronyd, "127.0.0.2", 123, "", { netns: ns }),
          chronydMeasure(chronyd, "127.0.2.6", 123, "version 3", { netns: ns }),
          chronydMeasure(chronyd, "127.0.2.5", 123, "version 4", { netns: ns }),
          // Four requests a second: over the rates from the second one on.
          chronydMeasure(chronyd, "127.0.0.3", 123, "minpoll -2 maxpoll -2", { netns: ns }),
          chronydMeasure(chronyd, "::1", 123, "", { netns: ns }),
        ]);
        assert.notEqual(qDefault.offsetSec, null, `default:\n${qDefault.output}`);
        assert.equal(qHost.offsetSec, null, `ignore:\n${qHost.output}`);
        assert.equal(qV3.offsetSec, null, `version refuses NTPv3:\n${qV3.output}`);
        assert.notEqual(qV4.offsetSec, null, `version serves NTPv4:\n${qV4.output}`);
        assert.match(qRate.output, /Received KoD RATE from 127\.0\.0\.3/, qRate.output);
        assert.equal(qV6.offsetSec, null, `::1:\n${qV6.output}`);

        const d = await denied.ntpdata();
        assert.equal(d["Reference ID"], "44454E59 (DENY)", JSON.stringify(d));
        assert.equal(d["Stratum"], "0");
        assert.match(d["Poll interval"] ?? "", /^2 /, "the kiss carries discard average");

        // The polite client was served all along: every request answered, every answer valid,
        // never a kiss.
        const g = await good.ntpdata();
        const tx = Number(g["Total TX"]);
        const rx = Number(g["Total RX"]);
        assert.ok(tx >= 5, `polled all along: ${JSON.stringify(g)}`);
        assert.ok(rx >= tx - 1, `answered: ${rx} of ${tx}`);
        assert.equal(Number(g["Total valid RX"]), rx);
        assert.equal(g["Stratum"], "10");
        assert.doesNotMatch(good.proc.output, /KoD/);

        const c = await readCounters(status);
        const drops = c.sysstats.drops;
        assert.ok(drops.ignored! >= 2, `ignored: ${JSON.stringify(drops)}`);
        assert.ok(drops.noserve! >= 3, "mask and -6 default refused");
        assert.ok(drops.version! >= 1, "NTPv3 refused");
        assert.ok(drops.rate_limited! >= 1, "over the rates");
        assert.ok(c.sysstats.kissesSent >= 4, `kisses: ${c.sysstats.kissesSent}`);
        assertCountersAddUp(c);
      } finally {
        await good.stop();
        await denied.stop();
        const st = await horae.stop();
        assert.equal(st.code, 0, horae.proc.output.slice(-3000));
      }
    });
  },
);

Deno.test("interop: restrict ... ntpport tells a client's port 123 from its other ports", {
  ignore: peers.ignore,
}, async () => {
  const chronyd = peers.path("chronyd");
  await withNetns("hacn", async (ns) => {
    await addLoopbackAddresses(ns, ["127.0.5.5"]);
    const horae = await startHorae({
      conf: `server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n` +
        `restrict 127.0.5.5 noserve kod\nrestrict 127.0.5.5 ntpport\n`,
      port: 1123,
      netns: ns,
      listen: [],
      args: ["--status-file", "status.json"],
    });
    try {
      const free = await chronydMeasure(chronyd, "127.0.0.1", 1123, "", { netns: ns });
      assert.notEqual(free.offsetSec, null, `127.0.0.1 is not restricted at all:\n${free.output}`);
      // From 127.0.5.5 port 123 (chronyd's acquisitionport): the ntpport entry, no flags.
      const q = await chronydMeasureFrom(chronyd, ns, "127.0.5.5", 123);
      assert.notEqual(q.offsetSec, null, `from port 123:\n${q.output}`);
      const other = await chronydMeasureFrom(chronyd, ns, "127.0.5.5", 0);
      assert.equal(other.offsetSec, null, `from another port:\n${other.output}`);
      const c = await readCounters(`${horae.dir}/status.json`);
      assert.ok(c.sysstats.drops.noserve! >= 1);
      assert.ok(c.sysstats.kissesSent >= 1);
      assertCountersAddUp(c);
    } finally {
      const st = await horae.stop();
      assert.equal(st.code, 0, horae.proc.output.slice(-3000));
    }
  });
});

/**
 * chronyd -Q from `source` (port `port`, 0: any) to the daemon's wildcard socket at the same
 * address, port 1123: a wildcard socket's reply leaves from the address the kernel picks for
 * the destination, which for a local address is that address.
 */
function chronydMeasureFrom(chronyd: string, netns: string, source: string, port: number) {
  return chronydQuery(chronyd, {
    netns,
    host: source,
    port: 1123,
    config: [`bindacqaddress ${source}`, `acquisitionport ${port}`],
  });
}
