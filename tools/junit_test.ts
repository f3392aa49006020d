import assert from "node:assert/strict";
import { countJunit } from "./junit.ts";

Deno.test("countJunit() counts ignored tests apart from passed ones, and names failures", async () => {
  // A real report: one test passes, one is ignored at load, one fails.
  const dir = await Deno.makeTempDir({ prefix: "horae-junit-" });
  try {
    await Deno.writeTextFile(
      `${dir}/a_test.ts`,
      [
        'Deno.test("passes", () => {});',
        'Deno.test("is ignored", { ignore: true }, () => {});',
        'Deno.test("fails <here> & \'there\'", () => { throw new Error("no"); });',
      ].join("\n"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--no-config", "--reporter=dot", `--junit-path=${dir}/j.xml`, "a_test.ts"],
      cwd: dir,
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(out.success, false);
    const counts = countJunit(await Deno.readTextFile(`${dir}/j.xml`));
    assert.deepEqual(counts, {
      passed: 1,
      failed: 1,
      ignored: 1,
      failures: ["fails <here> & 'there'"],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
