/**
 * Horae as a library: the NTP protocol core, which does no I/O of its own. You pass in the
 * datagrams and the time, it returns what to send and how to steer the clock.
 *
 * - Time: exact era-aware NTP timestamps ({@link fromUnix}, {@link diffSec}, …).
 * - Packets: {@link decodePacket} (never throws) and {@link encodePacket}.
 * - Server mode: {@link Server} answers client requests from a {@link SystemState}.
 * - Client mode: {@link createNtpClient} polls servers, selects among them and disciplines the
 *   clock; feed it packets and timer ticks, carry out the {@link Action}s it returns.
 *
 * @example Answer one request with the server core
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePacket, fromUnix, Server, unsynchronisedState } from "./mod.ts";
 *
 * const server = new Server({ ...unsynchronisedState(-20), leap: 0, stratum: 2 });
 * const request = new Uint8Array(48);
 * request[0] = 0x23; // version 4, mode 3 (client)
 * request[47] = 1; // a non-zero transmit timestamp
 * const reply = new Uint8Array(48);
 * const length = server.respond(request, fromUnix(1_800_000_000), reply);
 * const decoded = decodePacket(reply.subarray(0, length));
 * assert.ok(decoded.ok);
 * assert.equal(decoded.packet.mode, 4); // server
 * assert.equal(decoded.packet.stratum, 2);
 * ```
 *
 * @example Keep time: the client returns actions, the caller carries them out
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Action, addSec, createNtpClient, fromUnix, SeededRng, Server } from "./mod.ts";
 * import { unsynchronisedState } from "./mod.ts";
 *
 * // A stratum 1 server and a client in one process, 1 ms apart each way, on a simulated clock.
 * const server = new Server({ ...unsynchronisedState(-20), leap: 0, stratum: 1 });
 * const client = createNtpClient({ precisionLog2: -20, rng: new SeededRng(1) });
 * const peer = { family: 4, address: "192.0.2.1", port: 123 } as const;
 * let now = fromUnix(1_800_000_000);
 * let timer = now;
 * const perform = (actions: Action[]) => {
 *   for (const action of actions) {
 *     if (action.type === "setTimer") timer = action.at;
 *     if (action.type === "send") {
 *       const reply = new Uint8Array(48);
 *       const length = server.respond(action.data, addSec(now, 0.001), reply);
 *       const rxTime = addSec(now, 0.002);
 *       perform(client.onPacket({ data: reply.subarray(0, length), peer, rxTime }, rxTime));
 *     }
 *   }
 * };
 * client.addServer(peer, { iburst: true }, now);
 * perform(client.start(now));
 * for (let i = 0; i < 10 && client.snapshot(now).stratum !== 2; i++) {
 *   now = timer;
 *   perform(client.onTimer(now));
 * }
 * assert.equal(client.snapshot(now).stratum, 2); // synchronised to the stratum 1 server
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
  DECODE_ERRORS,
  type DecodeError,
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
  type ServerDropReason,
  type ServerStats,
  type SystemState,
  unsynchronisedState,
} from "./lib/proto/server.ts";
export {
  createNtpClient,
  type NtpClient,
  type NtpClientOptions,
  type ReceivedPacket,
  type ServerOptions,
} from "./lib/proto/ntp_client.ts";
export type {
  Action,
  AdjustClockAction,
  DemobilizeAction,
  EventAction,
  LoopStatsRecord,
  PeerAddress,
  PeerStatsRecord,
  RawStatsRecord,
  ResetAction,
  SendAction,
  SetStatusAction,
  SetTimerAction,
  StatsAction,
  StatsRecord,
  StepClockAction,
} from "./lib/proto/events.ts";
export { type Rng, SeededRng } from "./lib/proto/rng.ts";
