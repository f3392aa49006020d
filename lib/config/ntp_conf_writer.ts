// ntp.conf writer for the configuration model (ntpq `saveconfig`, as ntpd writes the running
// configuration): one line per command, in the option spec's section order, values at their
// defaults left out. Which words a command takes and how values are spelled come from the spec,
// so that the ntp.conf reader reads the text back to the same model (a round-trip test over the
// fixture configurations holds it to that).

import type { NtpConfig, RefclockConfig, RestrictRule, SourceConfig } from "./config_model.ts";
import {
  type CommandSpec,
  type ConfigSpec,
  copyDefault,
  type SectionSpec,
  wordsOf,
} from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import { getPath, joinPath } from "./model_path.ts";
import { classifyAddress } from "./address.ts";

/** Options of {@link writeNtpConf}. */
export interface NtpConfWriteOptions {
  /** Comment lines at the top. */
  banner?: string[];
  /** The option spec to write with (default: Horae's). */
  spec?: ConfigSpec;
}

/** A word as the ntp.conf lexer reads it back: quoted when it holds a space, `#` or a quote. */
export function confWord(text: string): string {
  return text === "" || /[\s#"]/.test(text) ? `"${text.replaceAll('"', "")}"` : text;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One value in ntp.conf spelling (lists: their words separated by spaces). */
function valueText(v: unknown): string {
  if (Array.isArray(v)) return v.map((x) => confWord(String(x))).join(" ");
  if (typeof v === "boolean") return v ? "1" : "0";
  return confWord(String(v));
}

/**
 * The option words of one line: each option of `section` named in `words` whose value in `obj`
 * (the model object of the line) differs from its default: a flag alone, others with a value.
 */
function optionWords(section: SectionSpec, words: readonly string[], obj: unknown): string[] {
  const out: string[] = [];
  for (const part of section.parts) {
    const at = part.at === "" ? obj : getPath(obj, part.at);
    for (const o of part.options) {
      if (o.ntpConf === null || !words.includes(o.ntpConf)) continue;
      const v = (at as Record<string, unknown> | undefined)?.[o.field];
      if (v === undefined || v === null || same(v, copyDefault(o))) continue;
      if (o.type === "flag") {
        if (v === true) out.push(o.ntpConf);
        continue;
      }
      out.push(o.ntpConf, valueText(v));
    }
  }
  return out;
}

function family(f: string): string[] {
  return f === "ipv4" ? ["-4"] : f === "ipv6" ? ["-6"] : [];
}

function line(...words: string[]): string {
  return words.filter((w) => w !== "").join(" ");
}

function sourceLines(section: SectionSpec, command: CommandSpec, sources: SourceConfig[]) {
  const words = wordsOf(section, command);
  return sources.filter((s) => s.kind === command.keyword).map((s) =>
    line(s.kind, ...family(s.family), confWord(s.address), ...optionWords(section, words, s))
  );
}

function refclockLines(section: SectionSpec, refclocks: RefclockConfig[]): string[] {
  const server = section.commands.find((c) => c.keyword === "server");
  const fudge = section.commands.find((c) => c.keyword === "fudge");
  const out: string[] = [];
  for (const r of refclocks) {
    out.push(
      line("server", r.address, ...optionWords(section, server ? wordsOf(section, server) : [], r)),
    );
    const f = optionWords(section, fudge ? wordsOf(section, fudge) : [], r);
    if (f.length > 0) out.push(line("fudge", r.address, ...f));
  }
  return out;
}

function restrictLine(r: RestrictRule): string {
  const target = r.match === "default" ? "default" : r.match === "source" ? "source" : r.address;
  const mask = r.match === "address" && r.mask !== null ? ["mask", r.mask] : [];
  // A literal address implies its family; a name, `default` and `source` need it written.
  const kind = r.match === "address" ? classifyAddress(r.address).kind : "name";
  const implied = kind === "ipv4" || kind === "ipv6" || kind === "refclock";
  return line(
    "restrict",
    ...(implied ? [] : family(r.family)),
    confWord(target),
    ...mask,
    ...r.flags,
  );
}

/** Key ids, runs of three or more as ntpd's `(first ... last)` ranges. */
function keyIds(ids: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    if (j - i >= 2) out.push(`(${ids[i]} ... ${ids[j]})`);
    else for (let k = i; k <= j; k++) out.push(String(ids[k]));
    i = j + 1;
  }
  return out;
}

/** The lines of one hand-read command, or null for one this writer does not know. */
function customLines(
  config: NtpConfig,
  section: SectionSpec,
  command: CommandSpec,
): string[] | null {
  const kw = command.keyword;
  const words = wordsOf(section, command);
  if (section.id === "source") return sourceLines(section, command, config.sources);
  if (section.id === "refclock") {
    return kw === "server" ? refclockLines(section, config.refclocks) : [];
  }
  switch (kw) {
    case "includefile":
    case "autokey":
      // Nothing of its own in the model (includes are read in place; a bare `autokey` is
      // Autokey's old switch, its value is written by the value form).
      return kw === "autokey" && config.auth.autokeyLog2 !== null
        ? [line("autokey", String(config.auth.autokeyLog2))]
        : [];
    case "restrict":
      return config.restrict.map(restrictLine);
    case "interface":
      return config.interfaces.map((r) => line("interface", r.action, confWord(r.match)));
    case "nic":
      return [];
    case "broadcastclient":
      return config.broadcast.client
        ? [line(kw, ...optionWords(section, words.filter((w) => w !== kw), config.broadcast))]
        : [];
    case "multicastclient":
    case "manycastserver": {
      const list = kw === "multicastclient"
        ? config.broadcast.multicastClient
        : config.broadcast.manycastServer;
      return list.length > 0 ? [line(kw, ...list.map(confWord))] : [];
    }
    case "trustedkey":
      return config.auth.trustedKeys.length > 0
        ? [line(kw, ...keyIds(config.auth.trustedKeys))]
        : [];
    case "crypto":
      return config.auth.crypto.enabled
        ? [line(kw, ...optionWords(section, words, config.auth.crypto))]
        : [];
    case "filegen":
      return config.stats.filegens.map((g) =>
        line(
          "filegen",
          g.name,
          "file",
          confWord(g.file),
          "type",
          g.type,
          g.link ? "link" : "nolink",
        )
      );
    case "enable":
    case "disable": {
      const on = kw === "enable";
      const flags: string[] = [];
      for (const part of section.parts) {
        for (const o of part.options) {
          const v = getPath(config, joinPath(section.model, part.at, o.field));
          if (v === on && !same(v, copyDefault(o))) flags.push(o.ntpConf ?? o.field);
        }
      }
      return flags.length > 0 ? [line(kw, ...flags)] : [];
    }
    case "setvar":
      return config.setvar.map((v) =>
        line("setvar", confWord(v.name), "=", confWord(v.value), v.isDefault ? "default" : "")
      );
    case "trap":
      return config.traps.map((t) =>
        line("trap", confWord(t.address), ...optionWords(section, words, t))
      );
  }
  return null;
}

/**
 * Writes the configuration as ntp.conf text that the ntp.conf reader reads back to the same
 * model. Throws for a command of the spec this writer does not know (a test walks every one).
 */
export function writeNtpConf(config: NtpConfig, options: NtpConfWriteOptions = {}): string {
  const spec = options.spec ?? CONFIG_SPEC;
  const out: string[] = (options.banner ?? []).map((b) => `# ${b}`);
  for (const section of spec.sections) {
    const lines: string[] = [];
    for (const command of section.commands) {
      switch (command.form) {
        case "value":
        case "list": {
          const word = wordsOf(section, command)[0] ?? command.keyword;
          const part = section.parts.find((p) => p.options.some((o) => o.ntpConf === word));
          const o = part?.options.find((x) => x.ntpConf === word);
          if (part === undefined || o === undefined) break;
          const v = getPath(config, joinPath(section.model, part.at, o.field));
          if (v === null || v === undefined || same(v, copyDefault(o))) break;
          if (Array.isArray(v) && v.length === 0) break;
          lines.push(line(command.keyword, valueText(v)));
          break;
        }
        case "options": {
          const ws = optionWords(
            section,
            wordsOf(section, command),
            getPath(config, section.model),
          );
          if (ws.length > 0) lines.push(line(command.keyword, ...ws));
          break;
        }
        case "custom": {
          const got = customLines(config, section, command);
          if (got === null) {
            throw new Error(`ntp.conf writer: no way to write "${command.keyword}"`);
          }
          lines.push(...got);
        }
      }
    }
    if (lines.length > 0) out.push("", `# ${section.title}`, ...lines);
  }
  return `${out.join("\n").replace(/^\n/, "")}\n`;
}
