// The daemon's randomness for the protocol core: the core's Rng interface over the operating
// system's CSPRNG (Web Crypto getRandomValues), drawn in blocks.

import { float53, type Rng } from "../proto/rng.ts";

/** An Rng backed by the operating system's CSPRNG (for the daemon). */
export class CryptoRng implements Rng {
  #buf = new Uint32Array(256);
  #at = 256;

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    if (this.#at >= this.#buf.length) {
      crypto.getRandomValues(this.#buf);
      this.#at = 0;
    }
    return this.#buf[this.#at++]!;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return float53(this);
  }
}
