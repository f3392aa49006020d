import assert from "node:assert/strict";
import {
  FileRefusedError,
  handOverNoFollow,
  lockFileNoFollow,
  openAppendNoFollow,
  probeWriteFileAtomic,
  readFileNoFollow,
  tempPathFor,
  writeFileAtomic,
} from "./safe_file.ts";

const enc = new TextEncoder();

/** A folder with a victim file (0600, "precious") outside it, as a planted link would target. */
async function withDirs(
  fn: (dir: string, victim: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  const victim = `${outside}/victim`;
  await Deno.writeTextFile(victim, "precious\n", { mode: 0o600 });
  try {
    await fn(dir, victim);
    // Whatever happened, the victim keeps its bytes and its mode.
    assert.equal(await Deno.readTextFile(victim), "precious\n");
    assert.equal((await Deno.stat(victim)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** Asserts that `fn` throws a FileRefusedError with exactly `message`. */
async function assertRefused(fn: () => unknown, path: string, message: string): Promise<void> {
  await assert.rejects(async () => await fn(), (e: unknown) => {
    assert.ok(e instanceof FileRefusedError, String(e));
    assert.equal(e.path, path);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("tempPathFor() names a fresh file beside the target with 128 random bits", () => {
  const a = tempPathFor("/var/lib/horae/status.json");
  const b = tempPathFor("/var/lib/horae/status.json");
  assert.match(a, /^\/var\/lib\/horae\/status\.json\.TEMP-[0-9a-f]{32}$/);
  assert.notEqual(a, b);
});

Deno.test("writeFileAtomic() writes, replaces and creates the file with the mode given", async () => {
  await withDirs(async (dir) => {
    const path = `${dir}/status.json`;
    await writeFileAtomic(path, "one\n", 0o600);
    assert.equal(await Deno.readTextFile(path), "one\n");
    // The umask can only clear bits: owner read/write are there, nobody else has any.
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await writeFileAtomic(path, enc.encode("two\n"), 0o644);
    assert.equal(await Deno.readTextFile(path), "two\n");
    assert.deepEqual(names(dir), ["status.json"]); // no temporary file left behind
  });
});

Deno.test("writeFileAtomic() refuses a link at the path and leaves link and target alone", async () => {
  await withDirs(async (dir, victim) => {
    const path = `${dir}/st.json`;
    await Deno.symlink(victim, path);
    await assertRefused(
      () => writeFileAtomic(path, "{}\n", 0o644),
      path,
      `${path} is a symbolic link (refused)`,
    );
    assert.equal(await Deno.readLink(path), victim);
    // A dangling link is refused too, and nothing is created where it points.
    const dangling = `${dir}/pid`;
    await Deno.symlink(`${dir}/created-through-link`, dangling);
    await assertRefused(
      () => writeFileAtomic(dangling, "1\n", 0o644),
      dangling,
      `${dangling} is a symbolic link (refused)`,
    );
    assert.deepEqual(names(dir), ["pid", "st.json"]);
  });
});

Deno.test("writeFileAtomic() refuses a link planted at its temporary name", async () => {
  await withDirs(async (dir, victim) => {
    const path = `${dir}/st.json`;
    const tmp = `${path}.TEMP-guessed`;
    await Deno.symlink(victim, tmp);
    await assertRefused(
      () => writeFileAtomic(path, "{}\n", 0o644, { tempPath: tmp }),
      tmp,
      `${tmp} is a symbolic link (refused)`,
    );
    assert.equal(await Deno.readLink(tmp), victim); // not removed: it is not ours
    await Deno.remove(tmp);
    await Deno.writeTextFile(tmp, "someone's\n");
    await assertRefused(
      () => writeFileAtomic(path, "{}\n", 0o644, { tempPath: tmp }),
      tmp,
      `${tmp} already exists (refused)`,
    );
    assert.equal(await Deno.readTextFile(tmp), "someone's\n");
    assert.deepEqual(names(dir), ["st.json.TEMP-guessed"]);
  });
});

Deno.test("writeFileAtomic() never touches links at the old fixed <path>.TEMP name", async () => {
  await withDirs(async (dir, victim) => {
    const path = `${dir}/ntp.drift`;
    await Deno.symlink(victim, `${path}.TEMP`);
    await writeFileAtomic(path, "1.000\n", 0o644);
    assert.equal(await Deno.readTextFile(path), "1.000\n");
    assert.equal((await Deno.lstat(path)).isFile, true);
    assert.equal(await Deno.readLink(`${path}.TEMP`), victim);
    assert.deepEqual(names(dir), ["ntp.drift", "ntp.drift.TEMP"]);
  });
});

Deno.test("writeFileAtomic() replaces a hard-linked name without writing into the shared file", async () => {
  await withDirs(async (dir) => {
    const other = `${dir}/other-name`;
    await Deno.writeTextFile(other, "shared\n");
    await Deno.link(other, `${dir}/st.json`);
    await writeFileAtomic(`${dir}/st.json`, "new\n", 0o644);
    assert.equal(await Deno.readTextFile(other), "shared\n");
    assert.equal(await Deno.readTextFile(`${dir}/st.json`), "new\n");
  });
});

Deno.test("writeFileAtomic() removes its temporary file when the rename fails", async () => {
  await withDirs(async (dir) => {
    const path = `${dir}/st.json`;
    await Deno.mkdir(path);
    await Deno.writeTextFile(`${path}/inside`, "x");
    // The message names the temporary file without its random part: the same failure reads
    // the same every time (the daemon logs a repeated failure once).
    const messages = new Set<string>();
    for (let i = 0; i < 3; i++) {
      await assert.rejects(() => writeFileAtomic(path, "{}\n", 0o644), (e: Error) => {
        messages.add(e.message);
        return true;
      });
    }
    assert.equal(messages.size, 1);
    const [message] = messages;
    assert.ok(message!.includes(`rename '${path}.TEMP-*' -> '${path}'`), message);
    assert.deepEqual(names(dir), ["st.json"]);
    const missing = `${dir}/missing/st.json`;
    await assert.rejects(
      () => writeFileAtomic(missing, "{}\n", 0o644),
      (e: Error) => e instanceof Error && e.message.includes(`open '${missing}.TEMP-*'`),
    );
  });
});

Deno.test("probeWriteFileAtomic() is null where a write would work and says why where not", async () => {
  await withDirs(async (dir, victim) => {
    assert.equal(await probeWriteFileAtomic(`${dir}/ntp.drift`), null);
    assert.deepEqual(names(dir), []); // the probe leaves nothing behind
    await Deno.symlink(victim, `${dir}/ntp.drift`);
    assert.equal(
      await probeWriteFileAtomic(`${dir}/ntp.drift`),
      `${dir}/ntp.drift is a symbolic link (refused)`,
    );
    const missing = await probeWriteFileAtomic(`${dir}/missing/ntp.drift`);
    assert.match(missing ?? "", /No such file/);
    assert.ok(missing?.includes(`${dir}/missing/ntp.drift.TEMP-*`), missing ?? "");
  });
});

Deno.test("openAppendNoFollow() creates with the mode given and appends each record whole", async () => {
  await withDirs(async (dir) => {
    const path = `${dir}/horae.log`;
    const f = openAppendNoFollow(path, 0o640);
    f.writeSync(enc.encode("one\n"));
    f.writeSync(enc.encode("two\n"));
    f.close();
    f.close(); // twice is harmless
    assert.throws(() => f.writeSync(enc.encode("late\n")), /write after close/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    // An existing file keeps its content and its mode.
    await Deno.chmod(path, 0o600);
    const g = openAppendNoFollow(path, 0o644);
    g.writeSync(enc.encode("three\n"));
    g.close();
    assert.equal(await Deno.readTextFile(path), "one\ntwo\nthree\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("openAppendNoFollow() refuses links, directories, FIFOs and hard-linked files", async () => {
  await withDirs(async (dir, victim) => {
    const link = `${dir}/link.log`;
    await Deno.symlink(victim, link);
    await assertRefused(
      () => openAppendNoFollow(link, 0o644),
      link,
      `${link} is a symbolic link (refused)`,
    );
    const dangling = `${dir}/dangling.log`;
    await Deno.symlink(`${dir}/created-through-link`, dangling);
    await assertRefused(
      () => openAppendNoFollow(dangling, 0o644),
      dangling,
      `${dangling} is a symbolic link (refused)`,
    );
    const sub = `${dir}/sub`;
    await Deno.mkdir(sub);
    await assertRefused(
      () => openAppendNoFollow(sub, 0o644),
      sub,
      `${sub} is a directory (refused)`,
    );
    // A FIFO with no reader would block a plain open for writing forever.
    const fifo = `${dir}/fifo.log`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success);
    await assertRefused(
      () => openAppendNoFollow(fifo, 0o644),
      fifo,
      `${fifo} is not a regular file (refused)`,
    );
    const hard = `${dir}/hard.log`;
    await Deno.link(victim, hard);
    await assertRefused(
      () => openAppendNoFollow(hard, 0o644),
      hard,
      `${hard} has 2 hard links (refused)`,
    );
    await Deno.remove(hard);
    assert.deepEqual(names(dir), ["dangling.log", "fifo.log", "link.log", "sub"]);
  });
});

Deno.test("openAppendNoFollow() refuses a device such as /dev/null", async () => {
  await assertRefused(
    () => openAppendNoFollow("/dev/null", 0o644),
    "/dev/null",
    "/dev/null is not a regular file (refused)",
  );
});

Deno.test("readFileNoFollow() reads at most the limit and never through a link", async () => {
  await withDirs(async (dir, victim) => {
    const path = `${dir}/ntp.drift`;
    await Deno.writeTextFile(path, "12.500\n");
    assert.equal(new TextDecoder().decode(readFileNoFollow(path, 3)), "12.");
    assert.throws(() => readFileNoFollow(`${dir}/missing`, 10), Deno.errors.NotFound);
    await Deno.remove(path);
    await Deno.symlink(victim, path);
    await assertRefused(
      () => readFileNoFollow(path, 256),
      path,
      `${path} is a symbolic link (refused)`,
    );
  });
});

Deno.test("lockFileNoFollow() excludes a second holder until released, and refuses a link", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.lock`;
    const release = await lockFileNoFollow(path, 0o600);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    let second = false;
    const waiting = lockFileNoFollow(path, 0o600).then((r) => {
      second = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(second, false, "the second lock waited");
    release();
    (await waiting)();
    assert.equal(second, true);
    await Deno.symlink(`${dir}/victim`, `${dir}/link.lock`);
    await assert.rejects(lockFileNoFollow(`${dir}/link.lock`, 0o600));
    await assert.rejects(Deno.lstat(`${dir}/victim`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "handOverNoFollow() gives a root-owned file to the user, never through a link",
  ignore: Deno.uid() !== 0, // chown needs root; CI runs as root
  fn: async () => {
    await withDirs(async (dir, victim) => {
      const file = `${dir}/cookies`;
      await Deno.writeTextFile(file, "keys\n", { mode: 0o600 });
      assert.equal(handOverNoFollow(file, 65534, 65534), true);
      const st = await Deno.stat(file);
      assert.equal(st.uid, 65534);
      assert.equal(st.gid, 65534);
      assert.equal(st.mode! & 0o777, 0o600);
      // Owned by someone else already: left alone.
      assert.equal(handOverNoFollow(file, 1234, 1234), false);
      assert.equal((await Deno.stat(file)).uid, 65534);
      // Missing: nothing to do.
      assert.equal(handOverNoFollow(`${dir}/none`, 65534, 65534), false);
      // A link planted at the name: refused, and the root-owned target keeps its owner.
      await Deno.symlink(victim, `${dir}/link`);
      await assertRefused(
        () => handOverNoFollow(`${dir}/link`, 65534, 65534),
        `${dir}/link`,
        `${dir}/link is a symbolic link (refused)`,
      );
      assert.equal((await Deno.stat(victim)).uid, 0);
      // A hard link to the victim: refused too.
      await Deno.link(victim, `${dir}/hard`);
      assert.throws(() => handOverNoFollow(`${dir}/hard`, 65534, 65534), FileRefusedError);
      assert.equal((await Deno.stat(victim)).uid, 0);
    });
  },
});
