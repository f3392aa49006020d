// The leap-seconds file (`leapfile`): the NIST/IERS leap-seconds.list read once at start, its
// SHA-1 checked, for the core's leap second handling (ntpd 4.2.x `leapfile`).

import { readBoundedTextFile } from "../config/read_bounded_text_file.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import type { Logger } from "../log/logger.ts";
import { type LeapSecondTable, ntpTimeOfSec, parseLeapSecondsList } from "../proto/leap_seconds.ts";
import { isoTime } from "./status_file.ts";

/** Largest leap-seconds file read (the IERS/IETF list is about 10 KB). */
export const MAX_LEAP_FILE_BYTES = 1 << 20;

/**
 * Reads and checks the leap-seconds file at `path`; logs what it loaded, or why it is not used
 * (then null). Bounded, regular files only: a FIFO or /proc file named here must not hang or
 * bloat the daemon.
 */
export async function readLeapFile(path: string, log: Logger): Promise<LeapSecondTable | null> {
  const read = await readBoundedTextFile(path, MAX_LEAP_FILE_BYTES);
  if (!read.ok) {
    log.error(`leapsecond file ('${path}'): ${read.reason}`);
    return null;
  }
  const r = parseLeapSecondsList(read.text, {
    name: path,
    // SHA-1 in TypeScript: a 10 KB file hashed once, where node:crypto would stay resident (5-6 MB).
    sha1: (data) => {
      const d = new Uint8Array(20);
      new PureCrypto().macContext("SHA1", new Uint8Array(0)).compute(
        data,
        0,
        data.length,
        d,
        0,
        20,
      );
      return d;
    },
  });
  if (!r.ok) {
    log.error(`leapsecond file ('${path}'): ${r.reason}; not used`);
    return null;
  }
  const last = r.table.entries[r.table.entries.length - 1];
  log.info(
    `leapsecond file ('${path}'): loaded, expires ${isoTime(ntpTimeOfSec(r.table.expiresNtpSec))}` +
      (last !== undefined ? `, TAI-UTC ${last.taiOffsetSec} s` : ""),
  );
  return r.table;
}
