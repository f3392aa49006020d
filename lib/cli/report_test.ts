import assert from "node:assert/strict";
import { parseSpan, parseTime, runReport } from "./report.ts";

async function run(args: string[]): Promise<{ code: number; out: string; err: string[] }> {
  let out = "";
  const err: string[] = [];
  const code = await runReport(args, (t) => void (out += t), (l) => void err.push(l));
  return { code, out, err };
}

Deno.test("parseTime() and parseSpan() read dates, ISO times, Unix seconds and spans", () => {
  assert.equal(parseTime("2026-03-01"), Date.UTC(2026, 2, 1) / 1000);
  assert.equal(parseTime("2026-03-01T12:30Z"), Date.UTC(2026, 2, 1, 12, 30) / 1000);
  assert.equal(parseTime("2026-03-01T12:30:00+01:00"), Date.UTC(2026, 2, 1, 11, 30) / 1000);
  assert.equal(parseTime("2026-03-01T12:30"), Date.UTC(2026, 2, 1, 12, 30) / 1000); // UTC
  assert.equal(parseTime("1772323200"), 1772323200);
  assert.equal(parseTime("yesterday"), null);
  assert.equal(parseSpan("90m"), 5400);
  assert.equal(parseSpan("7d"), 604800);
  assert.equal(parseSpan("2w"), 1209600);
  assert.equal(parseSpan("7"), null);
  assert.equal(parseSpan("0h"), null);
});

Deno.test("horae report writes a page, or stdout with -o -, and refuses bad usage with exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-cli-report-" });
  try {
    const lines = Array.from(
      { length: 30 },
      (_, i) => `61000 ${i * 100}.000 0.000001 1.5 0.000002 0.001 6`,
    );
    Deno.writeTextFileSync(`${dir}/loopstats.20251120`, lines.join("\n") + "\n");
    const ok = await run([dir, "-o", `${dir}/r.html`, "--title", "Lab"]);
    assert.equal(ok.code, 0, ok.err.join("\n"));
    assert.match(Deno.readTextFileSync(`${dir}/r.html`), /<title>Lab<\/title>/);
    const stdout = await run([dir, "-o", "-", "--last", "1h", "--peer", "192.0.2.9"]);
    assert.equal(stdout.code, 0);
    assert.match(stdout.out, /^<!DOCTYPE html>/);
    assert.deepEqual(stdout.err, ["horae report: no peerstats lines of 192.0.2.9"]);
    assert.equal((await run([dir])).code, 2);
    assert.equal((await run(["-o", "x.html"])).code, 2);
    assert.equal((await run([dir, "-o", "x", "--from", "soon"])).code, 2);
    assert.equal(
      (await run([dir, "-o", "x", "--from", "2026-03-02", "--to", "2026-03-01"])).code,
      2,
    );
    assert.equal((await run([dir, "-o", "x", "--last", "forever"])).code, 2);
    const missing = await run([`${dir}/missing`, "-o", `${dir}/x.html`]);
    assert.equal(missing.code, 1);
    assert.match(missing.err[0]!, /missing/);
    assert.equal((await run([dir, "-o", `${dir}/no/such/dir/r.html`])).code, 1);
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /usage: horae report STATSDIR -o FILE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
