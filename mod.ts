/**
 * Horae as a library: the NTP protocol core with no I/O of its own. Drive it with your own
 * {@link Clock} and {@link Transport} (the simulator, `horae sim`, is its first such user).
 *
 * - Time: exact era-aware NTP timestamps ({@link fromUnix}, {@link diffSec}, …).
 * - Packets: {@link decodePacket} (never throws) and {@link encodePacket}.
 * - Server mode: {@link Server} answers client requests from a {@link SystemState}.
 * - Client mode: {@link NtpSystem} runs associations, selection and the clock discipline;
 *   feed it packets and timer ticks, apply the {@link Action}s it returns.
 * - Configuration: {@link loadConfigText} reads ntp.conf or TOML into one {@link NtpConfig}.
 *
 * @example Answer one request with the server core
 * ```ts
 * import { fromUnix, Server, unsynchronisedState } from "./mod.ts";
 *
 * const server = new Server({ ...unsynchronisedState(-20), leap: 0, stratum: 2 });
 * const request = new Uint8Array(48);
 * request[0] = 0x23; // version 4, mode 3 (client)
 * request[47] = 1; // a non-zero transmit timestamp
 * const reply = new Uint8Array(48);
 * const length = server.respond(request, fromUnix(1_800_000_000), reply);
 * console.log(length, reply[0]! & 7); // 48 4
 * ```
 *
 * @example Keep time: the core returns actions, the caller performs them
 * ```ts
 * import { fromUnix, NtpSystem, SeededRng } from "./mod.ts";
 *
 * const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(1) });
 * const now = fromUnix(1_800_000_000);
 * sys.addServer({ family: 4, address: "192.0.2.1", port: 123 }, { iburst: true }, now);
 * for (const action of sys.start(now)) {
 *   if (action.type === "send") console.log("send", action.data.length, "bytes to", action.to.address);
 *   if (action.type === "setTimer") console.log("call onTimer() at", action.at);
 * }
 * ```
 * @module
 */

export {
  addSec,
  diffSec,
  fromTimestamp,
  fromUnix,
  fromUnixNs,
  type NtpTime,
  type NtpTimestamp,
  toTimestamp,
  toUnix,
  toUnixNs,
} from "./lib/proto/ntp_time.ts";
export {
  decodePacket,
  type DecodeResult,
  encodePacket,
  type ExtensionField,
  kissCode,
  type Mac,
  type NtpPacket,
  refidToString,
} from "./lib/proto/packet.ts";
export { LeapIndicator, Mode } from "./lib/proto/constants.ts";
export {
  Server,
  type ServerStats,
  type SystemState,
  unsynchronisedState,
} from "./lib/proto/server.ts";
export { NtpSystem, type SystemOptions, type SystemSnapshot } from "./lib/proto/system.ts";
export type { AssociationOptions } from "./lib/proto/association.ts";
export type { Action, PeerAddress } from "./lib/proto/events.ts";
export { type Rng, SeededRng } from "./lib/proto/rng.ts";
export type { Clock, ClockAdjustment, KernelClockState } from "./lib/clock/clock.ts";
export type {
  DatagramHandler,
  ReceivedDatagram,
  ReplySlot,
  SocketAddress,
  Transport,
} from "./lib/net/transport.ts";
export type { NtpConfig } from "./lib/config/config_model.ts";
export { loadConfigText, type LoadResult } from "./lib/config/load_config.ts";
export { writeToml } from "./lib/config/toml_writer.ts";
