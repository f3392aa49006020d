import assert from "node:assert/strict";
import {
  BAUD_CONSTANTS,
  CLOCAL,
  CREAD,
  makeRawTermios,
  openSerial,
  TERMIOS_OFFSETS,
  TERMIOS_SIZE,
  VMIN,
  VTIME,
} from "./termios.ts";
import { OsError } from "./libc.ts";

Deno.test("makeRawTermios() sets raw 8-bit input, the speed and VMIN/VTIME at PLATFORM.md's offsets", () => {
  const t = new Uint8Array(TERMIOS_SIZE).fill(0xff);
  makeRawTermios(t, BAUD_CONSTANTS.get(9600)!);
  const dv = new DataView(t.buffer);
  assert.equal(dv.getUint32(TERMIOS_OFFSETS.ispeed, true), 0o15);
  assert.equal(dv.getUint32(TERMIOS_OFFSETS.ospeed, true), 0o15);
  const cflag = dv.getUint32(TERMIOS_OFFSETS.cflag, true);
  assert.equal(cflag & (CLOCAL | CREAD), CLOCAL | CREAD);
  assert.equal(cflag & 0o60, 0o60, "CS8");
  assert.equal(cflag & 0o10017, 0o15, "CBAUD holds B9600");
  const lflag = dv.getUint32(TERMIOS_OFFSETS.lflag, true);
  assert.equal(lflag & 0o2, 0, "ICANON off");
  assert.equal(lflag & 0o10, 0, "ECHO off");
  assert.equal(t[TERMIOS_OFFSETS.cc + VMIN], 1);
  assert.equal(t[TERMIOS_OFFSETS.cc + VTIME], 0);
  assert.deepEqual(
    [4800, 9600, 19200, 38400, 57600, 115200].map((b) => BAUD_CONSTANTS.get(b)),
    [0o14, 0o15, 0o16, 0o17, 0o10001, 0o10002],
  );
});

Deno.test("openSerial() refuses what is not a terminal, a missing device and an unknown baud rate", () => {
  assert.throws(
    () => openSerial("/dev/null", 9600),
    (e: unknown) => e instanceof OsError && e.syscall === "tcgetattr" && e.errno === 25,
  );
  assert.throws(
    () => openSerial("/dev/horae-test-none", 9600),
    (e: unknown) => e instanceof OsError && e.syscall === "open" && e.errno === 2,
  );
  assert.throws(() => openSerial("/dev/null", 1234), /baud rate 1234 is not supported/);
});

const socat = (() => {
  try {
    return new Deno.Command("socat", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "openSerial() reads what is written to the other end of a socat pty pair",
  ignore: !socat,
  sanitizeResources: false,
}, async () => {
  const child = new Deno.Command("socat", {
    args: ["-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
    stderr: "piped",
    stdout: "null",
  }).spawn();
  const reader = child.stderr.getReader();
  let log = "";
  try {
    for (let i = 0; i < 100 && (log.match(/PTY is/g) ?? []).length < 2; i++) {
      const { value, done } = await reader.read();
      if (done) break;
      log += new TextDecoder().decode(value);
    }
    const [a, b] = [...log.matchAll(/PTY is (\S+)/g)].map((m) => m[1]!);
    const port = openSerial(a!, 4800);
    const other = await Deno.open(b!, { write: true });
    await other.write(new TextEncoder().encode("$GPZDA,1*00\r\n"));
    let got = "";
    for (let i = 0; i < 20 && !got.includes("\n"); i++) {
      if (await port.wait(500)) got += new TextDecoder().decode(port.read());
    }
    assert.equal(got, "$GPZDA,1*00\r\n");
    assert.equal(await port.wait(50), false, "nothing more to read");
    other.close();
    port.close();
  } finally {
    reader.releaseLock();
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
});
