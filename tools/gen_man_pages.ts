// Generates the manual pages in man/ from each command's `--help` (itself built from the option
// tables in lib/cli and lib/daemon/run_command.ts): horae(8), one page per classic program name
// (ntpd(8), ntpq(1), ...) so that `man ntpd` works after install, and horae-<command>(1) for the
// commands without one. `deno task docs:man` rewrites them; man/man_pages_test.ts checks they are
// current and that man(1) renders them without warnings.
// deno-lint-ignore-file no-console

const ROOT = new URL("../", import.meta.url).pathname;

/** Each command, the page it gets, and the one-line description of its NAME section. */
export const PAGES: readonly { command: string; page: string; section: number; what: string }[] = [
  { command: "run", page: "ntpd", section: 8, what: "Network Time Protocol daemon (horae run)" },
  { command: "query", page: "ntpq", section: 1, what: "query an NTP daemon (mode 6)" },
  { command: "dc", page: "ntpdc", section: 1, what: "special queries to an NTP daemon (mode 7)" },
  { command: "date", page: "ntpdate", section: 8, what: "set the date from NTP servers" },
  { command: "trace", page: "ntptrace", section: 1, what: "trace a chain of NTP servers" },
  { command: "time", page: "ntptime", section: 8, what: "read and set kernel time variables" },
  { command: "tickadj", page: "tickadj", section: 8, what: "kernel tick and tickadj" },
  { command: "keygen", page: "ntp-keygen", section: 8, what: "generate NTP symmetric keys" },
  { command: "sim", page: "ntpdsim", section: 8, what: "run the NTP simulator" },
  { command: "convert", page: "horae-convert", section: 1, what: "convert ntp.conf to TOML" },
  { command: "check", page: "horae-check", section: 1, what: "validate a configuration" },
  { command: "report", page: "horae-report", section: 1, what: "plot statistics files" },
  {
    command: "install",
    page: "horae-install",
    section: 8,
    what: "install Horae, its classic names, unit and man pages",
  },
];

/** ntpd(8)'s SIGNALS section: each signal (roff) and what the daemon does on it. */
export const NTPD_SIGNALS: readonly (readonly [string, string])[] = [
  [
    ".B SIGTERM, SIGINT",
    "Stop cleanly: the drift file is written, the counters logged, the pid file removed; exit 0.",
  ],
  [
    ".B SIGHUP",
    "Reopen the log file and the statistics files (for log rotation) and read the configuration " +
    "again. Changes to sources, restrict, tos (minclock, minsane, floor, ceiling, orphan), " +
    "logconfig, statistics, statsdir, filegen, logfile and saveconfigdir are applied, " +
    "one log line each; any other change is logged as needing a restart. A configuration with " +
    "errors is refused with its diagnostics and the daemon keeps running on the previous one. " +
    "The keys file is not read again: restart to use changed keys.",
  ],
  [".B SIGUSR1", "Raise the debug level by one."],
  [".B SIGUSR2", "Lower the debug level by one."],
];

/** Text made safe for roff: backslashes, hyphens, and a leading dot or quote. */
export function roffText(text: string): string {
  const t = text.replaceAll("\\", "\\e").replaceAll("-", "\\-");
  return /^[.']/.test(t) ? `\\&${t}` : t;
}

/** An option line of `--help`: "  -c, --configfile FILE   read the configuration from FILE". */
const OPTION = /^ {2}(-\S.*?|\s{4}--\S.*?)\s{2,}(\S.*)$/;

/**
 * One man page (man(7) macros) from a command's `--help` text: the usage lines as SYNOPSIS,
 * other paragraphs as DESCRIPTION, every option as a tagged paragraph under OPTIONS.
 */
export function manPage(
  p: { page: string; section: number; what: string; command: string },
  help: string,
  version: string,
): string {
  const out: string[] = [
    `.TH ${p.page.toUpperCase().replaceAll("-", "\\-")} ${p.section} "" "horae ${version}" "Horae"`,
    ".SH NAME",
    `${roffText(p.page)} \\- ${roffText(p.what)}`,
    ".SH SYNOPSIS",
    ".nf",
  ];
  const lines = help.trimEnd().split("\n");
  let i = 0;
  for (; i < lines.length && lines[i] !== ""; i++) {
    // Continuation lines keep their place under the first one, less the "usage: " prefix.
    out.push(
      roffText(lines[i]!.replace(/^usage: /, "").replace(/^ {3}or: /, "").replace(/^ {7}/, "")),
    );
  }
  out.push(".fi");
  const description: string[] = [];
  const options: string[] = [];
  const notes: string[] = [];
  let seenOptions = false;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const m = OPTION.exec(line);
    if (m) {
      seenOptions = true;
      options.push(".TP", `.B ${roffText(m[1]!.trim())}`, roffText(m[2]!));
    } else if (line.trim() === "options:" || line.trim() === "") {
      if (line.trim() === "" && (seenOptions ? notes : description).length > 0) {
        (seenOptions ? notes : description).push(".PP");
      }
    } else {
      (seenOptions ? notes : description).push(roffText(line.trim()));
    }
  }
  const trim = (xs: string[]) => {
    while (xs.at(-1) === ".PP") xs.pop();
    return xs;
  };
  out.push(".SH DESCRIPTION");
  const program = `horae ${p.command}`;
  out.push(
    `${roffText(p.page)} is part of Horae, one program with many commands: ` +
      `it runs as ${roffText(program)}, or through a link named ${roffText(p.page)}.`,
  );
  if (description.length > 0) out.push(".PP", ...trim(description));
  if (options.length > 0) out.push(".SH OPTIONS", ...options);
  if (notes.length > 0) out.push(".SH NOTES", ...trim(notes));
  if (p.page === "ntpd") out.push(".SH SIGNALS", ...NTPD_SIGNALS.flatMap((s) => [".TP", ...s]));
  out.push(".SH SEE ALSO", ".BR horae (8)");
  return `${out.join("\n")}\n`;
}

/** horae(8): the command list and the top-level options, from `horae --help`. */
export function horaePage(help: string, version: string): string {
  const lines = help.trimEnd().split("\n");
  const out = [
    `.TH HORAE 8 "" "horae ${version}" "Horae"`,
    ".SH NAME",
    "horae \\- NTP daemon and tools in one program",
    ".SH SYNOPSIS",
    ".nf",
    "horae \\fIcommand\\fR [\\fIoptions\\fR]",
    "horae \\-\\-help | \\-\\-version",
    ".fi",
    ".SH DESCRIPTION",
    "Horae is an NTP daemon and its tools in one executable. Each command also runs under its " +
    "classic name through a link (ntpd, ntpq, ntpdc, ...). Under systemd it runs as",
    ".B horae.service",
    "(Type=notify, with a watchdog).",
    ".SH COMMANDS",
  ];
  for (const line of lines) {
    const m = /^ {2}([a-z]+)\s+(.*)$/.exec(line);
    if (m && PAGES.some((p) => p.command === m[1])) out.push(".TP", `.B ${m[1]}`, roffText(m[2]!));
  }
  out.push(".SH OPTIONS");
  for (const line of lines) {
    const m = OPTION.exec(line);
    if (m && m[1]!.includes("--")) out.push(".TP", `.B ${roffText(m[1]!.trim())}`, roffText(m[2]!));
  }
  out.push(
    ".SH FILES",
    ".TP",
    ".B /etc/horae/horae.toml",
    "the configuration under systemd (see horae.conf(5); an ntp.conf works too)",
    ".TP",
    ".B /var/lib/horae",
    "the drift file",
    ".SH SEE ALSO",
    PAGES.map((p) => `.BR ${p.page} (${p.section})`).join(",\n"),
  );
  return `${out.join("\n")}\n`;
}

/** Markdown inline markup as roff: `code` and **bold** in bold, *emphasis* in italics. */
function roffInline(text: string): string {
  return roffText(text)
    .replaceAll("\u2014", "\\(em")
    .replaceAll("\u2013", "\\(en")
    .replaceAll("\u2026", "...")
    .replace(/`([^`]+)`/g, "\\fB$1\\fR")
    .replace(/\*\*([^*]+)\*\*/g, "\\fB$1\\fR")
    .replace(/\*([^*]+)\*/g, "\\fI$1\\fR");
}

/** The cells of a Markdown table row. */
function cells(row: string): string[] {
  return row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

/**
 * horae.conf(5) from docs/horae.conf.5.md (written by `deno task docs:config` from the option
 * spec): headings become sections, lists and paragraphs stay, and each option table row becomes
 * a tagged paragraph (its ntp.conf keyword, then TOML key, type, unit, range, default, whether
 * it is applied, and its meaning), which reads better in a terminal than a wide table.
 */
export function configPage(markdown: string, version: string): string {
  const out = [`.TH HORAE.CONF 5 "" "horae ${version}" "Horae"`];
  let header: string[] | null = null;
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) out.push(".PP", roffInline(paragraph.join(" ")));
    paragraph = [];
  };
  for (const raw of markdown.split("\n")) {
    const line = raw.trimEnd();
    if (line.startsWith("<!--") || line.startsWith("# ")) continue;
    if (line.startsWith("|")) {
      flush();
      const c = cells(line);
      if (header === null) header = c;
      else if (!c.every((x) => /^-+$/.test(x))) {
        const facts = c.slice(1, -1).map((v, i) => [header![i + 1] ?? "", v] as const)
          .filter(([, v]) => v !== "").map(([k, v]) => `${k} ${v}`);
        out.push(".TP", `.B ${roffInline(c[0]!.replaceAll("`", ""))}`);
        out.push(roffInline(`${facts.join("; ")}. ${c.at(-1) ?? ""}`));
      }
      continue;
    }
    header = null;
    if (line.startsWith("## ")) {
      flush();
      out.push(`.SH ${roffInline(line.slice(3).toUpperCase())}`);
    } else if (line.startsWith("### ")) {
      flush();
      out.push(`.SS ${roffInline(line.slice(4))}`);
    } else if (line.startsWith("- ")) {
      flush();
      out.push(".IP \\(bu 2", roffInline(line.slice(2)));
    } else if (line === "") {
      flush();
    } else {
      paragraph.push(line.trim());
    }
  }
  flush();
  return `${out.join("\n")}\n`;
}

async function helpOf(args: string[]): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-net", `${ROOT}main.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return new TextDecoder().decode(r.stdout);
}

/** Every page: file name and text. */
export async function allPages(): Promise<Map<string, string>> {
  const { HORAE_VERSION } = await import("../lib/cli/version.ts");
  const pages = new Map<string, string>();
  pages.set("horae.8", horaePage(await helpOf(["--help"]), HORAE_VERSION));
  for (const p of PAGES) {
    pages.set(
      `${p.page}.${p.section}`,
      manPage(p, await helpOf([p.command, "--help"]), HORAE_VERSION),
    );
  }
  const md = await Deno.readTextFile(`${ROOT}docs/horae.conf.5.md`);
  pages.set("horae.conf.5", configPage(md, HORAE_VERSION));
  return pages;
}

/** The files `horae install` writes besides the program, from the checkout. */
export const INSTALLED_CONFIG = [
  "config/systemd/horae.service",
  "config/systemd/horae.sysusers.conf",
];

/** Where {@link installFilesModule} goes: embedded so that the single-file bundle installs them. */
export const INSTALL_FILES_MODULE = "lib/cli/_install_files.ts";

/**
 * lib/cli/_install_files.ts: the man pages and the systemd files as one module of strings,
 * imported by `horae install` only (so the bundle carries them, and nothing else loads them).
 */
export function installFilesModule(
  pages: Map<string, string>,
  config: Map<string, string>,
): string {
  const entries = (m: Map<string, string>) =>
    [...m].sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) =>
      `  ${JSON.stringify(k)}:\n    ${JSON.stringify(v)},`
    ).join("\n");
  return `// Generated by \`deno task docs:man\` (tools/gen_man_pages.ts). Do not edit: a test fails when
// this file is not current. The files \`horae install\` writes besides the program.
// deno-fmt-ignore-file

/** Man pages by file name ("ntpd.8"). */
export const MAN_PAGES: Readonly<Record<string, string>> = {
${entries(pages)}
};

/** The systemd unit and sysusers file by their checkout path. */
export const SYSTEMD_FILES: Readonly<Record<string, string>> = {
${entries(config)}
};
`;
}

/** The installed configuration files' texts, read from the checkout. */
export async function installedConfig(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of INSTALLED_CONFIG) out.set(f, await Deno.readTextFile(`${ROOT}${f}`));
  return out;
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? `${ROOT}man`;
  await Deno.mkdir(dir, { recursive: true });
  const pages = await allPages();
  for (const [name, text] of pages) await Deno.writeTextFile(`${dir}/${name}`, text);
  console.log(`${dir}: ${pages.size} pages`);
  if (Deno.args[0] === undefined) {
    await Deno.writeTextFile(
      `${ROOT}${INSTALL_FILES_MODULE}`,
      installFilesModule(pages, await installedConfig()),
    );
    console.log(INSTALL_FILES_MODULE);
  }
}
