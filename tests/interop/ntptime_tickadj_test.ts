// Interop: Horae's `ntptime` (through the multi-call link) prints the fields NTPsec's ntptime
// prints, with the same values and identical status flags; a write without CAP_SYS_TIME is
// refused clearly and leaves the kernel as it was; `tickadj` prints the tick adjtimex reports.
// SAFETY: every write attempt runs under setpriv without CAP_SYS_TIME (checked first), so it
// cannot reach the clock; the test itself only reads (ntp_adjtime with modes 0).

import assert from "node:assert/strict";
import { realtimeNs } from "../../ffi/libc.ts";
import { readKernelTime, scaledPpmToPpm, type Timex } from "../../ffi/timex.ts";
import { isRoot, needPeers, NO_SYS_TIME } from "../support/peers.ts";
import { runClassic, runPeer } from "./_classic.ts";

const peers = await needPeers("horae ntptime against NTPsec's ntptime", { programs: ["ntptime"] });
const guarded = await needPeers("horae ntptime and tickadj refuse writes (setpriv guard)", {
  root: "the setpriv guard that removes CAP_SYS_TIME",
});

/** Each line of an ntptime report with its numbers and its date masked: the fields it has. */
function shape(report: string): string[] {
  return report.trimEnd().split("\n").map((l) =>
    l
      // The time line's date: ntpd's "Thu, Dec  3 2026 13:56:24.011" or NTPsec's ISO date.
      .replace(/time [0-9a-f]+\.[0-9a-f]+ +.*?, \(/, "time T DATE, (")
      .replace(/0x[0-9a-f]+/g, "H")
      .replace(/-?\d+(\.\d+)?/g, "N")
  );
}

/** The `name value` pairs of an ntptime report, in order (both sections). */
function fields(report: string): Map<string, string> {
  const out = new Map<string, string>();
  const gt = report.indexOf("ntp_gettime()");
  const at = report.indexOf("ntp_adjtime()");
  const sections: [string, string][] = [["g", report.slice(gt, at)], ["a", report.slice(at)]];
  for (const [tag, text] of sections) {
    const code = /returns code (\d+) \((\w+)\)/.exec(text);
    if (code) {
      out.set(`${tag}.code`, code[1]!);
      out.set(`${tag}.word`, code[2]!);
    }
    for (
      const m of text.matchAll(
        /(maximum error|estimated error|TAI offset|offset|frequency|interval|time constant|precision|tolerance) (-?[\d.]+)/g,
      )
    ) {
      if (!out.has(`${tag}.${m[1]}`)) out.set(`${tag}.${m[1]}`, m[2]!);
    }
    const status = /status (0x[0-9a-f]+ \([^)]*\))/.exec(text);
    if (status) out.set(`${tag}.status`, status[1]!);
    const modes = /modes (0x[0-9a-f]+ \([^)]*\))/.exec(text);
    if (modes) out.set(`${tag}.modes`, modes[1]!);
    const time = /time ([0-9a-f]+)\.([0-9a-f]+) /.exec(text);
    if (time) {
      out.set(`${tag}.time`, String(parseInt(time[1]!, 16) + parseInt(time[2]!, 16) / 2 ** 32));
    }
  }
  return out;
}

/** The writable kernel variables, to compare before and after a refused write. */
function writable(t: Timex): Record<string, number> {
  return {
    freq: t.freq,
    status: t.status,
    constant: t.constant,
    offset: t.offset,
    tick: t.tick,
    tai: t.tai,
    esterror: t.esterror,
  };
}

Deno.test(
  "interop: horae as ntptime prints NTPsec ntptime's fields, values and status flags",
  { ignore: peers.ignore },
  async () => {
    // The two reads are close, but the kernel's maximum error grows and its time moves: a pair
    // taken across a change of state (rare: the host's own daemon) is tried again.
    let last = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const t0 = realtimeNs();
      const theirs = await runPeer([peers.path("ntptime")]);
      const ours = await runClassic("ntptime", []);
      const elapsedSec = Number(realtimeNs() - t0) / 1e9;
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(theirs.code, 0, theirs.stdout);
      // Same lines, same fields, in the same order.
      assert.deepEqual(
        shape(ours.stdout),
        shape(theirs.stdout),
        `ours:\n${ours.stdout}\ntheirs:\n${theirs.stdout}`,
      );
      const a = fields(ours.stdout);
      const b = fields(theirs.stdout);
      last = `ours:\n${ours.stdout}\ntheirs:\n${theirs.stdout}`;
      assert.deepEqual([...a.keys()], [...b.keys()], last);
      let same = true;
      for (const [k, v] of b) {
        const mine = a.get(k)!;
        if (k.endsWith("maximum error")) {
          // Grows by the tolerance (500 µs/s) until it reaches 16 s.
          if (Math.abs(Number(mine) - Number(v)) > 500 * (elapsedSec + 1)) same = false;
        } else if (k.endsWith(".time")) {
          if (
            !(Number(mine) - Number(v) >= -0.001 && Number(mine) - Number(v) <= elapsedSec + 0.001)
          ) {
            same = false;
          }
        } else if (mine !== v) {
          same = false;
        }
      }
      if (same) {
        // The status flags are identical, word and names (e.g. "0x40 (UNSYNC)").
        assert.equal(a.get("a.status"), b.get("a.status"), last);
        assert.match(a.get("a.status")!, /^0x[0-9a-f]+ \([A-Z,]*\)$/);
        return;
      }
    }
    assert.fail(`three reads in a row disagreed:\n${last}`);
  },
);

Deno.test(
  "interop: ntptime and tickadj writes without CAP_SYS_TIME are refused; the kernel is unchanged",
  { ignore: guarded.ignore },
  async () => {
    // The guard first: under it the effective set lacks CAP_SYS_TIME (bit 25).
    assert.ok(isRoot());
    const caps = await new Deno.Command(NO_SYS_TIME[0]!, {
      args: [...NO_SYS_TIME.slice(1), "grep", "CapEff", "/proc/self/status"],
      stdout: "piped",
    }).output();
    const eff = BigInt(
      `0x${/CapEff:\s*([0-9a-f]+)/.exec(new TextDecoder().decode(caps.stdout))![1]}`,
    );
    assert.equal((eff >> 25n) & 1n, 0n, "the setpriv guard must remove CAP_SYS_TIME");

    const before = readKernelTime();
    const attempts: [Parameters<typeof runClassic>[0], string[], RegExp][] = [
      ["ntptime", ["-f", "12.5"], /^ntptime: setting the frequency needs CAP_SYS_TIME/],
      [
        "ntptime",
        ["-s", "0x2001", "-t", "6"],
        /^ntptime: setting the status, time constant needs CAP_SYS_TIME/,
      ],
      ["ntptime", ["-o", "100", "-m", "1000", "-e", "10", "-T", "37"], /needs CAP_SYS_TIME/],
      ["tickadj", ["10010"], /^tickadj: setting the tick needs CAP_SYS_TIME/],
      ["tickadj", ["-t", "9990"], /^tickadj: setting the tick needs CAP_SYS_TIME/],
    ];
    for (const [name, args, msg] of attempts) {
      const r = await runClassic(name, args);
      assert.equal(r.code, 77, `${name} ${args.join(" ")}: ${r.stderr}${r.stdout}`);
      assert.match(r.stderr, msg);
      assert.match(r.stderr, /nothing was changed\n$/);
      assert.equal(r.stdout, "");
    }
    const after = readKernelTime();
    assert.deepEqual(writable(after.timex), writable(before.timex));
    assert.equal(after.state, before.state);
  },
);

Deno.test("interop: horae as tickadj prints the tick adjtimex reports", async () => {
  const r = await runClassic("tickadj", []);
  assert.equal(r.code, 0, r.stderr);
  const tick = readKernelTime().timex.tick;
  assert.equal(r.stdout, `tick = ${tick}\ntick_adj = ${Math.round(tick * 500e-6)}\n`);
  const j = await runClassic("tickadj", ["--json"]);
  assert.equal(JSON.parse(j.stdout).tickUs, tick);
  // And ntptime's frequency agrees with the kernel's (a read-only cross-check of the units).
  const t = await runClassic("ntptime", ["--json"]);
  assert.equal(JSON.parse(t.stdout).adjtime.tickUs, tick);
  assert.equal(
    JSON.parse(t.stdout).adjtime.freqPpm.toFixed(3),
    scaledPpmToPpm(readKernelTime().timex.freq).toFixed(3),
  );
});
