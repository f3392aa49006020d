// Comments carried from an ntp.conf file to its TOML translation: which comment lines belong to
// which configuration element, so that `horae convert` can keep them next to the right setting.

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
export type CommentGroup =
  | "daemon"
  | "sources"
  | "access"
  | "auth"
  | "stats"
  | "refclocks"
  | "tuning";

const KEY_GROUPS: [string, CommentGroup][] = [
  ["files", "daemon"],
  ["logConfig", "daemon"],
  ["sources", "sources"],
  ["broadcast", "sources"],
  ["restrict", "access"],
  ["discard", "access"],
  ["interfaces", "access"],
  ["auth", "auth"],
  ["stats", "stats"],
  ["traps", "stats"],
  ["setvar", "stats"],
  ["refclocks", "refclocks"],
  ["phone", "refclocks"],
  ["callDelaySec", "refclocks"],
  ["tos", "tuning"],
  ["tinker", "tuning"],
  ["system", "tuning"],
  ["mru", "tuning"],
  ["rlimit", "tuning"],
];

/** The group of an element key such as "restrict.3". */
export function groupOfKey(key: string): CommentGroup | null {
  const head = key.split(".")[0];
  return KEY_GROUPS.find(([k]) => k === head)?.[1] ?? null;
}

const KEYWORD_GROUPS: Record<string, CommentGroup> = {
  driftfile: "daemon",
  leapfile: "daemon",
  pidfile: "daemon",
  logfile: "daemon",
  logconfig: "daemon",
  saveconfigdir: "daemon",
  server: "sources",
  peer: "sources",
  pool: "sources",
  broadcast: "sources",
  manycastclient: "sources",
  broadcastclient: "sources",
  multicastclient: "sources",
  manycastserver: "sources",
  ttl: "sources",
  broadcastdelay: "sources",
  restrict: "access",
  discard: "access",
  interface: "access",
  nic: "access",
  keys: "auth",
  keysdir: "auth",
  trustedkey: "auth",
  requestkey: "auth",
  controlkey: "auth",
  autokey: "auth",
  revoke: "auth",
  crypto: "auth",
  statistics: "stats",
  statsdir: "stats",
  filegen: "stats",
  trap: "stats",
  setvar: "stats",
  fudge: "refclocks",
  phone: "refclocks",
  calldelay: "refclocks",
  tos: "tuning",
  tinker: "tuning",
  enable: "tuning",
  disable: "tuning",
};

/**
 * The group of a commented-out command in a comment line ("#server 127.127.1.0" → refclocks),
 * or null when the comment is prose.
 */
export function groupOfCommentedCommand(comment: string): CommentGroup | null {
  const words = comment.trim().split(/\s+/);
  const kw = (words[0] ?? "").toLowerCase();
  const group = Object.hasOwn(KEYWORD_GROUPS, kw) ? KEYWORD_GROUPS[kw] : undefined;
  if (group === undefined || words.length < 2) return null;
  if (group === "sources" && /^127\.127\./.test(words[1] ?? "")) return "refclocks";
  return group;
}
