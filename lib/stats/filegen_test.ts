import assert from "node:assert/strict";
import { FileGen, filegenSuffix, type FilegenType, isoWeek } from "./filegen.ts";
import type { Logger } from "../log/logger.ts";

/** A logger that keeps what it is told. */
function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

/** Unix seconds of a UTC date and time. */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
}

const CTX = { pid: 4242, uptimeSec: 0 };

Deno.test("filegenSuffix() names each file-set type as ntpd 4.2.8 does", () => {
  const t = utc(1992, 12, 10, 13, 14, 15);
  const cases: [FilegenType, string][] = [
    ["none", ""],
    ["pid", ".#4242"],
    ["day", ".19921210"],
    ["week", ".1992w50"],
    ["month", ".199212"],
    ["year", ".1992"],
    ["age", ".a00000000"],
  ];
  for (const [type, suffix] of cases) assert.equal(filegenSuffix(type, t, CTX), suffix, type);
});

Deno.test("filegenSuffix() age counts whole days of running time", () => {
  const t = utc(2024, 6, 1);
  assert.equal(filegenSuffix("age", t, { pid: 1, uptimeSec: 86_399.9 }), ".a00000000");
  assert.equal(filegenSuffix("age", t, { pid: 1, uptimeSec: 86_400 }), ".a00086400");
  assert.equal(filegenSuffix("age", t, { pid: 1, uptimeSec: 3 * 86_400 + 5 }), ".a00259200");
});

Deno.test("filegenSuffix() uses ISO weeks, whose year can differ from the calendar's", () => {
  assert.equal(filegenSuffix("week", utc(1992, 1, 10), CTX), ".1992w02");
  assert.equal(filegenSuffix("week", utc(2021, 1, 1), CTX), ".2020w53"); // a Friday
  assert.equal(filegenSuffix("week", utc(2021, 1, 4), CTX), ".2021w01"); // the Monday after
  assert.equal(filegenSuffix("week", utc(2024, 12, 30), CTX), ".2025w01");
  assert.equal(filegenSuffix("week", utc(2026, 12, 31, 23, 59, 59), CTX), ".2026w53");
});

Deno.test("isoWeek() agrees with a day-by-day count over eight years", () => {
  // Walk every day: the week number goes up by one each Monday and restarts at 1 in the
  // week holding January 4th.
  let day = Math.floor(utc(2019, 12, 30) / 86_400); // a Monday, ISO 2020 week 1
  let expected = { year: 2020, week: 1 };
  for (let i = 0; i < 8 * 366; i++, day++) {
    const weekday = new Date(day * 86_400_000).getUTCDay();
    if (i > 0 && weekday === 1) {
      const thursday = new Date((day + 3) * 86_400_000);
      const jan4 = thursday.getUTCMonth() === 0 && thursday.getUTCDate() <= 7;
      expected = jan4 ? { year: thursday.getUTCFullYear(), week: 1 } : {
        year: expected.year,
        week: expected.week + 1,
      };
    }
    assert.deepEqual(isoWeek(day), expected, new Date(day * 86_400_000).toISOString());
  }
});

Deno.test("filegenSuffix() day and month roll over exactly at UTC midnight", () => {
  assert.equal(filegenSuffix("day", utc(2024, 2, 29, 23, 59, 59) + 0.999, CTX), ".20240229");
  assert.equal(filegenSuffix("day", utc(2024, 3, 1), CTX), ".20240301");
  assert.equal(filegenSuffix("month", utc(2024, 2, 29, 23, 59, 59) + 0.999, CTX), ".202402");
  assert.equal(filegenSuffix("year", utc(2024, 1, 1) - 0.001, CTX), ".2023");
});

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae-filegen-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function lines(path: string): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "");
}

Deno.test("FileGen rotates at midnight: every line once, in the member of its own time", async () => {
  await withDir((dir) => {
    const log = memoryLog();
    const g = new FileGen({
      name: "loopstats",
      basePath: `${dir}/loopstats`,
      type: "day",
      link: true,
    }, {
      log,
      pid: 1,
    });
    const times = [
      utc(2025, 12, 31, 23, 59, 58),
      utc(2025, 12, 31, 23, 59, 59) + 0.999,
      utc(2026, 1, 1),
      utc(2026, 1, 1, 0, 0, 1),
    ];
    times.forEach((t, i) => assert.equal(g.append(`line ${i}`, t, 0), true));
    g.close();
    assert.deepEqual(lines(`${dir}/loopstats.20251231`), ["line 0", "line 1"]);
    assert.deepEqual(lines(`${dir}/loopstats.20260101`), ["line 2", "line 3"]);
    // The bare name is a hard link to the current member only.
    const bare = Deno.statSync(`${dir}/loopstats`);
    assert.equal(bare.ino, Deno.statSync(`${dir}/loopstats.20260101`).ino);
    assert.equal(Deno.statSync(`${dir}/loopstats.20251231`).nlink, 1);
    assert.deepEqual(g.counts, { written: 4, dropped: 0, opened: 2 });
    assert.deepEqual(log.lines, []);
  });
});

Deno.test("FileGen rotates at the ISO week boundary (Sunday to Monday)", async () => {
  await withDir((dir) => {
    const g = new FileGen({ name: "peerstats", basePath: `${dir}/p`, type: "week", link: false }, {
      log: memoryLog(),
      pid: 1,
    });
    g.append("sun", utc(2026, 1, 4, 23, 59, 59) + 0.9995, 0); // Sunday of ISO week 1
    g.append("mon", utc(2026, 1, 5), 0); // Monday, week 2
    g.close();
    assert.deepEqual(lines(`${dir}/p.2026w01`), ["sun"]);
    assert.deepEqual(lines(`${dir}/p.2026w02`), ["mon"]);
    assert.throws(() => Deno.lstatSync(`${dir}/p`), Deno.errors.NotFound); // nolink
  });
});

Deno.test("FileGen after a restart: the old link is replaced, a plain file is saved aside", async () => {
  await withDir((dir) => {
    const t = utc(2026, 3, 1, 12);
    const opts = { name: "rawstats", basePath: `${dir}/raw`, type: "day" as const, link: true };
    const first = new FileGen(opts, { log: memoryLog(), pid: 7 });
    first.append("one", t, 0);
    first.close();
    // The same day again: the member has two names (the link); it is reopened, not refused.
    const second = new FileGen(opts, { log: memoryLog(), pid: 8 });
    assert.equal(second.append("two", t + 1, 0), true);
    second.close();
    assert.deepEqual(lines(`${dir}/raw.20260301`), ["one", "two"]);
    // A plain file at the bare name (from `type none`) is kept under <name>.<pid>C<n>.
    Deno.removeSync(`${dir}/raw`);
    Deno.writeTextFileSync(`${dir}/raw`, "old\n");
    const third = new FileGen(opts, { log: memoryLog(), pid: 9 });
    third.append("three", t + 2, 0);
    third.close();
    assert.deepEqual(lines(`${dir}/raw.9C0`), ["old"]);
    assert.deepEqual(lines(`${dir}/raw`), ["one", "two", "three"]);
  });
});

Deno.test("FileGen never follows a link planted at a member's name", async () => {
  await withDir((dir) => {
    const t = utc(2026, 3, 1, 12);
    Deno.writeTextFileSync(`${dir}/victim`, "keep\n");
    Deno.symlinkSync(`${dir}/victim`, `${dir}/loop.20260301`);
    const log = memoryLog();
    const g = new FileGen({ name: "loopstats", basePath: `${dir}/loop`, type: "day", link: true }, {
      log,
      pid: 1,
    });
    assert.equal(g.append("x", t, 0), false);
    assert.equal(g.append("y", t + 1, 0), false);
    g.close();
    assert.equal(Deno.readTextFileSync(`${dir}/victim`), "keep\n");
    assert.equal(log.lines.filter((l) => l.includes("symbolic link")).length, 1);
    assert.equal(g.counts.dropped, 2);
  });
});

Deno.test("FileGen in a folder it cannot open: logged once, counted, retried a minute later", async () => {
  await withDir((dir) => {
    const log = memoryLog();
    const g = new FileGen(
      { name: "sysstats", basePath: `${dir}/missing/sys`, type: "day", link: true },
      { log, pid: 1 },
    );
    const t = utc(2026, 3, 1, 12);
    for (let i = 0; i < 30; i++) assert.equal(g.append(`l${i}`, t + i, 0), false);
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, /^error cannot open sysstats file .*missing\/sys\.20260301/);
    Deno.mkdirSync(`${dir}/missing`);
    assert.equal(g.append("early", t + 59, 0), false); // within the retry delay
    assert.equal(g.append("late", t + 61, 0), true);
    g.close();
    assert.deepEqual(lines(`${dir}/missing/sys.20260301`), ["late"]);
    assert.match(log.lines.at(-1)!, /written again \(31 lines lost\)/);
  });
});

Deno.test("FileGen keeps writing to the open member when the next one cannot be opened", async () => {
  await withDir((dir) => {
    const log = memoryLog();
    const g = new FileGen({ name: "loopstats", basePath: `${dir}/l`, type: "day", link: false }, {
      log,
      pid: 1,
    });
    g.append("a", utc(2026, 3, 1, 23, 59), 0);
    Deno.mkdirSync(`${dir}/l.20260302`); // the next member's name is taken by a folder
    assert.equal(g.append("b", utc(2026, 3, 2, 0, 1), 0), true);
    g.close();
    assert.deepEqual(lines(`${dir}/l.20260301`), ["a", "b"]);
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, /is a directory/);
  });
});

const isRoot = Deno.uid() === 0;

Deno.test({
  name:
    "FileGen on a full disk (64 KiB tmpfs): no torn line, logged once, resumes when space frees",
  ignore: !isRoot,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae-fullfs-" });
    const mount = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", dir],
    }).outputSync();
    if (!mount.success) {
      await Deno.remove(dir);
      throw new Error(`mount: ${new TextDecoder().decode(mount.stderr)}`);
    }
    try {
      // Fill most of the space with another file, so the statistics file hits the limit.
      const filler = new Uint8Array(60 * 1024);
      Deno.writeFileSync(`${dir}/filler`, filler);
      const log = memoryLog();
      const g = new FileGen(
        { name: "rawstats", basePath: `${dir}/raw`, type: "none", link: false },
        {
          log,
          pid: 1,
        },
      );
      const line = (i: number) => `${String(i).padStart(6, "0")} ${"x".repeat(90)}`; // 98 bytes
      const t = utc(2026, 3, 1);
      let ok = 0;
      let failed = 0;
      for (let i = 0; i < 200; i++) g.append(line(i), t + i, 0) ? ok++ : failed++;
      assert.ok(ok > 0 && failed > 0, `written ${ok}, failed ${failed}`);
      // Every line in the file is whole, and they are the first `ok` lines in order.
      const text = Deno.readTextFileSync(`${dir}/raw`);
      assert.ok(text.endsWith("\n"));
      assert.deepEqual(
        text.split("\n").slice(0, -1),
        Array.from({ length: ok }, (_, i) => line(i)),
      );
      assert.equal(log.lines.length, 1);
      assert.match(
        log.lines[0]!,
        /^error cannot write rawstats file .*raw: write: ENOSPC \(errno 28\)/,
      );
      // Space comes back: writing resumes by itself, and the loss is reported once.
      Deno.removeSync(`${dir}/filler`);
      assert.equal(g.append("after", t + 300, 0), true);
      g.close();
      assert.equal(Deno.readTextFileSync(`${dir}/raw`), `${text}after\n`);
      assert.match(log.lines[1]!, new RegExp(`written again \\(${failed} lines lost\\)`));
      assert.deepEqual(g.counts, { written: ok + 1, dropped: failed, opened: 1 });
    } finally {
      new Deno.Command("umount", { args: [dir] }).outputSync();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
