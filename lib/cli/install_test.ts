import assert from "node:assert/strict";
import { install } from "./install.ts";

Deno.test("install() never writes through a link planted at its temporary file's name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-install-test-" });
  try {
    const from = `${dir}/program`;
    await Deno.writeTextFile(from, "#!/bin/sh\necho horae\n");
    const victim = `${dir}/victim`;
    await Deno.writeTextFile(victim, "precious\n", { mode: 0o600 });
    await Deno.chmod(victim, 0o600);
    const root = `${dir}/root`;
    const sbin = `${root}/usr/local/sbin`;
    await Deno.mkdir(sbin, { recursive: true });
    // The name the temporary file used to have: <target>.horae-install.<pid>.
    await Deno.symlink(victim, `${sbin}/horae.horae-install.${Deno.pid}`);
    await install({ prefix: "/usr/local", destdir: root, force: false }, from);
    assert.equal(await Deno.readTextFile(victim), "precious\n");
    assert.equal((await Deno.stat(victim)).mode! & 0o777, 0o600);
    assert.equal(await Deno.readTextFile(`${sbin}/horae`), "#!/bin/sh\necho horae\n");
    assert.equal((await Deno.stat(`${sbin}/horae`)).mode! & 0o777, 0o755);
    // No temporary file is left behind (the planted link is the only other entry).
    const left = [];
    for await (const e of Deno.readDir(sbin)) if (e.name.includes(".horae-install.")) left.push(e);
    assert.equal(left.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
