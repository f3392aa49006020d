// "Nothing configured passes silently": every configured option that the spec marks as not
// applied by the daemon becomes a warning naming what will not happen, located at the line (or
// TOML key) that configured it. Shared by both readers, so `check` and the daemon's start agree.

import {
  type CommandSpec,
  type ConfigSpec,
  type OptionSpec,
  type SectionSpec,
  wordsOf,
} from "../proto/options/option_spec.ts";
import type { NtpConfig } from "./config_model.ts";
import { getPath, joinPath } from "./model_path.ts";

/** The diagnostic code of these warnings. */
export const NOT_APPLIED_CODE = "not-applied";

/** A configured value the daemon does not act on, at its model path. */
export interface NotAppliedIssue {
  /** Model path of what configured it ("restrict.2", "tos.cohort", "sources.0.key"). */
  path: string;
  message: string;
}

/** Which syntax names things in messages. */
export type Spelling = "ntp.conf" | "toml";

/** The one wording of a not-applied warning: `"NAME" is parsed but not applied: TEXT`. */
export function notAppliedMessage(name: string, text: string): string {
  return `"${name}" is parsed but not applied: ${text}`;
}

/**
 * True when a configured value asks for nothing: not set, an empty list, something turned off
 * (`disable monitor` is what Horae does anyway) or a number at its default (`tos cohort 0`).
 * Anything else configured is reported, a switch turned on even when ntpd's default says the
 * same (`enable auth` relies on authentication, which Horae lacks).
 */
function asksNothing(o: OptionSpec, v: unknown): boolean {
  return v === null || v === undefined || (Array.isArray(v) && v.length === 0) ||
    ((o.type === "flag" || o.type === "bool") && v === false) ||
    (typeof v === "number" && v === o.default);
}

/** The command of a section that sets an element (the source kind's, or the first). */
function commandOf(s: SectionSpec, el: Record<string, unknown>): CommandSpec | undefined {
  if (s.id === "source") return s.commands.find((c) => c.keyword === el.kind);
  return s.commands[0];
}

/**
 * Every not-applied warning for `config`. `configured(path)` says whether the file set the value
 * at that model path, so that defaults the user never wrote stay quiet.
 */
export function notAppliedIssues(
  config: NtpConfig,
  configured: (path: string) => boolean,
  spelling: Spelling,
  spec: ConfigSpec,
  /** The keyword as written for the command at a path, when an alias was used (`hop`, `nic`). */
  spelledAs: (path: string) => string | undefined = () => undefined,
): NotAppliedIssue[] {
  const out: NotAppliedIssue[] = [];
  for (const s of spec.sections) {
    if (s.array) {
      const list = getPath(config, s.model);
      if (!Array.isArray(list)) continue;
      list.forEach((el: Record<string, unknown>, i) => {
        const base = joinPath(s.model, i);
        if (!configured(base)) return;
        const cmd = commandOf(s, el);
        const whole = spelling === "toml"
          ? `[[${s.toml}]]`
          : spelledAs(base) ?? cmd?.keyword ?? s.id;
        if (cmd !== undefined && cmd.applied !== true) {
          out.push({ path: base, message: notAppliedMessage(whole, cmd.applied) });
          return;
        }
        const element = s.elementApplied?.(el) ?? true;
        if (element !== true) {
          out.push({ path: base, message: notAppliedMessage(whole, element) });
          return;
        }
        for (const part of s.parts) {
          for (const o of part.options) {
            if (o.applied === true) continue;
            const path = joinPath(base, part.at, o.field);
            if (!configured(path) || asksNothing(o, getPath(el, joinPath(part.at, o.field)))) {
              continue;
            }
            const name = spelling === "toml" ? `${s.toml}.${o.toml}` : o.ntpConf ?? o.field;
            out.push({ path, message: notAppliedMessage(name, o.applied) });
          }
        }
      });
      continue;
    }
    const covered = new Set<OptionSpec>();
    for (const cmd of s.commands) {
      // Each option is checked under the first command that takes it (enable, not disable).
      const opts = wordsOf(s, cmd).flatMap((w) =>
        s.parts.flatMap((part) =>
          part.options.filter((o) => o.ntpConf === w && !covered.has(o)).map((o) => ({ part, o }))
        )
      );
      for (const { o } of opts) covered.add(o);
      const set = opts.filter(({ part, o }) => {
        const path = joinPath(s.model, part.at, o.field);
        return configured(path) && !asksNothing(o, getPath(config, path));
      });
      if (set.length === 0) continue;
      if (cmd.applied !== true) {
        const first = set[0] as (typeof set)[number];
        const path = cmd.form === "options" && s.model !== ""
          ? s.model
          : joinPath(s.model, first.part.at, first.o.field);
        const name = spelling === "toml"
          ? (cmd.form === "options" ? `[${s.toml}]` : `${s.toml}.${first.o.toml}`)
          : spelledAs(path) ?? cmd.keyword;
        out.push({ path, message: notAppliedMessage(name, cmd.applied) });
        continue;
      }
      for (const { part, o } of set) {
        if (o.applied === true) continue;
        const path = joinPath(s.model, part.at, o.field);
        const value = getPath(config, path);
        const name = spelling === "toml"
          ? `${s.toml}.${o.toml}`
          : s.id === "system"
          ? `${value === true ? "enable" : "disable"} ${o.ntpConf}`
          : cmd.form === "options" || (cmd.form === "custom" && cmd.keyword !== o.ntpConf)
          ? `${cmd.keyword} ${o.ntpConf}`
          : cmd.keyword;
        out.push({ path, message: notAppliedMessage(name, o.applied) });
      }
    }
    // Options no command takes (TOML-only ones) are checked on their own.
    for (const part of s.parts) {
      for (const o of part.options) {
        if (covered.has(o) || o.applied === true) continue;
        const path = joinPath(s.model, part.at, o.field);
        if (!configured(path) || asksNothing(o, getPath(config, path))) continue;
        out.push({ path, message: notAppliedMessage(`${s.toml}.${o.toml}`, o.applied) });
      }
    }
  }
  return out;
}
