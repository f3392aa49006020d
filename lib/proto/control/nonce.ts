// Nonces for the MRU list (REQ_NONCE and READ_MRU, RFC 9327 §4; ntpd 4.2.8 and NTPsec): the
// server hands a client a nonce bound to the client's address and the time, and answers a
// READ_MRU only when it carries a nonce it made for that address less than NONCE_TIMEOUT_SEC
// ago. A spoofed source never sees the nonce, so the (large) MRU answers go only to addresses
// that asked themselves: no reflection.
//
// The nonce is 24 hex digits: the issue second (32 bits) and 64 bits of AES-128-CMAC over the
// second and the address under a secret drawn at start.

import { constantTimeEqual, type Crypto, type MacContext } from "../crypto.ts";
import type { IpWords } from "../ip.ts";
import type { Rng } from "../rng.ts";

/** A client asks for a new nonce once its nonce is this old (NTPsec's ntpq), seconds. */
export const NONCE_TIMEOUT_SEC = 16;
/**
 * Extra age the server accepts beyond {@link NONCE_TIMEOUT_SEC}: the client's clock and ours may
 * tick over at different moments, and a request takes time to arrive.
 */
export const NONCE_GRACE_SEC = 4;

const MAC_BYTES = 8;

/** Makes and checks nonces. */
export class NonceMaker {
  readonly #mac: MacContext;
  readonly #input = new Uint8Array(4 + 1 + 16);
  readonly #out = new Uint8Array(MAC_BYTES);
  readonly #theirs = new Uint8Array(MAC_BYTES);

  /** A maker with a fresh secret from `rng` (pass a cryptographic one in the daemon). */
  constructor(crypto: Crypto, rng: Rng) {
    const key = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) {
      const v = rng.nextU32();
      key[i] = v >>> 24;
      key[i + 1] = (v >>> 16) & 0xff;
      key[i + 2] = (v >>> 8) & 0xff;
      key[i + 3] = v & 0xff;
    }
    this.#mac = crypto.macContext("AES128CMAC", key);
  }

  #compute(sec: number, src: IpWords): Uint8Array {
    const b = this.#input;
    put32(b, 0, sec);
    b[4] = src.family;
    put32(b, 5, src.w0);
    put32(b, 9, src.w1);
    put32(b, 13, src.w2);
    put32(b, 17, src.w3);
    this.#mac.compute(b, 0, b.length, this.#out, 0, MAC_BYTES);
    return this.#out;
  }

  /** A nonce for `src` issued at `nowSec` (whole seconds are used). */
  make(src: IpWords, nowSec: number): string {
    const sec = Math.floor(nowSec) >>> 0;
    const mac = this.#compute(sec, src);
    let s = sec.toString(16).padStart(8, "0");
    for (const x of mac) s += x.toString(16).padStart(2, "0");
    return s;
  }

  /** True when `text` is a nonce made for `src` that is not too old at `nowSec`. */
  check(text: string, src: IpWords, nowSec: number): boolean {
    if (!/^[0-9a-f]{24}$/.test(text)) return false;
    const sec = parseInt(text.slice(0, 8), 16);
    const age = (Math.floor(nowSec) >>> 0) - sec;
    // Ages wrap with the 32-bit second; a nonce "from the future" is refused too.
    const wrapped = age < -0x80000000 ? age + 0x100000000 : age;
    if (wrapped < 0 || wrapped > NONCE_TIMEOUT_SEC + NONCE_GRACE_SEC) return false;
    const theirs = this.#theirs;
    for (let i = 0; i < MAC_BYTES; i++) theirs[i] = parseInt(text.slice(8 + 2 * i, 10 + 2 * i), 16);
    const mine = this.#compute(sec, src);
    return constantTimeEqual(mine, 0, theirs, 0, MAC_BYTES);
  }
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}
