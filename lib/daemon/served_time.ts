// What the daemon's replies carry: the timekeeping core's system variables when it is
// synchronised (to a network source or a reference clock, both sources in the core), else
// "unsynchronised"; set on the main thread's Server and published to the server threads.

import type { VirtualCorrectionModel } from "../clock/virtual_clock.ts";
import type { Logger } from "../log/logger.ts";
import { type Server, type SystemState, unsynchronisedState } from "../proto/server.ts";
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

  /**
   * Serves the core's state (null: unsynchronised); `refclock` is true when its system peer is a
   * reference clock (the core logs the change of system peer itself).
   */
  update(core: SystemState | null, refclock = false): void {
    this.#source = core === null ? "none" : refclock ? "refclock" : "network";
    this.#server.setState(core ?? unsynchronisedState(this.#precisionLog2));
    this.publish();
  }

  /** Shares the current state (and the virtual clock's correction) with the server threads. */
  publish(): void {
    this.#shared?.publish(this.#server.state, this.#virtual?.() ?? null);
  }
}
