// Comments carried from an ntp.conf file to its TOML translation: which comment lines belong to
// which configuration element, so that `horae convert` can keep them next to the right setting.
// The groups come from the option spec's sections.

import type { SectionGroup } from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";

/** Comments collected while reading a file, keyed by the element they precede. */
export interface ConfigComments {
  /** The file's opening comment block (printed at the top of the TOML file). */
  header: string[];
  /**
   * Comments per element key: "sources.3", "refclocks.0", "restrict.2", "tos", "tinker",
   * "files.driftFile", "stats.enabled", ... (the model path of the element, see `commentKey`).
   */
  byKey: Map<string, string[]>;
  /** Comments to print after an element (a loose comment block that belongs with it). */
  after: Map<string, string[]>;
  /** Lines that could not be translated, as `# not translated: <line>` comment text. */
  dropped: string[];
  /** Comments after the last command of the file. */
  trailer: string[];
  /**
   * Model paths the file set explicitly ("discard.averageLog2", "sources.0.version"), so that the
   * writer keeps a setting the user wrote even when it equals the default.
   */
  explicit: Set<string>;
}

/** An empty comment collection. */
export function emptyComments(): ConfigComments {
  return {
    header: [],
    byKey: new Map(),
    after: new Map(),
    dropped: [],
    trailer: [],
    explicit: new Set(),
  };
}

/** Appends comment lines to the element `key`. */
export function addComments(
  comments: ConfigComments,
  key: string,
  lines: readonly string[],
  where: "before" | "after" = "before",
): void {
  if (lines.length === 0) return;
  const map = where === "before" ? comments.byKey : comments.after;
  const list = map.get(key);
  if (list) list.push(...lines);
  else map.set(key, [...lines]);
}

/** Which group of the TOML file an element key (or an ntp.conf keyword) belongs to. */
export type CommentGroup = SectionGroup;

/** First segment of a model path → group, from the spec's sections. */
const KEY_GROUPS = new Map<string, CommentGroup>();
/** ntp.conf keyword → group (the first section that has the keyword wins). */
const KEYWORD_GROUPS = new Map<string, CommentGroup>();
for (const s of CONFIG_SPEC.sections) {
  const heads = s.model !== ""
    ? [s.model.split(".")[0] as string]
    : s.parts.flatMap((p) => p.at !== "" ? [p.at] : p.options.map((o) => o.field));
  for (const h of heads) if (!KEY_GROUPS.has(h)) KEY_GROUPS.set(h, s.group);
  for (const c of s.commands) {
    for (const k of [c.keyword, ...(c.aliases ?? [])]) {
      if (!KEYWORD_GROUPS.has(k)) KEYWORD_GROUPS.set(k, s.group);
    }
  }
}

/** The group of an element key such as "restrict.3". */
export function groupOfKey(key: string): CommentGroup | null {
  return KEY_GROUPS.get(key.split(".")[0] ?? "") ?? null;
}

/**
 * The group of a commented-out command in a comment line ("#server 127.127.1.0" → refclocks),
 * or null when the comment is prose.
 */
export function groupOfCommentedCommand(comment: string): CommentGroup | null {
  const words = comment.trim().split(/\s+/);
  const kw = (words[0] ?? "").toLowerCase();
  const group = KEYWORD_GROUPS.get(kw);
  if (group === undefined || words.length < 2) return null;
  if (group === "sources" && /^127\.127\./.test(words[1] ?? "")) return "refclocks";
  return group;
}
