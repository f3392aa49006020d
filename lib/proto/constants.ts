// NTP protocol constants under their RFC 5905 (§7, Appendix A.1.1) and ntpd 4.2.x names,
// plus the wire layout sizes of RFC 5905 §7.3 and RFC 7822.

/** UDP port of the NTP service (RFC 5905 §7.2). */
export const NTP_PORT = 123;
/** Current protocol version. */
export const NTP_VERSION = 4;
/** Oldest protocol version still answered (ntpd accepts 1 through 4). */
export const NTP_OLDVERSION = 1;

/** Smallest poll exponent: 2^4 = 16 s (RFC 5905 §7.3). */
export const NTP_MINPOLL = 4;
/** Largest poll exponent: 2^17 s ≈ 36 h (RFC 5905 §7.3). */
export const NTP_MAXPOLL = 17;
/** Default `minpoll` of an association: 2^6 = 64 s. */
export const NTP_MINDPOLL = 6;
/** Default `maxpoll` of an association: 2^10 = 1024 s. */
export const NTP_MAXDPOLL = 10;

/** Stages of the clock filter shift register (RFC 5905 `NSTAGE`). */
export const NTP_SHIFT = 8;
/** Stratum meaning "unsynchronised": sent on the wire as 0 (RFC 5905 `MAXSTRAT`). */
export const MAXSTRAT = 16;
/** Dispersion ceiling in seconds (RFC 5905 `MAXDISP`). */
export const MAXDISPERSE = 16;
/** Default selection threshold for the root distance in seconds (ntpd `tos maxdist`). */
export const MAXDIST = 1.5;
/** Minimum dispersion increment in seconds (RFC 5905 `MINDISP`). */
export const MINDISP = 0.01;
/** Frequency tolerance in s/s: 15 ppm (RFC 5905 `PHI`). */
export const PHI = 15e-6;
/** Default minimum number of survivors of the cluster algorithm (ntpd `tos minclock`). */
export const NTP_MINCLOCK = 3;
/** Default maximum number of candidates (ntpd `tos maxclock`). */
export const NTP_MAXCLOCK = 10;
/** Packets sent in a `burst` or `iburst`. */
export const NTP_BURST = 8;

/** Leap indicator: no warning (RFC 5905 §7.3). */
export const LEAP_NOWARNING = 0;
/** Leap indicator: the last minute of the day has 61 seconds. */
export const LEAP_ADDSECOND = 1;
/** Leap indicator: the last minute of the day has 59 seconds. */
export const LEAP_DELSECOND = 2;
/** Leap indicator: clock unsynchronised (alarm). */
export const LEAP_NOTINSYNC = 3;

/** Association mode 0: reserved. */
export const MODE_UNSPEC = 0;
/** Association mode 1: symmetric active. */
export const MODE_ACTIVE = 1;
/** Association mode 2: symmetric passive. */
export const MODE_PASSIVE = 2;
/** Association mode 3: client. */
export const MODE_CLIENT = 3;
/** Association mode 4: server. */
export const MODE_SERVER = 4;
/** Association mode 5: broadcast. */
export const MODE_BROADCAST = 5;
/** Mode 6: NTP control message (ntpq, RFC 9327). */
export const MODE_CONTROL = 6;
/** Mode 7: ntpd private message (ntpdc). */
export const MODE_PRIVATE = 7;

/** The leap indicator values as a named object; `LeapIndicator` is also the type of one value. */
export const LeapIndicator = {
  NoWarning: LEAP_NOWARNING,
  AddSecond: LEAP_ADDSECOND,
  DelSecond: LEAP_DELSECOND,
  NotInSync: LEAP_NOTINSYNC,
} as const;
/** One of the four leap indicator values (0–3). */
export type LeapIndicator = typeof LeapIndicator[keyof typeof LeapIndicator];

/** The association modes as a named object; `Mode` is also the type of one value. */
export const Mode = {
  Unspecified: MODE_UNSPEC,
  SymmetricActive: MODE_ACTIVE,
  SymmetricPassive: MODE_PASSIVE,
  Client: MODE_CLIENT,
  Server: MODE_SERVER,
  Broadcast: MODE_BROADCAST,
  Control: MODE_CONTROL,
  Private: MODE_PRIVATE,
} as const;
/** One of the eight mode values (0–7). */
export type Mode = typeof Mode[keyof typeof Mode];

/** Length of the fixed NTP header in bytes (RFC 5905 §7.3). */
export const LEN_PKT_NOMAC = 48;
/** Length of the key identifier that starts a MAC. */
export const KEY_ID_LEN = 4;
/** Digest length of an MD5 MAC. */
export const MD5_DIGEST_LEN = 16;
/** Digest length of a SHA-1 MAC. */
export const SHA1_DIGEST_LEN = 20;
/** A crypto-NAK: a MAC made of a zero key identifier alone (ntpd). */
export const CRYPTO_NAK_LEN = KEY_ID_LEN;
/** Longest MAC trailer ntpd 4.2.x sends: key id + SHA-1 digest. */
export const MAX_MAC_LEN = KEY_ID_LEN + SHA1_DIGEST_LEN;
/** Shortest extension field, header included (RFC 7822 §3). */
export const MIN_EXTENSION_LEN = 16;
/** Shortest last extension field of a packet without a MAC (RFC 7822 §3). */
export const MIN_LAST_EXTENSION_LEN_NOMAC = 28;
/** Longest extension field: its 16-bit length rounded down to a multiple of 4. */
export const MAX_EXTENSION_LEN = 65532;

/**
 * Kiss codes (RFC 5905 §7.4, RFC 8915 §5.7) and what they ask of the client. A kiss-o'-death is a
 * packet with stratum 0 whose reference id carries one of these four ASCII characters.
 */
export const KISS_CODES: Readonly<Record<string, string>> = {
  ACST: "The association belongs to a unicast server.",
  AUTH: "Server authentication failed.",
  AUTO: "Autokey sequence failed.",
  BCST: "The association belongs to a broadcast server.",
  CRYP: "Cryptographic authentication or identification failed.",
  DENY: "Access denied by remote server.",
  DROP: "Lost peer in symmetric mode.",
  RSTR: "Access denied due to local policy.",
  INIT: "The association has not yet synchronized for the first time.",
  MCST: "The association belongs to a dynamically discovered server.",
  NKEY: "No key found: the key was never installed or is not trusted.",
  NTSN: "NTS negative acknowledgement: the cookie could not be used.",
  RATE: "Rate exceeded: the server has temporarily denied access; reduce the poll rate.",
  RMOT: "Alteration of association from a remote host running ntpdc.",
  STEP:
    "A step change in system time has occurred, but the association has not yet resynchronized.",
};
