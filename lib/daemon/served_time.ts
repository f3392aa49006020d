// What the daemon's replies carry: the timekeeping core's system variables when it is
// synchronised and no worse than a reference clock, else the best reference clock's, else
// "unsynchronised"; set on the main thread's Server and published to the server threads.

import type { VirtualCorrectionModel } from "../clock/virtual_clock.ts";
import type { Logger } from "../log/logger.ts";
import { type Server, type SystemState, unsynchronisedState } from "../proto/server.ts";
import type { RefclockTime } from "./refclock_host.ts";
import type { SharedServedState } from "./served_state.ts";

/** Where the served time comes from. */
export type ServedSource = "network" | "refclock" | "none";

/** The choice of served time. */
export class ServedTime {
  readonly #server: Server;
  readonly #log: Logger;
  readonly #precisionLog2: number;
  #shared: SharedServedState | null = null;
  #virtual: (() => VirtualCorrectionModel | null) | null = null;
  #source: ServedSource = "none";

  /** Serves through `server` (the main thread's). */
  constructor(server: Server, log: Logger, precisionLog2: number) {
    this.#server = server;
    this.#log = log;
    this.#precisionLog2 = precisionLog2;
  }

  /** Where the served time comes from now. */
  get source(): ServedSource {
    return this.#source;
  }

  /** What replies carry now. */
  get state(): SystemState {
    return this.#server.state;
  }

  /**
   * Also publishes every choice to server threads through `shared`, with observe mode's clock
   * correction (`virtual`) when replies are on the virtual clock.
   */
  share(shared: SharedServedState, virtual: (() => VirtualCorrectionModel | null) | null): void {
    this.#shared = shared;
    this.#virtual = virtual;
    this.publish();
  }

  /** Chooses between the core's state and the reference clock's (either may be null). */
  update(core: SystemState | null, local: RefclockTime | null): void {
    let state: SystemState | null = core;
    let source: ServedSource = core === null ? "none" : "network";
    if (local !== null && (core === null || core.stratum > local.state.stratum)) {
      state = local.state;
      source = "refclock";
    }
    if (source === "refclock" && this.#source !== "refclock") {
      this.#log.info(`synchronized to ${local!.name}, stratum ${local!.state.stratum - 1}`);
    }
    this.#source = source;
    this.#server.setState(state ?? unsynchronisedState(this.#precisionLog2));
    this.publish();
  }

  /** Shares the current state (and the virtual clock's correction) with the server threads. */
  publish(): void {
    this.#shared?.publish(this.#server.state, this.#virtual?.() ?? null);
  }
}
