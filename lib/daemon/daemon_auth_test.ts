import assert from "node:assert/strict";
import { formatDiagnostic } from "../config/diagnostics.ts";
import { signPacket } from "../proto/auth/mac.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { IpWords } from "../proto/ip.ts";
import { type AuthSettings, DaemonAuth, loadAuthKeys, NO_AUTH } from "./daemon_auth.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

function settings(over: Partial<AuthSettings> = {}): AuthSettings {
  return {
    ...NO_AUTH,
    keysFile: "/etc/ntp.keys",
    keys: [
      { id: 1, algorithm: "MD5", key: ascii("one"), allowed: null },
      { id: 2, algorithm: "SHA1", key: ascii("two"), allowed: null },
      { id: 10, algorithm: "AES128CMAC", key: ascii("0123456789abcdef"), allowed: null },
    ],
    trustedKeys: [1],
    ...over,
  };
}

Deno.test("loadAuthKeys(): the keys, its warnings, or every problem with file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await loadAuthKeys(null), { ok: true, keys: [], warnings: [] });
    await Deno.writeTextFile(
      `${dir}/good`,
      "# keys\n1 MD5 secret\n2 SHA1 0123456789abcdef0123456789abcdef01234567\n",
      {
        mode: 0o600,
      },
    );
    const good = await loadAuthKeys(`${dir}/good`);
    assert.ok(good.ok);
    assert.deepEqual(good.keys.map((k) => [k.id, k.algorithm, k.key.length]), [
      [1, "MD5", 6],
      [2, "SHA1", 20],
    ]);
    assert.deepEqual(good.warnings, []);
    await Deno.writeTextFile(`${dir}/bad`, "1 MD5 fine\n2 RC4 nope\n", { mode: 0o644 });
    const bad = await loadAuthKeys(`${dir}/bad`);
    assert.ok(!bad.ok);
    const text = bad.diagnostics.map(formatDiagnostic).join("\n");
    assert.match(text, new RegExp(`${dir}/bad:2:\\d+: error: .*RC4`));
    assert.match(text, /warning: the keys file is open to its group and others/);
    const missing = await loadAuthKeys(`${dir}/none`);
    assert.ok(!missing.ok);
    assert.match(formatDiagnostic(missing.diagnostics[0]!), /none: error: keys file .*none/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DaemonAuth.warnings(): keys the configuration names that the file lacks or does not trust", () => {
  const a = new DaemonAuth(
    settings({ trustedKeys: [1, 7], controlKey: 11, requestKey: 12 }),
    new PureCrypto(),
  );
  assert.deepEqual(
    a.warnings([
      { address: "a.example", key: 1 },
      { address: "b.example", key: 2 },
      { address: "c.example", key: 3 },
    ]),
    [
      "server b.example key 2: the key is not trusted (trustedkey); nothing from it is accepted",
      "server c.example key 3: /etc/ntp.keys has no such key; nothing from it is accepted",
      "trustedkey 7: /etc/ntp.keys has no such key",
      "controlkey 11: /etc/ntp.keys has no such key; no control message can change anything",
      "requestkey 12: /etc/ntp.keys has no such key",
    ],
  );
  const none = new DaemonAuth({ ...NO_AUTH, controlKey: 3 }, new PureCrypto());
  assert.deepEqual(none.warnings([{ address: "x", key: 4 }]), [
    "server x key 4: no keys file is configured; nothing from it is accepted",
    "controlkey 3: no keys file is configured; no control message can change anything",
  ]);
  assert.deepEqual(new DaemonAuth(settings(), new PureCrypto()).warnings([]), []);
});

Deno.test("DaemonAuth.controlAuth(): the controlkey verifies for control messages even when untrusted; other untrusted keys do not", () => {
  const a = new DaemonAuth(settings({ controlKey: 10 }), new PureCrypto());
  const control = a.controlAuth();
  const from = new IpWords().setV4(0x7f000001);
  for (const [id, want] of [[10, 10], [2, null], [1, 1]] as const) {
    const msg = new Uint8Array(12 + 4 + 20);
    msg[0] = 0x16;
    msg[1] = 2;
    const n = signPacket(msg, 12, a.store.get(id)!, a.store.get(id)!.v4DigestLength);
    assert.equal(control.verify(msg.subarray(0, n), 12, from), want, `key ${id}`);
  }
  // The packet path's own list keeps trustedkey as configured: key 10 is not trusted for NTP.
  assert.equal(a.store.isTrusted(10), false);
  assert.equal(a.required, true);
});

Deno.test("horae run exits 78 with file and line when the keys file has a bad line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ntp.keys`, "1 MD5 ok\n2 MD5\n", { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/ntp.conf`, `keys ${dir}/ntp.keys\ntrustedkey 1\n`);
    // Without CAP_SYS_TIME, observe-only: nothing here may change the clock.
    const r = await new Deno.Command("setpriv", {
      args: [
        "--bounding-set=-sys_time",
        "--inh-caps=-sys_time",
        "--",
        Deno.execPath(),
        "run",
        "--allow-all",
        "--unstable-net",
        new URL("../../main.ts", import.meta.url).pathname,
        "run",
        "-n",
        "--observe",
        "-c",
        `${dir}/ntp.conf`,
        "--port",
        "1", // never bound: the keys file is read first
        "--listen",
        "127.0.0.1",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 78, err);
    assert.match(err, new RegExp(`${dir}/ntp.keys:2:\\d+: error:`));
    assert.doesNotMatch(err, /Listening on/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
