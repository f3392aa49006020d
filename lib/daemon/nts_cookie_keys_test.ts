import assert from "node:assert/strict";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../proto/nts/ke_result.ts";
import { SeededRng } from "../proto/rng.ts";
import type { Logger } from "../log/logger.ts";
import { CookieKeyFile } from "./nts_cookie_keys.ts";

const DAY = 86400;
const c2s = new Uint8Array(32).fill(3), s2c = new Uint8Array(32).fill(4);

function logger(lines: string[]): Logger {
  return {
    debug: () => {},
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

function instance(path: string, clock: { t: number }, seed: number, lines: string[] = []) {
  const keys = new NtsServerKeys(new PureCrypto(), new SeededRng(seed));
  const file = new CookieKeyFile(
    { path, rotateSec: DAY, keep: 2, nowUnixSec: () => clock.t },
    [keys],
    logger(lines),
  );
  return { keys, file };
}

Deno.test("CookieKeyFile creates the key file with mode 0600 and loads its keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/cookies`;
    const a = instance(path, { t: 1000 * DAY }, 1);
    const r = await a.file.refresh();
    assert.equal(r.wrote, true);
    assert.equal(r.currentId, 1000);
    assert.deepEqual(r.keyIds, [1000, 1001]);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(a.keys.currentKeyId, 1000);
    assert.ok(a.keys.openCookie(a.keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)).ok);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CookieKeyFile: instances sharing the file open each other's cookies across a rotation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/cookies`;
    const clock = { t: 1000 * DAY + 10 };
    const a = instance(path, clock, 1), b = instance(path, clock, 2);
    await a.file.refresh();
    assert.equal((await b.file.refresh()).wrote, false);
    const before = a.keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
    assert.ok(b.keys.openCookie(before).ok);
    clock.t += DAY; // the next period: the key made a day ahead comes into use
    const [ra, rb] = await Promise.all([a.file.refresh(), b.file.refresh()]);
    assert.equal(Number(ra.wrote) + Number(rb.wrote), 1, "exactly one instance rotates");
    assert.equal(a.keys.currentKeyId, 1001);
    assert.equal(b.keys.currentKeyId, 1001);
    const after = b.keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
    assert.ok(a.keys.openCookie(after).ok);
    assert.ok(a.keys.openCookie(before).ok, "the previous key is kept");
    clock.t += 3 * DAY; // past keeping (2 periods)
    await a.file.refresh();
    await b.file.refresh();
    assert.deepEqual(b.keys.openCookie(before), { ok: false, reason: "cookie_key_unknown" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CookieKeyFile refuses a damaged file with its line, and warns about a readable one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/cookies`;
    await Deno.writeTextFile(path, "horae-nts-cookie-keys 1\nrotate 86400\nkey 1 zz\n");
    const a = instance(path, { t: 0 }, 1);
    await assert.rejects(
      () => a.file.refresh(),
      (e: Error) => e.message === `${path}:3: expected "rotate SECONDS" or "key ID HEX64"`,
    );
    assert.equal(a.keys.ready, false);
    await Deno.remove(path);
    const lines: string[] = [];
    const b = instance(path, { t: 0 }, 1, lines);
    await b.file.refresh();
    await Deno.chmod(path, 0o644);
    await b.file.refresh();
    assert.ok(lines.some((l) => l.startsWith("warn") && l.includes("readable by others")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CookieKeyFile uses a file it cannot rewrite as it is, with one warning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/cookies`;
    const clock = { t: 500 * DAY };
    await instance(path, clock, 1).file.refresh();
    clock.t += 2 * DAY; // rotation due, but the lock file cannot be created: a directory is there
    await Deno.remove(`${path}.lock`);
    await Deno.mkdir(`${path}.lock`);
    const lines: string[] = [];
    const b = instance(path, clock, 2, lines);
    const r = await b.file.refresh();
    assert.equal(r.wrote, false);
    assert.equal(r.currentId, 501, "the newest key in force");
    await b.file.refresh();
    assert.equal(lines.filter((l) => l.includes("cannot rotate")).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CookieKeyFile never follows a link planted at the lock file's name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/cookies`;
    // As root at start, following it would create an empty file wherever it points.
    await Deno.symlink(`${dir}/victim`, `${path}.lock`);
    const a = instance(path, { t: 1000 * DAY }, 1);
    await assert.rejects(a.file.refresh(), /symbolic link|refused|ELOOP|too many levels/i);
    await assert.rejects(Deno.lstat(`${dir}/victim`), Deno.errors.NotFound);
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
