import assert from "node:assert/strict";
import { type CliSession, commandWords, findHost, portOption } from "./_session.ts";

function session(resolved: string[]) {
  const err: string[] = [];
  const s: CliSession<{ close(): void }> = {
    env: {
      io: {
        stdout: () => {},
        stderr: (t: string) => void err.push(t),
        readStdin: () => Promise.resolve(new Uint8Array(0)),
        writeFile: () => Promise.reject(new Error("no files here")),
      },
      resolve: () => Promise.resolve(resolved),
      readLine: () => Promise.resolve(null),
    },
    client: null,
    hostName: "",
    port: 123,
    family: null,
    debug: 0,
    timeoutMs: 5000,
    done: false,
  };
  return { s, err };
}

Deno.test("findHost(): ntpq's name:port and literal names, ntpdc's bare addresses", async () => {
  const { s, err } = session(["192.0.2.7"]);
  const q = { namePort: true, literalAsAddress: false };
  const d = { namePort: false, literalAsAddress: true };
  const a = await findHost(s, "example.org:1123", q);
  assert.deepEqual([a?.name, a?.server.address, a?.server.port], [
    "example.org",
    "192.0.2.7",
    1123,
  ]);
  const b = await findHost(s, "127.0.0.1:1123", q);
  assert.equal(b?.name, "127.0.0.1:1123");
  const c = await findHost(s, "127.0.0.1:1123", d);
  assert.deepEqual([c?.name, c?.server.port], ["127.0.0.1", 1123]);
  assert.equal((await findHost(s, "localhost", d))?.server.address, "127.0.0.1");
  assert.deepEqual(err, []);
  const none = session([]);
  assert.equal(await findHost(none.s, "nowhere.invalid", d), null);
  assert.deepEqual(none.err, ["***Can't find host nowhere.invalid\n"]);
});

Deno.test("portOption() and commandWords() refuse bad ports and hostless commands", () => {
  const { s, err } = session([]);
  assert.equal(portOption(s.env.io, "horae dc", undefined, 123), 123);
  assert.equal(portOption(s.env.io, "horae dc", "0", 123), null);
  assert.match(err.pop()!, /--port 0 is not a port number/);
  assert.equal(commandWords(s, "  # note", []), null);
  assert.equal(commandWords(s, "peers", []), null);
  assert.match(err.pop()!, /No host open/);
  assert.deepEqual(commandWords(s, "Raw x", ["raw"]), {
    trimmed: "Raw x",
    word: "Raw",
    cmd: "raw",
    args: ["x"],
  });
});
