// Tests of openUdpTransport(): FFI when permitted, the Deno.listenDatagram fallback otherwise
// (checked in a child Deno process run without --allow-ffi).

import assert from "node:assert/strict";
import { DatagramTransport } from "./datagram_transport.ts";
import { ffiSocketsUsable, openUdpTransport } from "./open_transport.ts";
import { UdpTransport } from "./udp_transport.ts";

Deno.test("openUdpTransport() picks the FFI transport when FFI is permitted", () => {
  assert.deepEqual(ffiSocketsUsable(), { ok: true });
  const opened = openUdpTransport({ address: "127.0.0.1", batchSize: 8 });
  try {
    assert.equal(opened.kind, "ffi");
    assert.ok(opened.transport instanceof UdpTransport);
    assert.equal(opened.transport.kernelTimestamps, true);
    assert.match(opened.reason, /kernel timestamps/);
  } finally {
    opened.transport.close();
  }
});

Deno.test("openUdpTransport() opens the fallback when asked", () => {
  const opened = openUdpTransport({ address: "::1", prefer: "datagram" });
  try {
    assert.equal(opened.kind, "datagram");
    assert.ok(opened.transport instanceof DatagramTransport);
    assert.equal(opened.transport.localAddress.family, 6);
    assert.ok(opened.transport.localAddress.port > 0);
  } finally {
    opened.transport.close();
  }
});

Deno.test("openUdpTransport() throws bind errors instead of falling back", () => {
  const a = openUdpTransport({ address: "127.0.0.1" });
  try {
    assert.throws(() =>
      openUdpTransport({ address: "127.0.0.1", port: a.transport.localAddress.port })
    );
  } finally {
    a.transport.close();
  }
});

async function childWithoutFfi(prefer: string): Promise<Record<string, unknown>> {
  const module = new URL("./open_transport.ts", import.meta.url).href;
  const script = `
    import { openUdpTransport } from ${JSON.stringify(module)};
    let out;
    try {
      const o = openUdpTransport({ address: "127.0.0.1", prefer: ${JSON.stringify(prefer)} });
      out = { kind: o.kind, reason: o.reason, kernel: o.transport.kernelTimestamps,
        port: o.transport.localAddress.port };
      o.transport.close();
    } catch (e) {
      out = { error: String(e.message) };
    }
    console.log(JSON.stringify(out));
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-net=127.0.0.1", "--unstable-net", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("openUdpTransport() falls back to Deno.listenDatagram without FFI permission", async () => {
  const r = await childWithoutFfi("auto");
  assert.equal(r.kind, "datagram", JSON.stringify(r));
  assert.equal(r.kernel, false);
  assert.match(String(r.reason), /FFI not permitted/);
  assert.ok(Number(r.port) > 0);
  const forced = await childWithoutFfi("ffi");
  assert.match(String(forced.error), /FFI UDP transport unavailable/);
});
