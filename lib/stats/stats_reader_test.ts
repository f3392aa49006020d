import assert from "node:assert/strict";
import {
  fileTimeSpan,
  lineTime,
  MAX_LINE_BYTES,
  parseLoopstatsLine,
  parsePeerstatsLine,
  readLines,
  statsFiles,
} from "./stats_reader.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae-reader-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function collect(gen: AsyncGenerator<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of gen) out.push(l);
  return out;
}

Deno.test("parseLoopstatsLine() reads ntpd's loopstats fields", () => {
  assert.deepEqual(
    parseLoopstatsLine("50935 75440.031 0.000006019 13.778 0.000351733 0.013380 6"),
    {
      t: (50935 - 40587) * 86400 + 75440.031,
      offsetSec: 0.000006019,
      freqPpm: 13.778,
      jitterSec: 0.000351733,
      wanderPpm: 0.01338,
      pollLog2: 6,
    },
  );
  for (
    const bad of [
      "",
      "50935 75440.031 0.1",
      "x 1 2 3 4 5 6",
      "50935 90000 0 0 0 0 6",
      "1 2 3 4 5 six 7",
    ]
  ) {
    assert.equal(parseLoopstatsLine(bad), null, bad);
  }
});

Deno.test("parsePeerstatsLine() reads ntpd's peerstats fields, IPv6 too", () => {
  const r = parsePeerstatsLine(
    "48773 10847.650 127.127.4.1 9714 -0.001605376 0.000000000 0.001424877 0.000958674",
  );
  assert.deepEqual(r, {
    t: (48773 - 40587) * 86400 + 10847.65,
    address: "127.127.4.1",
    status: 0x9714,
    offsetSec: -0.001605376,
    delaySec: 0,
    dispersionSec: 0.001424877,
    jitterSec: 0.000958674,
  });
  assert.equal(
    parsePeerstatsLine("60000 1.5 2001:db8::1 9614 0 0.001 0 0")?.address,
    "2001:db8::1",
  );
  assert.equal(parsePeerstatsLine("60000 1.5 <script> 9614 0 0 0 0"), null);
  assert.equal(parsePeerstatsLine("60000 1.5 10.0.0.1 zz 0 0 0 0"), null);
});

Deno.test("lineTime() needs an integer MJD and seconds within a day", () => {
  assert.equal(lineTime("40587", "0.000"), 0);
  assert.ok(Number.isNaN(lineTime("40587.5", "1")));
  assert.ok(Number.isNaN(lineTime("40587", "-1")));
  assert.ok(Number.isNaN(lineTime(undefined, "1")));
});

Deno.test("statsFiles() lists a set's members once each, the bare link counted with its member", async () => {
  await withDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/loopstats.20260301`, "a\n");
    Deno.writeTextFileSync(`${dir}/loopstats.20260302`, "b\n");
    Deno.linkSync(`${dir}/loopstats.20260302`, `${dir}/loopstats`);
    Deno.writeTextFileSync(`${dir}/loopstatsX`, "not a member\n");
    Deno.writeTextFileSync(`${dir}/peerstats.20260301`, "c\n");
    Deno.mkdirSync(`${dir}/loopstats.old`);
    Deno.symlinkSync(`${dir}/nowhere`, `${dir}/loopstats.dangling`);
    assert.deepEqual(await statsFiles(dir, "loopstats"), [
      `${dir}/loopstats.20260301`,
      `${dir}/loopstats.20260302`,
    ]);
  });
});

Deno.test("readLines() streams lines, skips over-long ones and reads gzip members", async () => {
  await withDir(async (dir) => {
    const long = "x".repeat(MAX_LINE_BYTES + 10);
    Deno.writeTextFileSync(`${dir}/a`, `one\n${long}\ntwo\nthree`);
    const counts = { lines: 0, tooLong: 0 };
    assert.deepEqual(await collect(readLines(`${dir}/a`, counts)), ["one", "two", "three"]);
    assert.deepEqual(counts, { lines: 3, tooLong: 1 });
    const gz = new Response(
      new Blob(["50000 1.000 0 0 0 0 6\n50000 2.000 0 0 0 0 6\n"]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    );
    Deno.writeFileSync(`${dir}/loopstats.20260301.gz`, new Uint8Array(await gz.arrayBuffer()));
    assert.deepEqual(await collect(readLines(`${dir}/loopstats.20260301.gz`)), [
      "50000 1.000 0 0 0 0 6",
      "50000 2.000 0 0 0 0 6",
    ]);
  });
});

Deno.test("fileTimeSpan() reads only a file's ends and ignores a partial line at either", async () => {
  await withDir(async (dir) => {
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) lines.push(`60000 ${i * 40}.000 0.000001 1.0 0.000001 0.01 6`);
    Deno.writeTextFileSync(`${dir}/l`, lines.join("\n") + "\n");
    const timeOf = (l: string) => {
      const f = l.split(" ");
      return lineTime(f[0], f[1]);
    };
    const base = (60000 - 40587) * 86400;
    assert.deepEqual(await fileTimeSpan(`${dir}/l`, timeOf), { first: base, last: base + 79960 });
    Deno.writeTextFileSync(`${dir}/junk`, "nothing\nhere\n");
    assert.equal(await fileTimeSpan(`${dir}/junk`, timeOf), null);
  });
});
