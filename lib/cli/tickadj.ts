// `horae tickadj` (multi-call `tickadj`, tickadj(8) of ntpd 4.2.8 as built for Linux): prints the
// kernel's `tick` (microseconds added per 1/USER_HZ s, from adjtimex) and the adjtime() slew per
// tick, and sets `tick` with ADJ_TICK (`tickadj 10001` or `-t 10001`). Setting needs CAP_SYS_TIME;
// without it the command refuses before any system call (exit 77).
//
// On Linux adjtime() always slews at 500 µs per second, so `tick_adj` is derived (500 ppm of a
// tick) and cannot be set: -a, -A and -s (dosynctodr, a SunOS variable) say so and exit 1.

import { parseArgs } from "node:util";
import { errnoName, OsError } from "../../ffi/libc.ts";
import { ADJ_TICK, type AdjtimeSyscall, emptyTimex, ntpAdjtime } from "../../ffi/timex.ts";
import { type CliIo, denoIo, EXIT_USAGE } from "./check.ts";
import { EXIT_NO_PRIVILEGE, hasSysTimeCapability, NEEDS_SYS_TIME } from "./clock_privilege.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

/** Linux's adjtime() slew rate: 500 µs per second (ppm), fixed in the kernel. */
export const LINUX_SLEW_PPM = 500;
/** Ticks per second of `tick`'s unit (USER_HZ on Linux). */
export const USER_HZ = 100;
/** The kernel accepts a tick within ±10 % of 1/USER_HZ s. */
export const TICK_MIN_US = 900_000 / USER_HZ;
/** Largest tick the kernel accepts. */
export const TICK_MAX_US = 1_100_000 / USER_HZ;

const TICKADJ_OPTIONS = {
  tick: { type: "string", short: "t" },
  tickadj: { type: "string", short: "a" },
  optimal: { type: "boolean", short: "A" },
  synctodr: { type: "boolean", short: "s" },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const TICKADJ_USAGE = "usage: horae tickadj [tick_value]\n" +
  "   or: horae tickadj [-Aqs] [-a tickadj] [-t tick]     (tickadj)";

/** `horae tickadj --help`. */
export const TICKADJ_HELP = helpText(
  TICKADJ_USAGE,
  optionHelp(TICKADJ_OPTIONS, {
    tick: ["US", `set the kernel tick (${TICK_MIN_US} .. ${TICK_MAX_US} us per 1/${USER_HZ} s)`],
    tickadj: ["US", "set the slew per tick (not possible on Linux: fixed at 500 us/s)"],
    optimal: ["", "set the slew per tick to the optimal value (not possible on Linux)"],
    synctodr: ["", "clear dosynctodr (SunOS only; not on Linux)"],
    quiet: ["", "print nothing but errors"],
    json: ["", "print tick and slew as JSON"],
    help: ["", "print this help and exit"],
  }),
  "A lone number sets the tick, as Linux's tickadj takes it. Setting needs CAP_SYS_TIME:\n" +
    "without it nothing is written and the exit status is 77.\n",
);

/** What `runTickadj` needs (tests pass a fake kernel). */
export interface TickadjEnv {
  io: CliIo;
  /** The ntp_adjtime system call (reads with modes 0; ADJ_TICK only after `canSetClock`). */
  kernel: AdjtimeSyscall;
  /** True when this process may write the kernel's tick (CAP_SYS_TIME). */
  canSetClock(): boolean;
}

/** The real environment. */
export async function denoTickadjEnv(): Promise<TickadjEnv> {
  const { libcAdjtime } = await import("../../ffi/timex.ts");
  return { io: denoIo(), kernel: libcAdjtime(), canSetClock: hasSysTimeCapability };
}

/** The slew per tick (µs) of adjtime() at Linux's fixed rate, for a tick of `tickUs`. */
export function tickAdjUs(tickUs: number): number {
  return Math.round((tickUs * LINUX_SLEW_PPM) / 1e6);
}

/** The report, as Linux's tickadj prints the tick, then the slew per tick. */
export function tickadjText(tickUs: number): string {
  return `tick = ${tickUs}\ntick_adj = ${tickAdjUs(tickUs)}\n`;
}

function parseTick(text: string): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const n = Number(text);
  return n >= TICK_MIN_US && n <= TICK_MAX_US ? n : null;
}

/** `horae tickadj` / `tickadj`: returns the exit status. */
export async function runTickadj(
  args: string[],
  program = "horae tickadj",
  env?: TickadjEnv,
): Promise<number> {
  const io = env?.io ?? denoIo();
  let parsed: ReturnType<typeof parseTickadjArgs>;
  try {
    parsed = parseTickadjArgs(args);
  } catch (e) {
    io.stderr(usageError(program, parseArgsMessage(e, longOptions(TICKADJ_OPTIONS))));
    return EXIT_USAGE;
  }
  const v = parsed.values;
  if (v.help === true) {
    io.stdout(TICKADJ_HELP);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    io.stderr(usageError(program, "takes at most one tick value"));
    return EXIT_USAGE;
  }
  const tickText = v.tick ?? parsed.positionals[0];
  if (v.tick !== undefined && parsed.positionals.length > 0) {
    io.stderr(usageError(program, "give the tick either with -t or alone, not both"));
    return EXIT_USAGE;
  }
  let tick: number | null = null;
  if (tickText !== undefined) {
    tick = parseTick(tickText);
    if (tick === null) {
      io.stderr(
        usageError(
          program,
          `tick ${JSON.stringify(tickText)} is not ${TICK_MIN_US} .. ${TICK_MAX_US} us`,
        ),
      );
      return EXIT_USAGE;
    }
  }
  if (v.tickadj !== undefined || v.optimal === true) {
    io.stderr(
      `${program}: adjtime() slews at a fixed ${LINUX_SLEW_PPM} us/s on Linux ` +
        `(tick_adj is derived from the tick); it cannot be set\n`,
    );
    return 1;
  }
  if (v.synctodr === true) {
    io.stderr(`${program}: dosynctodr is a SunOS kernel variable; Linux has none to clear\n`);
    return 1;
  }
  let e: TickadjEnv;
  try {
    e = env ?? await denoTickadjEnv();
  } catch (err) {
    io.stderr(`${program}: cannot reach the kernel clock (needs --allow-ffi): ${err}\n`);
    return 1;
  }
  let tickNow: number;
  try {
    if (tick !== null) {
      if (!e.canSetClock()) {
        io.stderr(`${program}: setting the tick ${NEEDS_SYS_TIME}\n`);
        return EXIT_NO_PRIVILEGE;
      }
      const t = emptyTimex();
      t.modes = ADJ_TICK;
      t.tick = tick;
      tickNow = ntpAdjtime(t, e.kernel).timex.tick;
    } else {
      tickNow = ntpAdjtime(emptyTimex(), e.kernel).timex.tick;
    }
  } catch (err) {
    if (err instanceof OsError && err.errno === 1) {
      io.stderr(
        `${program}: adjtimex refused to set the tick: ${errnoName(1)}; ${NEEDS_SYS_TIME}\n`,
      );
      return EXIT_NO_PRIVILEGE;
    }
    io.stderr(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (v.json === true) {
    const json = {
      tickUs: tickNow,
      tickAdjUs: tickAdjUs(tickNow),
      slewRatePpm: LINUX_SLEW_PPM,
      userHz: USER_HZ,
      changed: tick !== null,
    };
    io.stdout(`${JSON.stringify(json, null, 2)}\n`);
  } else if (v.quiet !== true) {
    io.stdout(tickadjText(tickNow));
  }
  return 0;
}

function parseTickadjArgs(args: string[]) {
  return parseArgs({ args, options: TICKADJ_OPTIONS, strict: true, allowPositionals: true });
}
