// What an NTS-KE exchange (RFC 8915 §4) hands to the NTP side: the negotiated AEAD, the two keys
// exported from the TLS session, the cookies and where to send NTP. The KE client
// (lib/daemon/nts_ke_client.ts) produces it; the association's NTS state (lib/proto/nts/client.ts)
// consumes it. Plain data, so it crosses the core's boundary without I/O.

/** AEAD algorithm identifiers from the IANA "AEAD Algorithms" registry (RFC 5116 §6). */
export const AEAD_AES_SIV_CMAC_256 = 15;
/** AEAD_AES_128_GCM_SIV (RFC 8452). */
export const AEAD_AES_128_GCM_SIV = 30;

/** The NTP port a KE server means when it sends no "NTPv4 Server/Port Negotiation" record. */
export const NTS_DEFAULT_NTP_PORT = 123;

/** The result of one successful NTS-KE exchange, as the NTP client needs it. */
export interface NtsKeResult {
  /** Negotiated AEAD algorithm id ({@link AEAD_AES_SIV_CMAC_256} or {@link AEAD_AES_128_GCM_SIV}). */
  readonly aeadId: number;
  /** Client-to-server key (RFC 8915 §5.1 exporter, context 0x0000 ‖ aead ‖ 0x00). */
  readonly c2sKey: Uint8Array;
  /** Server-to-client key (same exporter, last context byte 0x01). */
  readonly s2cKey: Uint8Array;
  /** The cookies the KE server sent (usually 8), each opaque to the client. */
  readonly cookies: Uint8Array[];
  /**
   * The NTP server to use: the name or address from a "NTPv4 Server Negotiation" record, or the
   * KE server's own name when the record was absent.
   */
  readonly ntpServer: string;
  /** The NTP port from a "NTPv4 Port Negotiation" record, or {@link NTS_DEFAULT_NTP_PORT}. */
  readonly ntpPort: number;
}
