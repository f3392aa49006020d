// ntpd's `logconfig` message classes (clock, peer, sys, sync) and which event goes to which, so
// operators can silence e.g. per-peer chatter exactly as with ntpd 4.2.x.

import { PeerEvent, SystemEvent } from "../proto/events.ts";

/** ntpd's message classes. */
export type LogClass = "clock" | "peer" | "sys" | "sync";

/** Every class. */
export const LOG_CLASSES: readonly LogClass[] = ["clock", "peer", "sys", "sync"];

/**
 * Parses `logconfig` tokens ("=syncall", "+clockall", "-peerinfo", "all") into the enabled
 * classes. A class's sub-kinds (info, events, status, statistics) all map to the class.
 * `=` sets, `+` adds, `-` removes; a first token without a prefix sets. No tokens: all classes.
 * Unknown tokens are returned so the caller can warn; they change nothing.
 */
export function parseLogConfig(tokens: readonly string[]): {
  classes: Set<LogClass>;
  unknown: string[];
} {
  const classes = new Set<LogClass>(LOG_CLASSES);
  const unknown: string[] = [];
  tokens.forEach((token, i) => {
    let op = token[0];
    let body = token.slice(1);
    if (op !== "=" && op !== "+" && op !== "-") {
      op = i === 0 ? "=" : "+";
      body = token;
    }
    const name = body.toLowerCase();
    let which: LogClass[];
    if (name === "all" || name === "allall") which = [...LOG_CLASSES];
    else {
      const cls = LOG_CLASSES.find((c) => name.startsWith(c));
      const rest = cls === undefined ? "" : name.slice(cls.length);
      if (cls === undefined || !["all", "info", "events", "status", "statistics"].includes(rest)) {
        unknown.push(token);
        return;
      }
      which = [cls];
    }
    if (op === "=") classes.clear();
    for (const c of which) {
      if (op === "-") classes.delete(c);
      else classes.add(c);
    }
  });
  return { classes, unknown };
}

/** The class of a core event (ntpd files clock steps under clock, selection under sync). */
export function eventClass(scope: "peer" | "system", code: number): LogClass {
  if (scope === "peer") return code === PeerEvent.NEWPEER ? "sync" : "peer";
  switch (code) {
    case SystemEvent.SYNC:
    case SystemEvent.NOPEER:
      return "sync";
    case SystemEvent.CLOCKRESET:
    case SystemEvent.SPIK:
    case SystemEvent.FREQ:
    case SystemEvent.KERN:
      return "clock";
    default:
      return "sys";
  }
}
