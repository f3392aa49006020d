import assert from "node:assert/strict";
import {
  allPages,
  INSTALL_FILES_MODULE,
  installedConfig,
  installFilesModule,
  manPage,
  PAGES,
  roffText,
} from "./gen_man_pages.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("roffText() escapes backslashes, hyphens and a leading dot", () => {
  assert.equal(roffText("-c, --conf a\\b"), "\\-c, \\-\\-conf a\\eb");
  assert.equal(roffText(".x"), "\\&.x");
});

Deno.test("manPage() turns --help into SYNOPSIS, DESCRIPTION and tagged OPTIONS", () => {
  const text = manPage(
    { command: "trace", page: "ntptrace", section: 1, what: "trace" },
    "usage: horae trace [-n]\n\noptions:\n  -n, --numeric   print addresses\n",
    "9.9",
  );
  assert.match(text, /^\.TH NTPTRACE 1 "" "horae 9\.9" "Horae"\n/);
  assert.match(text, /\.SH SYNOPSIS\n\.nf\nhorae trace \[\\-n\]\n\.fi\n/);
  assert.match(text, /\.SH OPTIONS\n\.TP\n\.B \\-n, \\-\\-numeric\nprint addresses\n/);
});

Deno.test({
  name: "man/ holds the pages generated from the current --help texts (deno task docs:man)",
  sanitizeResources: false,
  fn: async () => {
    const pages = await allPages();
    assert.equal(pages.size, PAGES.length + 1);
    const present = [...Deno.readDirSync(`${ROOT}man`)].map((e) => e.name).sort();
    assert.deepEqual(present, [...pages.keys()].sort());
    for (const [name, text] of pages) {
      assert.equal(await Deno.readTextFile(`${ROOT}man/${name}`), text, `man/${name} is stale`);
    }
  },
});

Deno.test({
  name:
    "lib/cli/_install_files.ts embeds the current man pages and systemd files (deno task docs:man)",
  sanitizeResources: false,
  fn: async () => {
    const expected = installFilesModule(await allPages(), await installedConfig());
    assert.equal(
      await Deno.readTextFile(`${ROOT}${INSTALL_FILES_MODULE}`),
      expected,
      `${INSTALL_FILES_MODULE} is stale`,
    );
  },
});

const man = (() => {
  try {
    return new Deno.Command("man", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "man --warnings renders every page without a warning",
  ignore: !man,
  fn: async () => {
    for (const e of Deno.readDirSync(`${ROOT}man`)) {
      const r = await new Deno.Command("man", {
        args: ["--warnings", "-l", `${ROOT}man/${e.name}`],
        stdout: "piped",
        stderr: "piped",
        env: { MANWIDTH: "80" },
      }).output();
      assert.equal(r.code, 0, e.name);
      assert.equal(new TextDecoder().decode(r.stderr), "", e.name);
      assert.match(new TextDecoder().decode(r.stdout), /OPTIONS|COMMANDS/, e.name);
    }
  },
});
