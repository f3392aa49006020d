import assert from "node:assert/strict";
import {
  formatDrift,
  parseDrift,
  probeDriftFile,
  readDriftFile,
  writeDriftFile,
} from "./drift_file.ts";

Deno.test("parseDrift() accepts ntpd's one-number format", () => {
  assert.deepEqual(parseDrift("-12.345\n"), { ok: true, freqPpm: -12.345 });
  assert.deepEqual(parseDrift("  7 "), { ok: true, freqPpm: 7 });
});

Deno.test("parseDrift() rejects garbage and out-of-range values with a reason", () => {
  for (const t of ["", "abc", "1.2.3", "NaN", "\u0000\u0001"]) {
    const r = parseDrift(t);
    assert.equal(r.ok, false, t);
    if (!r.ok) assert.equal(r.reason, "malformed");
  }
  const r = parseDrift("600");
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.reason, "out_of_range");
});

Deno.test("writeDriftFile() writes atomically and readDriftFile() reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ntp.drift`;
    const missing = await readDriftFile(path);
    assert.equal(missing.ok, false);
    if (!missing.ok) assert.equal(missing.reason, "missing");
    await writeDriftFile(path, 12.3456);
    assert.equal(await Deno.readTextFile(path), formatDrift(12.3456));
    assert.equal(await Deno.readTextFile(path), "12.346\n");
    assert.deepEqual(await readDriftFile(path), { ok: true, freqPpm: 12.346 });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["ntp.drift"]); // no temporary file left behind
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeDriftFile() never follows a link at the old .TEMP name or at the drift file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ntp.drift`;
    const victim = `${dir}/victim`;
    await Deno.writeTextFile(victim, "keep me\n", { mode: 0o600 });
    await Deno.symlink(victim, `${path}.TEMP`);
    await writeDriftFile(path, -3.5);
    assert.equal(await Deno.readTextFile(path), "-3.500\n");
    assert.equal((await Deno.lstat(path)).isFile, true);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    assert.equal(await Deno.readLink(`${path}.TEMP`), victim);
    await Deno.remove(path);
    await Deno.symlink(victim, path);
    await assert.rejects(
      () => writeDriftFile(path, 7),
      { message: `${path} is a symbolic link (refused)` },
    );
    assert.equal(await Deno.readTextFile(victim), "keep me\n");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["ntp.drift", "ntp.drift.TEMP", "victim"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDriftFile() refuses a link at the drift file and shows nothing of its target", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ntp.drift`;
    await Deno.writeTextFile(`${dir}/secret`, "1.250 hunter2\n", { mode: 0o600 });
    await Deno.symlink(`${dir}/secret`, path);
    assert.deepEqual(await readDriftFile(path), {
      ok: false,
      reason: "unreadable",
      detail: `${path} is a symbolic link (refused)`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probeDriftFile() is null where the file can be written and gives a reason where not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await probeDriftFile(`${dir}/ntp.drift`), null);
    assert.deepEqual([...Deno.readDirSync(dir)], []); // the probe leaves nothing behind
    const reason = await probeDriftFile(`${dir}/missing-dir/ntp.drift`);
    assert.match(reason ?? "", /No such file|not found/i);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/ntp.drift`);
    assert.equal(
      await probeDriftFile(`${dir}/ntp.drift`),
      `${dir}/ntp.drift is a symbolic link (refused)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
