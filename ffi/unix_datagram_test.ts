import assert from "node:assert/strict";
import {
  closeUnixDatagram,
  connectUnixDatagram,
  encodeSockaddrUn,
  sendUnixDatagram,
} from "./unix_datagram.ts";

Deno.test("encodeSockaddrUn() pads a path to the whole struct, NUL-terminated", () => {
  const a = encodeSockaddrUn("/run/x");
  assert.equal(a.length, 110);
  assert.deepEqual([...a.subarray(0, 2)], [1, 0]);
  assert.equal(new TextDecoder().decode(a.subarray(2, 8)), "/run/x");
  assert.equal(a[8], 0);
});

Deno.test("encodeSockaddrUn() writes an @name as an abstract address exactly as long as the name", () => {
  const a = encodeSockaddrUn("@sd");
  assert.deepEqual([...a], [1, 0, 0, 0x73, 0x64]);
});

Deno.test("encodeSockaddrUn() refuses empty, NUL-holding and overlong names", () => {
  for (const bad of ["", "@", "a\0b", "/" + "x".repeat(107), "@" + "x".repeat(107)]) {
    assert.throws(() => encodeSockaddrUn(bad), RangeError, JSON.stringify(bad));
  }
  assert.equal(encodeSockaddrUn("/" + "x".repeat(106)).length, 110);
});

Deno.test("connectUnixDatagram() sends datagrams to a listening path socket", async () => {
  const dir = Deno.makeTempDirSync();
  const conn = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/s` });
  try {
    const fd = connectUnixDatagram(`${dir}/s`);
    assert.equal(sendUnixDatagram(fd, new TextEncoder().encode("hello")), 0);
    closeUnixDatagram(fd);
    const [data] = await conn.receive();
    assert.equal(new TextDecoder().decode(data), "hello");
  } finally {
    conn.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
