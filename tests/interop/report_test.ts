// Statistics files from a real run, and the report made of them in a real browser: Horae follows
// three chronyd -x servers in a network namespace with `statistics` on, the files are checked
// line by line, `horae report` turns them into a page, and headless Chromium lays that page out
// and measures what each plot draws (a copy of the page with a small script that reports every
// plot's drawn marks; the report itself has no script). Observe mode, no CAP_SYS_TIME anywhere.

import assert from "node:assert/strict";
import { horaeCommand, needPeers, Proc, tempDir, withNetns } from "../support/peers.ts";
import {
  GOOD,
  horaeConf,
  type Json,
  NETNS,
  startObservingHorae,
  startServers,
  waitStatus,
} from "./_chronyd_servers.ts";

const peers = await needPeers("horae report rendered by Chromium", {
  programs: ["chronyd", "chromium"],
  root: NETNS,
});

/** How long Horae follows the servers (s); HORAE_REPORT_FOLLOW_SEC for a longer look. */
const FOLLOW_SEC = Number(Deno.env.get("HORAE_REPORT_FOLLOW_SEC") ?? "90");

/** Appended to a copy of the page: lists, per plot, how many drawn marks have a visible box. */
const PROBE = `<script>
addEventListener("load", () => {
  const rows = [...document.querySelectorAll("svg.plot")].map((svg) => {
    const frame = svg.querySelector("rect.frame").getBBox();
    let marks = 0;
    for (const el of svg.querySelectorAll("path, polygon, rect:not(.frame), circle")) {
      const b = el.getBBox();
      const inside = b.x + b.width >= frame.x && b.x <= frame.x + frame.width &&
        b.y + b.height >= frame.y && b.y <= frame.y + frame.height;
      if (inside && (b.width > 0 || b.height > 0)) marks++;
    }
    const r = svg.getBoundingClientRect();
    return [svg.getAttribute("aria-label"), marks, Math.round(r.width), Math.round(r.height)];
  });
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(rows);
  document.body.append(pre);
});
</script>`;

Deno.test(
  "interop: statistics written while following chronyd make a report whose every plot Chromium draws",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    await withNetns("hrep", async (ns) => {
      const work = await tempDir("report-");
      const stats = `${work}/stats`;
      await Deno.mkdir(stats);
      const stopServers = await startServers(chronyd, ns, GOOD);
      const horae = await startObservingHorae(
        ns,
        horaeConf(
          GOOD,
          `statsdir ${stats}\nstatistics loopstats peerstats rawstats protostats sysstats\n`,
        ),
      );
      let stopped = false;
      try {
        await waitStatus(
          `${horae.dir}/status.json`,
          (s: Json) => s.synchronized,
          40_000,
          horae.proc,
        );
        await new Promise((r) => setTimeout(r, FOLLOW_SEC * 1000));
        const st = await horae.proc.stop();
        stopped = true;
        assert.equal(st.code, 0, horae.proc.output.slice(-2000));
        // The files: today's members (UTC), their bare links, ntpd's line layouts.
        const names = [...Deno.readDirSync(stats)].map((e) => e.name).sort();
        const member = (s: string) => names.filter((n) => n.startsWith(`${s}.`)).at(-1);
        for (const s of ["loopstats", "peerstats", "rawstats", "protostats"]) {
          assert.ok(member(s) !== undefined && names.includes(s), `${s}: ${names.join(" ")}`);
        }
        const lines = (s: string) =>
          Deno.readTextFileSync(`${stats}/${member(s)!}`).trimEnd().split("\n");
        const peerLines = lines("peerstats");
        for (const a of GOOD) {
          const mine = peerLines.filter((l) => l.split(" ")[2] === a);
          assert.ok(mine.length >= 5, `${a}: ${mine.length} peerstats lines`);
          // Loopback to chronyd on the same clock: offsets well under a millisecond, small delays.
          const last = mine.at(-1)!.split(" ");
          assert.ok(Math.abs(Number(last[4])) < 1e-3 && Number(last[5]) < 5e-3, mine.at(-1));
        }
        assert.ok(lines("loopstats").length >= 3);
        assert.ok(lines("rawstats").every((l) => l.split(" ").length === 17));
        assert.match(lines("protostats").join("\n"), / 05 clock_sync$/m);

        // The report, and what Chromium draws of it.
        const html = `${work}/report.html`;
        const [report, ...reportArgs] = await horaeCommand();
        const rep = await new Deno.Command(report!, {
          args: [...reportArgs, "report", stats, "-o", html],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(rep.code, 0, new TextDecoder().decode(rep.stderr));
        const page = Deno.readTextFileSync(html);
        assert.doesNotMatch(page, /<script/);
        const probe = `${work}/probe.html`;
        Deno.writeTextFileSync(probe, page.replace("</body>", `${PROBE}\n</body>`));
        const chrome = new Proc([
          peers.path("chromium"),
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          `--user-data-dir=${work}/chromium`,
          "--window-size=1400,2000",
          "--dump-dom",
          `file://${probe}`,
        ]);
        const done = await chrome.wait(60_000);
        assert.equal(done.code, 0, chrome.output.slice(-2000));
        const m = /<pre id="probe">([^<]*)<\/pre>/.exec(chrome.output);
        assert.ok(m !== null, chrome.output.slice(-2000));
        const rows = JSON.parse(m[1]!.replaceAll("&quot;", '"')) as [
          string,
          number,
          number,
          number,
        ][];
        // 3 loop plots, source offsets and delays, the loop histogram and one per server.
        assert.equal(rows.length, 5 + 1 + GOOD.length, JSON.stringify(rows));
        for (const [label, marks, w, h] of rows) {
          assert.ok(marks > 0 && w > 100 && h > 100, `${label}: ${marks} marks, ${w}×${h}`);
        }
      } finally {
        if (!stopped) await horae.proc.stop();
        await horae.stop();
        await stopServers();
        await Deno.remove(work, { recursive: true });
      }
    });
  },
);
