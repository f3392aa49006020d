import assert from "node:assert/strict";
import { formatIp } from "../proto/ip.ts";
import { ConfigSyntaxError, formatDiagnostic } from "./diagnostics.ts";
import { decodeKey, keyTypeFromText, loadKeysFile, parseKeysFile } from "./keys_file.ts";

const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("parseKeysFile(): ntp-keygen's output, comments, blank lines, CRLF", () => {
  const text = [
    "# ntpkey_MD5key_host.3900000000",
    "# Mon Jul  1 00:00:00 2023",
    "",
    ' 1 MD5 L";Nw<`.I<f4U0)247"i  # MD5 key',
    "11 SHA1 d3e54352e5548080a8e7f6a0ac4ad3d0e1cb2c93  # SHA1 key\r",
    "\t21\tAES128CMAC\t2b7e151628aed2a6abf7158809cf4f3c",
    "   # indented comment",
  ].join("\n");
  const { keys, diagnostics } = parseKeysFile(text, "ntp.keys");
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(keys.map((k) => [k.id, k.algorithm, k.key.length, k.allowed]), [
    [1, "MD5", 20, null],
    [11, "SHA1", 20, null],
    [21, "AES128CMAC", 16, null],
  ]);
  assert.equal(new TextDecoder().decode(keys[0]!.key), 'L";Nw<`.I<f4U0)247"i');
  assert.equal(hexOf(keys[1]!.key), "d3e54352e5548080a8e7f6a0ac4ad3d0e1cb2c93");
});

Deno.test("parseKeysFile(): up to 20 characters is text, longer is hex", () => {
  const { keys, diagnostics } = parseKeysFile(
    [
      "1 M 0123456789abcdef0123", // 20 hex digits: still text
      "2 md5 0123456789abcdef01234567", // 28: hex
      "3 sha-256 " + "ab".repeat(32), // 64 digits: the longest
      "4 MD5 x",
    ].join("\n"),
    "k",
  );
  assert.deepEqual(diagnostics, []);
  assert.equal(new TextDecoder().decode(keys[0]!.key), "0123456789abcdef0123");
  assert.equal(hexOf(keys[1]!.key), "0123456789abcdef01234567");
  assert.equal(keys[2]!.key.length, 32);
  assert.equal(keys[2]!.algorithm, "SHA256");
  assert.deepEqual(keys[3]!.key, new Uint8Array([0x78]));
});

Deno.test("keyTypeFromText(): ntpd's, NTPsec's and chrony's names, any case", () => {
  const cases: [string, string | null][] = [
    ["M", "MD5"],
    ["md5", "MD5"],
    ["SHA1", "SHA1"],
    ["sha-1", "SHA1"],
    ["SHA256", "SHA256"],
    ["AES128CMAC", "AES128CMAC"],
    ["aes", "AES128CMAC"],
    ["AES-128", "AES128CMAC"],
    ["AES128", "AES128CMAC"],
    ["SHA", null], // SHA-0 to OpenSSL: refused rather than guessed
    ["SHA512", null],
    ["DES", null],
  ];
  for (const [word, want] of cases) assert.equal(keyTypeFromText(word), want, word);
});

Deno.test("parseKeysFile(): the fourth field restricts addresses", () => {
  const { keys, diagnostics } = parseKeysFile(
    "5 SHA1 0123456789012345678901234567890123456789 192.0.2.1,198.51.100.0/24 , 2001:db8::/32\n",
    "k",
  );
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(
    keys[0]!.allowed!.map((p) => `${formatIp(p.ip.bytes)}/${p.prefixLength}`),
    ["192.0.2.1/32", "198.51.100.0/24", "2001:db8::/32"],
  );
});

Deno.test("parseKeysFile(): every malformed line is an error with its line and column", () => {
  const text = [
    "1 MD5", // 1: too few fields
    "0 MD5 abc", // 2: key 0 reserved
    "65536 MD5 abc", // 3
    "x1 MD5 abc", // 4
    "4 SHA512 abc", // 5
    "5 MD5 0123456789abcdef0123456789abcdefg", // 6: not hex
    "6 SHA1 0123456789abcdef0123456789abcdef012", // 7: odd
    "7 SHA1 " + "a".repeat(66), // 8: too long
    "8 MD5 HEX:00112233", // 9: chrony's syntax
    "9 MD5 caf\u00e9", // 10: not ASCII
    "10 MD5 abc 192.0.2.1,,192.0.2.2", // 11
    "11 MD5 abc 192.0.2.1 192.0.2.2", // 12: no comma
    "12 MD5 abc 192.0.2.300", // 13
    "13 MD5 fine", // 14: good
  ].join("\n");
  const { keys, diagnostics } = parseKeysFile(text, "/etc/ntp.keys");
  assert.deepEqual(keys.map((k) => k.id), [13]);
  const lines = diagnostics.map((d) => [d.severity, d.line, d.col, d.code]);
  assert.deepEqual(lines, [
    ["error", 1, 1, "syntax"],
    ["error", 2, 1, "range"],
    ["error", 3, 1, "range"],
    ["error", 4, 1, "syntax"],
    ["error", 5, 3, "key-type"],
    ["error", 6, 7, "key"],
    ["error", 7, 8, "key"],
    ["error", 8, 8, "key"],
    ["error", 9, 7, "key"],
    ["error", 10, 7, "key"],
    ["error", 11, 12, "address"],
    ["error", 12, 12, "address"],
    ["error", 13, 12, "address"],
  ]);
  assert.equal(
    formatDiagnostic(diagnostics[4]!),
    '/etc/ntp.keys:5:3: error: key 4: unsupported key type "SHA512" (supported: MD5, SHA1, ' +
      "SHA256, AES128CMAC)",
  );
  assert.match(diagnostics[5]!.message, /longer than 20 characters is hex.*character 33 /);
  assert.match(diagnostics[8]!.message, /chrony's key syntax/);
});

Deno.test("parseKeysFile(): warnings for a redefined id and a short AES128CMAC key", () => {
  const { keys, diagnostics } = parseKeysFile("3 MD5 one\n4 AES short\n3 SHA1 two\n", "k");
  assert.deepEqual(keys.map((k) => [k.id, k.algorithm]), [[4, "AES128CMAC"], [3, "SHA1"]]);
  assert.deepEqual(diagnostics.map((d) => [d.severity, d.line, d.code]), [
    ["warning", 2, "cmac-key-length"],
    ["warning", 3, "duplicate-key"],
  ]);
  assert.match(diagnostics[1]!.message, /first on line 1/);
});

Deno.test("parseKeysFile(): never throws on arbitrary text", () => {
  for (let seed = 1; seed <= 200; seed++) {
    let x = seed;
    const chars = Array.from({ length: 200 }, () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return " \t\n#,/:0123456789abcdefMDSHA.x\u00ff"[x % 33]!;
    });
    parseKeysFile(chars.join(""), "fuzz");
  }
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae-keys-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadKeysFile(): a private file loads without warnings", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ntp.keys`;
    await Deno.writeTextFile(path, "1 MD5 secret\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    const loaded = await loadKeysFile(path);
    assert.deepEqual(loaded.keys.map((k) => k.id), [1]);
    assert.deepEqual(loaded.warnings, []);
    assert.match(loaded.identity, /^\d+:\d+$/);
  });
});

Deno.test("loadKeysFile(): warns when the group or others can read the file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ntp.keys`;
    await Deno.writeTextFile(path, "1 MD5 secret\n");
    for (
      const [mode, who] of [[0o640, "its group"], [0o604, "others"], [
        0o644,
        "its group and others",
      ]] as const
    ) {
      await Deno.chmod(path, mode);
      const { warnings } = await loadKeysFile(path);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.code, "keys-file-mode");
      assert.ok(
        warnings[0]!.message.includes(`open to ${who} (mode 0${mode.toString(8)})`),
        warnings[0]!.message,
      );
    }
  });
});

Deno.test("loadKeysFile(): a malformed line refuses the whole file, naming file and line", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ntp.keys`;
    await Deno.writeTextFile(path, "1 MD5 good\n\n2 MD5\n3 FOO bar\n");
    await Deno.chmod(path, 0o600);
    const e = await loadKeysFile(path).then(() => null, (x) => x);
    assert.ok(e instanceof ConfigSyntaxError);
    assert.equal(e.message, `${path}:3:1: error: a key line needs a key id, a type and a key`);
    assert.deepEqual(e.diagnostics.map((d) => d.line), [3, 4]);
  });
});

Deno.test("loadKeysFile(): a missing file, a directory or a FIFO is a clear error", async () => {
  await withDir(async (dir) => {
    await assert.rejects(loadKeysFile(`${dir}/absent`), /keys file .*absent/);
    await assert.rejects(loadKeysFile(dir), /keys file/);
    const fifo = `${dir}/fifo`;
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    if (mk.success) await assert.rejects(loadKeysFile(fifo), /keys file/);
  });
});

Deno.test("decodeKey(): text up to 20 characters, hex beyond, reasons otherwise", () => {
  assert.deepEqual(decodeKey("ab"), new Uint8Array([0x61, 0x62]));
  assert.equal(hexOf(decodeKey("00".repeat(10) + "ff") as Uint8Array), "00".repeat(10) + "ff");
  assert.equal(typeof decodeKey("z".repeat(21)), "string");
  assert.equal(typeof decodeKey("tab\there"), "string");
});
