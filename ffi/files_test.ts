import assert from "node:assert/strict";
import {
  closeFd,
  decodeStat,
  FileErrno,
  fstatFd,
  O,
  openFd,
  readFd,
  S_IFMT,
  S_IFREG,
  STAT_SIZE,
  writeAllFd,
} from "./files.ts";
import { OsError } from "./libc.ts";

Deno.test("fstatFd() decodes struct stat as Deno.statSync sees the same file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f`;
    await Deno.writeTextFile(path, "12345", { mode: 0o640 });
    await Deno.link(path, `${dir}/second-name`);
    const fd = openFd(path, O.RDONLY | O.CLOEXEC, 0);
    try {
      const st = fstatFd(fd);
      const want = Deno.statSync(path);
      assert.equal(st.ino, BigInt(want.ino!));
      assert.equal(st.dev, BigInt(want.dev));
      assert.equal(st.nlink, 2);
      assert.equal(st.mode, want.mode);
      assert.equal(st.mode & S_IFMT, S_IFREG);
      assert.equal(st.uid, want.uid);
      assert.equal(st.gid, want.gid);
      assert.equal(st.size, 5);
    } finally {
      closeFd(fd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeStat() needs the whole struct", () => {
  assert.throws(() => decodeStat(new Uint8Array(STAT_SIZE - 1)), RangeError);
});

Deno.test("openFd() with O_NOFOLLOW fails with ELOOP on a link and O_EXCL with EEXIST", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/target`, "keep\n");
    await Deno.symlink(`${dir}/target`, `${dir}/link`);
    await Deno.symlink(`${dir}/absent`, `${dir}/dangling`);
    const errnoOf = (path: string, flags: number) => {
      try {
        closeFd(openFd(path, flags, 0o600));
        return 0;
      } catch (e) {
        assert.ok(e instanceof OsError);
        assert.equal(e.syscall, "open");
        assert.ok(e.message.includes(path), e.message);
        return e.errno;
      }
    };
    assert.equal(errnoOf(`${dir}/link`, O.WRONLY | O.APPEND | O.NOFOLLOW), FileErrno.ELOOP);
    assert.equal(
      errnoOf(`${dir}/dangling`, O.WRONLY | O.CREAT | O.NOFOLLOW),
      FileErrno.ELOOP,
    );
    assert.equal(errnoOf(`${dir}/dangling`, O.WRONLY | O.CREAT | O.EXCL), FileErrno.EEXIST);
    assert.equal(errnoOf(`${dir}/missing`, O.RDONLY), FileErrno.ENOENT);
    assert.equal(await Deno.readTextFile(`${dir}/target`), "keep\n");
    assert.equal(Deno.lstatSync(`${dir}/dangling`).isSymlink, true);
    assert.throws(() => Deno.statSync(`${dir}/absent`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAllFd() appends whole buffers and readFd() reads at most the limit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f`;
    await Deno.writeTextFile(path, "first\n");
    const big = new Uint8Array(200_000).fill(0x61);
    const fd = openFd(path, O.WRONLY | O.APPEND | O.CLOEXEC, 0);
    try {
      writeAllFd(fd, new TextEncoder().encode("second\n"));
      writeAllFd(fd, big);
    } finally {
      closeFd(fd);
    }
    assert.equal(Deno.statSync(path).size, 13 + big.length);
    const rd = openFd(path, O.RDONLY | O.CLOEXEC, 0);
    try {
      assert.equal(new TextDecoder().decode(readFd(rd, 13)), "first\nsecond\n");
      assert.equal(readFd(rd, 1 << 20).length, big.length);
      assert.equal(readFd(rd, 10).length, 0);
    } finally {
      closeFd(rd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
