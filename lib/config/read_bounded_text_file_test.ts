// Tests of the bounded reader: regular files only, never more than the limit, both variants.

import assert from "node:assert/strict";
import {
  type BoundedReadResult,
  devString,
  parseMountInfo,
  readBoundedTextFile,
  readBoundedTextFileSync,
} from "./read_bounded_text_file.ts";

const VARIANTS: [string, (path: string, limit: number) => Promise<BoundedReadResult>][] = [
  ["readBoundedTextFileSync()", (p, l) => Promise.resolve(readBoundedTextFileSync(p, l))],
  ["readBoundedTextFile()", readBoundedTextFile],
];

/** Fails instead of hanging when a read blocks (a FIFO opened by mistake blocks forever). */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function refusal(r: BoundedReadResult): { failure: string; reason: string } {
  assert.equal(r.ok, false, "expected a refusal");
  if (r.ok) throw new Error("unreachable");
  return { failure: r.failure, reason: r.reason };
}

async function mkfifo(path: string): Promise<void> {
  const made = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(made.success, `mkfifo ${path} failed`);
}

for (const [name, read] of VARIANTS) {
  Deno.test(`${name} reads a regular file up to exactly the limit, not one byte more`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae_bounded_" });
    try {
      await Deno.writeTextFile(`${dir}/edge`, "x".repeat(1000));
      const ok = await read(`${dir}/edge`, 1000);
      assert.equal(ok.ok, true);
      if (ok.ok) assert.equal(ok.text.length, 1000);
      // 1001 bytes: the read's own bound refuses it (stat's size is not consulted first).
      await Deno.writeTextFile(`${dir}/over`, "x".repeat(1001));
      const over = refusal(await read(`${dir}/over`, 1000));
      assert.equal(over.failure, "too-large");
      assert.equal(over.reason, "file is 1001 bytes, larger than the 1000-byte limit");
      // Far beyond the first buffer: the doubling stops at the limit.
      await Deno.writeFile(`${dir}/big`, new Uint8Array(3 << 20));
      assert.equal(refusal(await read(`${dir}/big`, 1 << 20)).failure, "too-large");
      await Deno.writeTextFile(`${dir}/empty`, "");
      assert.deepEqual((await read(`${dir}/empty`, 10)).ok, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${name} refuses FIFOs, devices, sockets, directories and kernel files`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae_bounded_" });
    const listener = Deno.listen({ transport: "unix", path: `${dir}/sock` });
    let writer: Deno.ChildProcess | null = null;
    try {
      await mkfifo(`${dir}/fifo`);
      // A synchronous open of the FIFO would block this thread, where no timer can fire: a
      // writer waiting on the other end makes such a regression fail (it reads "") instead.
      writer = new Deno.Command("sh", {
        args: ["-c", 'exec 3>"$1"', "sh", `${dir}/fifo`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const cases: [string, RegExp][] = [
        [`${dir}/fifo`, /^is a FIFO \(named pipe\), not a regular file$/],
        ["/dev/zero", /^is a character device, not a regular file$/],
        [`${dir}/sock`, /^is a socket, not a regular file$/],
        [dir, /^is a directory$/],
        ["/proc/self/pagemap", /^is a kernel pseudo-file \(proc file system\)/],
        ["/proc/self/status", /^is a kernel pseudo-file \(proc file system\)/],
      ];
      for (const [path, reason] of cases) {
        const r = refusal(await within(5000, path, read(path, 1 << 20)));
        assert.equal(r.failure, "not-regular", path);
        assert.match(r.reason, reason, path);
      }
      const missing = refusal(await read(`${dir}/nothing`, 10));
      assert.deepEqual(missing, { failure: "missing", reason: "no such file or directory" });
    } finally {
      if (writer !== null) {
        writer.kill("SIGKILL");
        await writer.status;
      }
      listener.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${name} follows a symbolic link to a regular file and reports its identity`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae_bounded_" });
    try {
      await Deno.writeTextFile(`${dir}/real`, "server a\n");
      await Deno.symlink(`${dir}/real`, `${dir}/link`);
      await Deno.symlink("/proc/self/pagemap", `${dir}/proc_link`);
      const a = await read(`${dir}/real`, 100);
      const b = await read(`${dir}/link`, 100);
      assert.ok(a.ok && b.ok);
      assert.equal(a.identity, b.identity);
      const info = await Deno.stat(`${dir}/real`);
      assert.equal(a.identity, `${info.dev}:${info.ino}`);
      assert.equal(refusal(await read(`${dir}/proc_link`, 100)).failure, "not-regular");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("devString() decodes Linux dev_t as mountinfo writes major:minor", () => {
  assert.equal(devString(21), "0:21");
  assert.equal(devString(0xfe00), "254:0");
  assert.equal(devString(0x801), "8:1");
  // Large minors and majors use the extended bit layout.
  assert.equal(devString(0x1234567), "837:4711");
  assert.equal(devString(2 ** 44), "4096:0");
});

Deno.test("parseMountInfo() maps each device to its file system type", () => {
  const m = parseMountInfo(
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n" +
      "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
      "45 27 254:0 /run/netns /run/netns rw shared:1 - ext4 /dev/vda rw\n" +
      "30 22 0:22 / /sys rw,nosuid master:2 shared:3 - sysfs sysfs rw\n" +
      "garbage line\n",
  );
  assert.equal(m.get("0:21"), "proc");
  assert.equal(m.get("254:0"), "ext4");
  assert.equal(m.get("0:22"), "sysfs");
  assert.equal(m.size, 3);
});

Deno.test("the bounded reader's device check agrees with the live mount table", () => {
  const table = parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo"));
  assert.equal(table.get(devString(Deno.statSync("/proc").dev as number)), "proc");
});
