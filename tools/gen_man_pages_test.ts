import assert from "node:assert/strict";
import {
  allPages,
  configPage,
  INSTALL_FILES_MODULE,
  installedConfig,
  installFilesModule,
  manPage,
  PAGES,
  roffText,
} from "./gen_man_pages.ts";
import { needPeers } from "../tests/support/peers.ts";

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

Deno.test("configPage() turns the reference's headings, lists and option tables into man(7)", () => {
  const md = [
    "# horae.conf(5)",
    "<!-- generated -->",
    "## NAME",
    "",
    "horae.conf \u2014 the `configuration`",
    "",
    "### Files",
    "",
    "- `driftfile` `file` \u2014 keep the *frequency*.",
    "",
    "| ntp.conf | TOML | default | meaning |",
    "|---|---|---|---|",
    "| `driftfile` | `driftfile` | not set | A **file**. |",
    "",
  ].join("\n");
  assert.equal(
    configPage(md, "1.0"),
    [
      '.TH HORAE.CONF 5 "" "horae 1.0" "Horae"',
      ".SH NAME",
      ".PP",
      "horae.conf \\(em the \\fBconfiguration\\fR",
      ".SS Files",
      ".IP \\(bu 2",
      "\\fBdriftfile\\fR \\fBfile\\fR \\(em keep the \\fIfrequency\\fR.",
      ".TP",
      ".B driftfile",
      "TOML \\fBdriftfile\\fR; default not set. A \\fBfile\\fR.",
      "",
    ].join("\n"),
  );
});

Deno.test({
  name: "man/ holds the pages generated from the current --help texts (deno task docs:man)",
  sanitizeResources: false,
  fn: async () => {
    const pages = await allPages();
    // horae(8), one page per command, horae.conf(5).
    assert.equal(pages.size, PAGES.length + 2);
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

// man-db and groff-base come from tools/setup_test_deps.sh; a run without them records a skip,
// which fails CI.
const man = await needPeers("man pages", { programs: ["man", "groff"] });

Deno.test({
  name: "man --warnings renders every page without a warning",
  ignore: man.ignore,
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
      assert.match(new TextDecoder().decode(r.stdout), /^NAME\n.*^DESCRIPTION$/ms, e.name);
    }
  },
});
