// The daemon's NTS NTP server (RFC 8915 §5–6): the cookie master keys (from `nts cookie FILE`,
// rotated on schedule, or kept in memory without one), the main thread's NtsServer for the packet
// path, and the keys relayed to the server threads, which answer NTS requests themselves. That
// was measured against handing NTS requests to the main thread (nts_loadgen, 4 sockets, a loaded
// 2-core machine): 2 threads answering themselves gave 10,100–11,100 replies/s, 2 threads handing
// over 5,500–6,400 (below 1 thread alone, 9,100): an NTS request costs ~40–100 µs of AEAD work,
// which the hand-over piles onto the main thread, plus a postMessage each way (~40–200 µs).
// The NTS-KE server makes its cookies through `keys`.

import type { Logger } from "../log/logger.ts";
import type { Crypto } from "../proto/crypto.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { NtsServer } from "../proto/nts/nts_server.ts";
import { CryptoRng } from "./crypto_rng.ts";
import {
  CookieKeyFile,
  type CookieKeyFileOptions,
  type CookieKeyTarget,
} from "./nts_cookie_keys.ts";

/** What `query` and the status file show of the NTS NTP server. */
export interface NtsNtpServerStatus {
  /** The key file, or null (keys in memory). */
  cookieFile: string | null;
  /** Master keys are loaded: cookies can be made and opened. */
  ready: boolean;
  /** The id new cookies are made under (-1 before any). */
  currentKeyId: number;
  /** How many master keys open cookies. */
  keys: number;
  /** The last failure to read or rotate the keys, or null. */
  error: string | null;
}

/** The NTS NTP server's keys and the main thread's request handler. */
export class NtsNtpServer {
  /** The master keys (the NTS-KE server's CookieMaker too). */
  readonly keys: NtsServerKeys;
  /** The main thread's NTS request handler (PacketPath.setNts). */
  readonly server: NtsServer;
  readonly #file: CookieKeyFile;
  readonly #cookieFile: string | null;
  readonly #log: Logger;
  #error: string | null = null;

  constructor(
    options: Omit<CookieKeyFileOptions, "path"> & { cookieFile: string | null },
    crypto: Crypto,
    log: Logger,
  ) {
    this.keys = new NtsServerKeys(crypto, new CryptoRng());
    this.server = new NtsServer(this.keys, crypto, new CryptoRng());
    this.#cookieFile = options.cookieFile;
    this.#log = log;
    const { cookieFile, ...rest } = options;
    this.#file = new CookieKeyFile({ ...rest, path: cookieFile }, [this.keys], log);
  }

  /**
   * Loads (or creates) the keys and starts the rotation timer. A damaged or unreadable key file is
   * logged and leaves the server without keys (NTS requests get NAKs, KE answers refusals) until
   * a later refresh succeeds.
   */
  async start(): Promise<void> {
    await this.refresh();
    this.#file.start();
  }

  /** Reads or rotates the keys now. */
  async refresh(): Promise<void> {
    try {
      await this.#file.refresh();
      this.#error = null;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.#error) this.#log.error(`NTS cookie keys: ${msg}`);
      this.#error = msg;
    }
  }

  /** Also feeds `target` (the server threads) with every key change. */
  addTarget(target: CookieKeyTarget): void {
    this.#file.addTarget(target);
  }

  /** Stops the rotation timer. */
  stop(): void {
    this.#file.stop();
  }

  /** State for the status file and `query`. */
  status(): NtsNtpServerStatus {
    return {
      cookieFile: this.#cookieFile,
      ready: this.keys.ready,
      currentKeyId: this.keys.currentKeyId,
      keys: this.keys.keyIds.length,
      error: this.#error,
    };
  }
}
