// Control messages authenticated with the symmetric keys (lib/proto/auth): a request's MAC is
// checked like any NTP packet's (trusted key, address list, constant-time compare) over the
// header and data padded to 8 bytes; answers to it are signed with the same key and digest
// length. ntpq computes the MAC the same way for mode 6 as for mode 3 (RFC 9327 §2; ntpd).

import type { IpWords } from "../ip.ts";
import { type MacVerifier, signPacket } from "../auth/mac.ts";
import type { ControlAuth } from "./control_server.ts";

/** A {@link ControlAuth} over a verifier and its key store. */
export function keyedControlAuth(verifier: MacVerifier): ControlAuth {
  return {
    verify(data: Uint8Array, macOffset: number, from: IpWords): number | null {
      return verifier.verify(data, data.length, macOffset, from) === "ok"
        ? verifier.lastKeyId
        : null;
    },
    sign(buf: Uint8Array, macOffset: number, keyId: number, digestLength: number): number {
      const key = verifier.store.get(keyId);
      if (key === undefined) throw new Error(`key ${keyId} went away`);
      return signPacket(buf, macOffset, key, digestLength);
    },
  };
}
