// Shared by the client interop tests (client_test.ts, client_liar_test.ts, one module each so
// that they run in parallel): chronyd -x servers on 127.0.0.x port 123 inside a network namespace
// and an observing Horae there. Every process runs without CAP_SYS_TIME.

import {
  type Proc,
  type RunningHorae,
  startChronydServer,
  startHorae,
  waitForJson,
} from "../support/peers.ts";

/** A status file document. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** Servers of the tests: chronyd on 127.0.0.2, .3 and .4, port 123. */
export const GOOD = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
/** Poll options of every server line. */
export const POLL = "iburst minpoll 4 maxpoll 4";
/** Why the tests need root. */
export const NETNS = "a network namespace";

/** Polls Horae's status file until `pred` holds; returns that status or throws with the last. */
export function waitStatus(
  path: string,
  pred: (s: Json) => boolean,
  timeoutMs: number,
  horae: Proc,
): Promise<Json> {
  return waitForJson<Json>(path, pred, timeoutMs, horae);
}

/** Starts chronyd -x servers on `addresses` (port 123) inside `ns`; returns a stopper. */
export async function startServers(
  chronyd: string,
  ns: string,
  addresses: string[],
  wrapper?: string[],
): Promise<() => Promise<void>> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    for (const a of addresses) {
      started.push(
        await startChronydServer(chronyd, {
          port: 123,
          bindAddress: a,
          netns: ns,
          ...(wrapper ? { wrapper } : {}),
        }),
      );
    }
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()));
    throw e;
  }
  return async () => void await Promise.all(started.map((s) => s.stop()));
}

/** An ntp.conf with one `server` line per address, then `extra`. */
export function horaeConf(servers: string[], extra = ""): string {
  return servers.map((s) => `server ${s} ${POLL}`).join("\n") + `\n${extra}`;
}

/** Starts Horae observe-only on port 123 in `ns`, writing status.json in its folder. */
export function startObservingHorae(
  ns: string,
  conf: string,
  args: string[] = [],
): Promise<RunningHorae> {
  return startHorae({
    conf,
    port: 123,
    netns: ns,
    args: ["--observe", "--status-file", "status.json", ...args],
  });
}
