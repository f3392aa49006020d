// The reference clock driver table, keyed by type number (ntpd's refclock_conf). A type that is
// not in it gets a warning from the daemon and is skipped.

import type { RefclockConfig, RefclockDriver, RefclockDriverEntry } from "./driver.ts";
import { LOCAL_DRIVER } from "./local.ts";
import { SHM_DRIVER } from "./shm.ts";
import { NMEA_DRIVER } from "./nmea.ts";
import { PPS_DRIVER } from "./pps.ts";
import { GPSD_JSON_DRIVER } from "./gpsd_json.ts";

/** The drivers Horae has, by type number. */
export const REFCLOCK_DRIVERS: ReadonlyMap<number, RefclockDriverEntry> = new Map(
  [LOCAL_DRIVER, NMEA_DRIVER, PPS_DRIVER, SHM_DRIVER, GPSD_JSON_DRIVER].map((e) => [e.type, e]),
);

/** What making a driver gave. */
export type CreateRefclockResult =
  | { ok: true; driver: RefclockDriver }
  | { ok: false; reason: string };

/** Makes the driver `config` names from `table`; never throws. */
export function createRefclock(
  config: RefclockConfig,
  table: ReadonlyMap<number, RefclockDriverEntry> = REFCLOCK_DRIVERS,
): CreateRefclockResult {
  const where = `127.127.${config.type}.${config.unit}`;
  const entry = table.get(config.type);
  if (entry === undefined) {
    return { ok: false, reason: `${where}: driver type ${config.type} is not built in Horae` };
  }
  try {
    return { ok: true, driver: entry.create(config) };
  } catch (e) {
    return { ok: false, reason: `${where}: ${entry.name}: ${(e as Error).message}` };
  }
}
