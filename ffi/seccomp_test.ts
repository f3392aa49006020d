import assert from "node:assert/strict";
import { buildDenyFilter, DENIED_SYSCALLS, seccompSupported } from "./seccomp.ts";

Deno.test("buildDenyFilter() checks the architecture, then denies each listed call with EPERM", () => {
  for (const arch of ["x86_64", "aarch64"]) {
    const f = buildDenyFilter(arch);
    const v = new DataView(f.buffer);
    const n = f.length / 8;
    const x32 = arch === "x86_64" ? 2 : 0;
    assert.equal(n, 4 + x32 + 2 * DENIED_SYSCALLS.length + 1);
    assert.equal(v.getUint32(4 + 8, true), arch === "x86_64" ? 0xc000003e : 0xc00000b7);
    assert.equal(v.getUint32(2 * 8 + 4, true), 0x00050001); // other arch: ERRNO(EPERM)
    assert.equal(v.getUint32((n - 1) * 8 + 4, true), 0x7fff0000); // the rest: ALLOW
  }
  assert.equal(seccompSupported("riscv64"), false);
  assert.throws(() => buildDenyFilter("riscv64"), /no seccomp filter for riscv64/);
});

// Installing a filter cannot be undone: it runs in a child, which then tries to run a program.
const CHILD = `
import { setNoNewPrivs } from ${JSON.stringify(new URL("./privileges.ts", import.meta.url).href)};
import { installDenyFilter } from ${JSON.stringify(new URL("./seccomp.ts", import.meta.url).href)};
setNoNewPrivs();
installDenyFilter();
const seccomp = [...Deno.readDirSync("/proc/self/task")].map((e) =>
  /Seccomp:\\s*(\\d)/.exec(Deno.readTextFileSync("/proc/self/task/" + e.name + "/status"))[1]
);
let spawn = "ran";
try {
  await new Deno.Command("/bin/true").output();
} catch (e) {
  spawn = String(e);
}
console.log(JSON.stringify({ seccomp, spawn, stillWorks: Deno.readTextFileSync("/proc/self/comm").trim() }));
`;

Deno.test("installDenyFilter() filters every thread; running a program then fails", async () => {
  if (!seccompSupported()) return;
  const dir = await Deno.makeTempDir({ prefix: "horae-seccomp-" });
  try {
    await Deno.writeTextFile(`${dir}/child.ts`, CHILD);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${dir}/child.ts`],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success && text !== "", new TextDecoder().decode(out.stderr));
    const r = JSON.parse(text);
    assert.ok(r.seccomp.length >= 3);
    for (const s of r.seccomp) assert.equal(s, "2");
    assert.notEqual(r.spawn, "ran");
    assert.match(r.spawn, /denied|not permitted|EPERM/i);
    assert.equal(r.stillWorks, "deno");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
