// readLeapFile(): the leap-seconds file's SHA-1 is checked (in TypeScript since the daemon stopped
// loading node:crypto for it); node:crypto computes the expected hash here, as a reference.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Logger } from "../log/logger.ts";
import { readLeapFile } from "./leap_file.ts";

const DATA = [
  ["2272060800", "10"],
  ["2287785600", "11"],
  ["2303683200", "12"],
  ["2335219200", "13"],
];
const UPDATED = "3960835200";
const EXPIRES = "3991593600";

/** A leap-seconds.list whose #h line holds `hash` (five hex words). */
function listText(hash: string): string {
  return `#\tleap seconds (test excerpt)\n#$\t${UPDATED}\n#@\t${EXPIRES}\n` +
    DATA.map(([t, o]) => `${t}\t${o}\t# entry\n`).join("") + `#h\t${hash}\n`;
}

/** The hash the file format asks for, by node:crypto. */
function referenceHash(): string {
  const input = UPDATED + EXPIRES + DATA.map(([t, o]) => t! + o!).join("");
  const hex = createHash("sha1").update(input).digest("hex");
  return hex.match(/.{8}/g)!.join(" ");
}

function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const put = (m: string) => void lines.push(m);
  return { log: { debug: put, info: put, warn: put, error: put }, lines };
}

Deno.test("readLeapFile() loads a file whose SHA-1 matches and refuses one that does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-leapfile-" });
  try {
    const good = `${dir}/good.list`;
    await Deno.writeTextFile(good, listText(referenceHash()));
    const ok = memoryLog();
    const table = await readLeapFile(good, ok.log);
    assert.ok(table !== null, ok.lines.join("\n"));
    assert.equal(table.hashVerified, true);
    assert.equal(table.entries.length, 4);
    assert.match(ok.lines.join("\n"), /loaded, expires .*TAI-UTC 13 s/);

    const bad = `${dir}/bad.list`;
    const h = referenceHash();
    const flipped = (h[0] === "0" ? "1" : "0") + h.slice(1);
    await Deno.writeTextFile(bad, listText(flipped));
    const no = memoryLog();
    assert.equal(await readLeapFile(bad, no.log), null);
    assert.match(no.lines.join("\n"), /hash mismatch.*not used/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
