// `horae install [--prefix DIR] [--destdir DIR] [--force]`: puts the one program on a host the
// way a package would: PREFIX/sbin/horae with links for the classic names (ntpd, ntpq, ...), the
// man pages, the systemd unit and sysusers file, and /etc/horae/horae.toml converted from
// /etc/ntp.conf. A configuration (and an edited unit) already there is kept unless --force.
// deno-lint-ignore-file no-console

import { BUNDLE_ARGS, withShebang } from "./build_flags.ts";
import { parseArgs } from "node:util";
import { formatDiagnostic } from "../config/diagnostics.ts";
import { loadConfig } from "../config/load_config.ts";
import { writeToml } from "../config/toml_writer.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

const INSTALL_USAGE =
  "usage: horae install [--prefix DIR] [--destdir DIR] [--from FILE] [--force]\n";

const INSTALL_OPTIONS = {
  prefix: { type: "string" },
  destdir: { type: "string" },
  from: { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** `horae install --help`. */
export const INSTALL_HELP: string = helpText(
  INSTALL_USAGE,
  optionHelp(INSTALL_OPTIONS, {
    prefix: ["DIR", "install under DIR (default /usr/local): DIR/sbin, DIR/bin, DIR/share/man"],
    destdir: ["DIR", "stage everything below DIR, /etc included (default $DESTDIR, or /)"],
    from: ["FILE", "the program to install (default: this one: the bundle or binary running)"],
    force: ["", "replace an existing configuration, unit or foreign file at a classic name"],
    help: ["", "print this help and exit"],
  }),
  "Files: PREFIX/sbin/horae; links ntpd, ntpdate, ntptime, tickadj, ntp-keygen, ntpdsim in\n" +
    "PREFIX/sbin and ntpq, ntpdc, ntptrace in PREFIX/bin; man pages in PREFIX/share/man;\n" +
    "/etc/systemd/system/horae.service, /etc/sysusers.d/horae.conf; /etc/horae/horae.toml,\n" +
    "converted from /etc/ntp.conf when there is one. Then: systemd-sysusers, systemctl\n" +
    "daemon-reload, systemctl enable --now horae.\n",
);

/** Each classic name, and the folder (relative to the prefix) its link goes in. */
export const CLASSIC_LINKS: readonly { name: string; dir: "sbin" | "bin" }[] = [
  { name: "ntpd", dir: "sbin" },
  { name: "ntpdate", dir: "sbin" },
  { name: "ntptime", dir: "sbin" },
  { name: "tickadj", dir: "sbin" },
  { name: "ntp-keygen", dir: "sbin" },
  { name: "ntpdsim", dir: "sbin" },
  { name: "ntpq", dir: "bin" },
  { name: "ntpdc", dir: "bin" },
  { name: "ntptrace", dir: "bin" },
];

/** The folders of a host the unit gives the daemon (StateDirectory=, LogsDirectory=). */
export const STATE_DIR = "/var/lib/horae";
export const LOGS_DIR = "/var/log/horae";

/** The configuration written when the host has no /etc/ntp.conf. */
export const DEFAULT_NTP_CONF = `# Horae's default configuration (horae install): a public pool.
driftfile ${STATE_DIR}/ntp.drift
pool pool.ntp.org iburst
restrict default kod limited nomodify nopeer noquery
restrict 127.0.0.1
restrict ::1
`;

/** What install did with one path, for its report. */
export interface InstallStep {
  path: string;
  action: "installed" | "replaced" | "unchanged" | "kept" | "converted";
  note?: string;
}

/** Where one install goes. */
export interface InstallPlan {
  /** Prefix as the installed files name it (/usr/local). */
  prefix: string;
  /** Staging root ("" for the real root). */
  destdir: string;
  force: boolean;
}

/** Everything below the staging root. */
function staged(plan: InstallPlan, path: string): string {
  return `${plan.destdir.replace(/\/+$/, "")}${path}`;
}

async function exists(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function sameBytes(path: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const have = await Deno.readFile(path);
    return have.length === bytes.length && have.every((b, i) => b === bytes[i]);
  } catch {
    return false;
  }
}

/**
 * Writes `bytes` at `path` (below the staging root) with `mode`, through a temporary file renamed
 * into place. `ours` files (the program, man pages) are replaced when they differ; the others
 * (the unit, the configuration) only with --force.
 */
async function put(
  plan: InstallPlan,
  path: string,
  bytes: Uint8Array,
  mode: number,
  ours: boolean,
): Promise<InstallStep> {
  const target = staged(plan, path);
  const st = await exists(target);
  if (st !== null && st.isFile && await sameBytes(target, bytes)) {
    return { path, action: "unchanged" };
  }
  if (st !== null && !ours && !plan.force) {
    return { path, action: "kept", note: "exists and differs; --force replaces it" };
  }
  await Deno.mkdir(target.slice(0, target.lastIndexOf("/")) || "/", { recursive: true });
  // A fresh random name, created exclusively (O_EXCL never follows a link planted there): this
  // runs as root, and a guessable name (the pid) let anyone who can write the folder point it at
  // any file, which was then overwritten and made executable.
  const random = Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const tmp = `${target}.horae-install.${random}`;
  await Deno.writeFile(tmp, bytes, { mode, createNew: true });
  try {
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, target);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return { path, action: st === null ? "installed" : "replaced" };
}

/** A relative link `path` → `to`; a file or another link there is replaced only with --force. */
async function link(plan: InstallPlan, path: string, to: string): Promise<InstallStep> {
  const target = staged(plan, path);
  const st = await exists(target);
  if (st !== null) {
    if (st.isSymlink && await Deno.readLink(target) === to) return { path, action: "unchanged" };
    if (!plan.force) {
      return { path, action: "kept", note: "another program is there; --force replaces it" };
    }
    await Deno.remove(target);
  }
  await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
  await Deno.symlink(to, target);
  return { path, action: st === null ? "installed" : "replaced" };
}

/**
 * The program to install: --from, else the running bundle or compiled binary. From a checkout
 * (main.ts), the bundle is built first with `deno bundle`.
 */
async function programBytes(from: string | undefined): Promise<Uint8Array> {
  if (from !== undefined) return await Deno.readFile(from);
  if (Deno.build.standalone) return await Deno.readFile(Deno.execPath());
  const main = new URL(Deno.mainModule);
  if (main.protocol !== "file:") throw new Error(`cannot install from ${Deno.mainModule}`);
  const path = decodeURIComponent(main.pathname);
  if (!path.endsWith(".ts")) return await Deno.readFile(path);
  // A checkout: bundle main.ts as `deno task bundle` does (minified, the deployed shebang with
  // its V8 flags, which runs under any link name).
  const dir = await Deno.makeTempDir({ prefix: "horae-install-" });
  try {
    const out = `${dir}/horae.js`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        ...BUNDLE_ARGS,
        "-q",
        `--config=${path.slice(0, path.lastIndexOf("/"))}/deno.json`,
        "-o",
        out,
        path,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(`deno bundle: ${new TextDecoder().decode(r.stderr).trim()}`);
    return new TextEncoder().encode(withShebang(await Deno.readTextFile(out)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The unit with its ExecStart naming the installed program, and the drift, log and statistics
 * paths left as they are (the unit gives the daemon /var/lib/horae and /var/log/horae).
 */
export function unitFor(unit: string, program: string): string {
  return unit.replaceAll("/usr/local/sbin/horae", program);
}

/**
 * /etc/ntp.conf as Horae's TOML, its file paths moved where the unit lets the daemon write:
 * the drift file into /var/lib/horae, statistics and log files into /var/log/horae (ntpd's
 * /var/lib/ntp and /var/log/ntpstats are read-only under ProtectSystem=strict). Returns the
 * TOML and a note per path moved, or the diagnostics that stop the conversion.
 */
export async function convertForUnit(
  file: string,
): Promise<{ ok: true; toml: string; notes: string[] } | { ok: false; errors: string[] }> {
  const loaded = await loadConfig(file, {});
  if (!loaded.ok) return { ok: false, errors: loaded.diagnostics.map(formatDiagnostic) };
  const config = structuredClone(loaded.config);
  const notes: string[] = [];
  const move = (what: string, from: string | null, dir: string): string | null => {
    if (from === null || from === "syslog" || from === "stderr" || from.startsWith(`${dir}/`)) {
      return from;
    }
    const to = `${dir}/${from.replace(/\/+$/, "").replace(/^.*\//, "")}`;
    notes.push(`${what} ${from} is now ${to} (the unit's writable folder)`);
    return to;
  };
  config.files.driftFile = move("driftfile", config.files.driftFile, STATE_DIR);
  config.files.logFile = move("logfile", config.files.logFile, LOGS_DIR);
  if (config.stats.statsDir !== null) {
    const to = config.stats.statsDir.startsWith(LOGS_DIR) ? config.stats.statsDir : `${LOGS_DIR}/`;
    if (to !== config.stats.statsDir) {
      notes.push(`statsdir ${config.stats.statsDir} is now ${to} (the unit's writable folder)`);
    }
    config.stats.statsDir = to;
  }
  const name = file.slice(file.lastIndexOf("/") + 1);
  const toml = writeToml(config, {
    comments: loaded.comments,
    banner: [`Horae configuration, converted from ${name} by \`horae install\`.`, ...notes, ""],
  });
  return { ok: true, toml, notes };
}

/** Installs everything; returns the steps taken, in order. Throws on a failed write. */
export async function install(
  plan: InstallPlan,
  from: string | undefined,
): Promise<InstallStep[]> {
  const steps: InstallStep[] = [];
  const prefix = plan.prefix.replace(/\/+$/, "");
  const program = `${prefix}/sbin/horae`;
  steps.push(await put(plan, program, await programBytes(from), 0o755, true));
  for (const l of CLASSIC_LINKS) {
    steps.push(
      await link(
        plan,
        `${prefix}/${l.dir}/${l.name}`,
        l.dir === "sbin" ? "horae" : "../sbin/horae",
      ),
    );
  }
  const { MAN_PAGES, SYSTEMD_FILES } = await import("./_install_files.ts");
  const enc = new TextEncoder();
  for (const [name, text] of Object.entries(MAN_PAGES)) {
    const section = name.slice(name.lastIndexOf(".") + 1);
    steps.push(
      await put(plan, `${prefix}/share/man/man${section}/${name}`, enc.encode(text), 0o644, true),
    );
  }
  // horae.toml(5): the configuration page under the name of the file the unit reads.
  steps.push(await link(plan, `${prefix}/share/man/man5/horae.toml.5`, "horae.conf.5"));
  const unit = SYSTEMD_FILES["config/systemd/horae.service"]!;
  steps.push(
    await put(
      plan,
      "/etc/systemd/system/horae.service",
      enc.encode(unitFor(unit, program)),
      0o644,
      false,
    ),
  );
  const sysusers = SYSTEMD_FILES["config/systemd/horae.sysusers.conf"]!;
  steps.push(await put(plan, "/etc/sysusers.d/horae.conf", enc.encode(sysusers), 0o644, false));
  // The configuration: never overwritten without --force.
  const toml = "/etc/horae/horae.toml";
  if (await exists(staged(plan, toml)) !== null && !plan.force) {
    steps.push({ path: toml, action: "kept", note: "exists; --force replaces it" });
  } else {
    const ntpConf = staged(plan, "/etc/ntp.conf");
    let text: string;
    let note: string;
    if (await exists(ntpConf) !== null) {
      const c = await convertForUnit(ntpConf);
      if (!c.ok) {
        throw new Error(`cannot convert /etc/ntp.conf:\n${c.errors.join("\n")}`);
      }
      text = c.toml;
      note = ["from /etc/ntp.conf", ...c.notes].join("; ");
    } else {
      const dir = await Deno.makeTempDir({ prefix: "horae-install-" });
      try {
        await Deno.writeTextFile(`${dir}/ntp.conf`, DEFAULT_NTP_CONF);
        const c = await convertForUnit(`${dir}/ntp.conf`);
        if (!c.ok) throw new Error(`default configuration: ${c.errors.join("; ")}`);
        text = c.toml;
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      note = "no /etc/ntp.conf: a public pool";
    }
    const step = await put({ ...plan, force: true }, toml, enc.encode(text), 0o644, false);
    steps.push({
      path: toml,
      action: step.action === "unchanged" ? "unchanged" : "converted",
      note,
    });
  }
  return steps;
}

/** Runs `horae install`; returns the exit status (0, 1 on a failed step, 2 usage). */
export async function runInstall(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: INSTALL_OPTIONS, allowPositionals: false, strict: true });
  } catch (e) {
    console.error(
      usageError("horae install", parseArgsMessage(e, longOptions(INSTALL_OPTIONS))).trimEnd(),
    );
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(INSTALL_HELP.trimEnd());
    return 0;
  }
  const prefix = v.prefix ?? "/usr/local";
  if (!prefix.startsWith("/")) {
    console.error(
      usageError("horae install", `--prefix must be an absolute path: ${prefix}`).trimEnd(),
    );
    return 2;
  }
  const plan: InstallPlan = {
    prefix,
    destdir: v.destdir ?? Deno.env.get("DESTDIR") ?? "",
    force: v.force ?? false,
  };
  try {
    for (const s of await install(plan, v.from)) {
      console.log(`${s.action.padEnd(9)} ${staged(plan, s.path)}${s.note ? ` (${s.note})` : ""}`);
    }
  } catch (e) {
    console.error(`horae install: ${(e as Error).message}`);
    return 1;
  }
  if (plan.destdir === "") {
    console.log("next: systemd-sysusers; systemctl daemon-reload; systemctl enable --now horae");
  }
  return 0;
}
