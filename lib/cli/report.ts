// deno-lint-ignore-file no-console -- lib/cli is where output goes to the terminal.
// `horae report STATSDIR -o report.html`: plots a statistics folder (loopstats, peerstats) into
// one self-contained HTML page, in the spirit of NTPsec's ntpviz. Streaming: a year of daily
// files is read in bounded memory (lib/stats/report_data.ts).

import { parseArgs } from "node:util";
import { collectReport } from "../stats/report_data.ts";
import { renderReport } from "../stats/report_html.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

const REPORT_OPTIONS = {
  output: { type: "string", short: "o" },
  from: { type: "string" },
  to: { type: "string" },
  last: { type: "string" },
  peer: { type: "string", multiple: true },
  title: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** `horae report --help`. */
export const REPORT_HELP: string = helpText(
  `usage: horae report STATSDIR -o FILE [--from TIME] [--to TIME] [--last SPAN]
                    [--peer ADDRESS ...] [--title TEXT]`,
  optionHelp(REPORT_OPTIONS, {
    output: ["FILE", 'the HTML page to write ("-": standard output)'],
    from: ["TIME", "start of the span: 2026-03-01, 2026-03-01T12:00Z or Unix seconds"],
    to: ["TIME", "end of the span (default: the last line)"],
    last: ["SPAN", "only the last SPAN before the end: 90m, 36h, 7d, 4w"],
    peer: ["ADDRESS", "only this source (repeatable, or comma-separated)"],
    title: ["TEXT", "the page's title"],
    help: ["", "print this help and exit"],
  }),
  "Reads loopstats* and peerstats* in STATSDIR (gzip-compressed members too).\n",
);

/** Reads a time: a date (UTC midnight), an ISO 8601 date and time, or Unix seconds. */
export function parseTime(text: string): number | null {
  if (/^\d{9,11}(\.\d+)?$/.test(text)) return Number(text);
  const date = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(date)) return null;
  const withZone = /(Z|[+-]\d{2}:?\d{2})$/.test(date) ? date : `${date}Z`;
  const ms = Date.parse(withZone);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/** Reads a span: a number with s, m, h, d or w. */
export function parseSpan(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (m === null) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[m[2] as "s" | "m" | "h" | "d" | "w"];
  const v = Number(m[1]) * unit;
  return v > 0 ? v : null;
}

/**
 * Runs `horae report` with `args`; resolves to the exit code (0, 1 when the folder cannot be
 * read or the page written, 2 for usage errors).
 */
export async function runReport(
  args: string[],
  out: (text: string) => void = (t) => void Deno.stdout.writeSync(new TextEncoder().encode(t)),
  err: (line: string) => void = (l) => console.error(l),
): Promise<number> {
  const usage = (m: string) => err(usageError("horae report", m).trimEnd());
  let parsed;
  try {
    parsed = parseArgs({ args, options: REPORT_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    usage(parseArgsMessage(e, longOptions(REPORT_OPTIONS)));
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    out(REPORT_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    usage(parsed.positionals.length === 0 ? "STATSDIR is required" : "one STATSDIR only");
    return 2;
  }
  if (v.output === undefined) {
    usage("-o FILE is required");
    return 2;
  }
  const dir = parsed.positionals[0]!;
  const times: Record<"from" | "to", number | null> = { from: null, to: null };
  for (const k of ["from", "to"] as const) {
    const text = v[k];
    if (text === undefined) continue;
    const t = parseTime(text);
    if (t === null) {
      usage(`--${k}: "${text}" is not a time (2026-03-01, 2026-03-01T12:00Z or Unix seconds)`);
      return 2;
    }
    times[k] = t;
  }
  let lastSec: number | null = null;
  if (v.last !== undefined) {
    lastSec = parseSpan(v.last);
    if (lastSec === null) {
      usage(`--last: "${v.last}" is not a span (such as 90m, 36h, 7d, 4w)`);
      return 2;
    }
  }
  if (times.from !== null && times.to !== null && times.to <= times.from) {
    usage("--to must be later than --from");
    return 2;
  }
  const peers = (v.peer ?? []).flatMap((p) => p.split(",")).map((p) => p.trim()).filter((p) =>
    p !== ""
  );
  try {
    if (!(await Deno.stat(dir)).isDirectory) {
      err(`horae report: ${dir} is not a folder`);
      return 1;
    }
  } catch (e) {
    err(`horae report: ${dir}: ${(e as Error).message}`);
    return 1;
  }
  let html: string;
  try {
    const data = await collectReport(dir, {
      fromSec: times.from,
      toSec: times.to,
      lastSec,
      peers,
    });
    if (data.fromSec === null) err(`horae report: no loopstats or peerstats lines in ${dir}`);
    if (peers.length > 0) {
      const seen = new Set(data.peers.map((p) => p.address));
      for (const p of peers) if (!seen.has(p)) err(`horae report: no peerstats lines of ${p}`);
    }
    html = renderReport(data, {
      ...(v.title !== undefined ? { title: v.title } : {}),
      generatedSec: Date.now() / 1000,
    });
  } catch (e) {
    err(`horae report: cannot read ${dir}: ${(e as Error).message}`);
    return 1;
  }
  if (v.output === "-") {
    out(html);
    return 0;
  }
  try {
    await Deno.writeTextFile(v.output, html);
  } catch (e) {
    err(`horae report: cannot write ${v.output}: ${(e as Error).message}`);
    return 1;
  }
  return 0;
}
