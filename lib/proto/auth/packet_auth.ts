// The packet path's authentication step with symmetric keys (RFC 5905 §7.3, RFC 8573, ntpd
// 4.2.8): a MAC is checked against the key list with the sender's address (the keys file's fourth
// field), and a reply to a request that passed is signed with the same key once the transport has
// written its transmit timestamp (the reply slot's finalize step).

import { KEY_ID_LEN, LEN_PKT_NOMAC } from "../constants.ts";
import type { IpWords } from "../ip.ts";
import type { Authenticator, AuthResult, ReplyFinalizer } from "../packet_path.ts";
import type { KeyStore } from "./key_store.ts";
import { type AuthFailure, macKeyId, MacVerifier } from "./mac.ts";

/**
 * Authenticates packets with a {@link KeyStore} and signs the replies. One per thread: it owns
 * its verifier's scratch buffer. Neither checking nor signing allocates.
 *
 * @example
 * ```ts
 * const auth = new KeyAuthenticator(new KeyStore(crypto, keys, trusted));
 * const path = new PacketPath({ server, restrict, mru, counters, authenticator: auth });
 * ```
 */
export class KeyAuthenticator implements Authenticator, ReplyFinalizer {
  readonly #verifier: MacVerifier;

  /** Checks against `store` (replace it with {@link setStore} after a reload). */
  constructor(store: KeyStore) {
    this.#verifier = new MacVerifier(store);
  }

  /** The verifier (its failure counters, the key id of the last MAC that passed). */
  get verifier(): MacVerifier {
    return this.#verifier;
  }

  /** Uses another key list from now on. */
  setStore(store: KeyStore): void {
    this.#verifier.setStore(store);
  }

  /**
   * Judges the MAC at `macOffset`. Extension fields without a MAC are not authentication (NTS
   * will check its own fields): "none".
   */
  check(
    data: Uint8Array,
    macOffset: number,
    _keyId: number,
    _hasExtensions: boolean,
    from: IpWords,
  ): AuthResult {
    if (macOffset < 0) return "none";
    return this.#verifier.verify(data, data.length, macOffset, from);
  }

  /** This object signs the replies (see {@link finalize}). */
  get signer(): ReplyFinalizer {
    return this;
  }

  /**
   * Signs the reply in `buffer[0, length)`: the header (48 bytes, transmit timestamp final), then
   * the key id the packet path wrote at byte 48, then `length − 52` bytes of digest. A key that is
   * gone or a length it cannot make (neither happens between the check and the send, both are in
   * one turn of the event loop) leaves a zero digest, which no client accepts.
   */
  finalize(buffer: Uint8Array, length: number): void {
    const digestAt = LEN_PKT_NOMAC + KEY_ID_LEN;
    const digestLength = length - digestAt;
    if (digestLength <= 0) return;
    const key = this.#verifier.store.get(macKeyId(buffer, LEN_PKT_NOMAC));
    if (key === undefined || !key.acceptsDigestLength(digestLength)) {
      buffer.fill(0, digestAt, length);
      return;
    }
    key.mac.compute(buffer, 0, LEN_PKT_NOMAC, buffer, digestAt, digestLength);
  }

  /** Packets refused for `reason` by this thread since it started. */
  failures(reason: AuthFailure): number {
    return this.#verifier.failures(reason);
  }
}
