// The crypto seam of the protocol core: MAC algorithms behind one injected interface, like `Rng`,
// so the core never imports a crypto library. The daemon passes `NodeCrypto`
// (lib/daemon/crypto_node.ts), the simulator and tests `PureCrypto` (lib/proto/auth/pure_crypto.ts).
//
// Symmetric-key MACs as ntpd 4.2.8 and chrony compute them (RFC 5905 §7.3 and Appendix A.2,
// RFC 8573): a digest of the key followed by the packet (MD5, SHA-1, SHA-256), or AES-128-CMAC of
// the packet (RFC 4493).

/** The MAC algorithms Horae implements, by the names the keys file uses. */
export const MAC_ALGORITHMS = ["MD5", "SHA1", "SHA256", "AES128CMAC"] as const;

/** One MAC algorithm. */
export type MacAlgorithm = typeof MAC_ALGORITHMS[number];

/** Full output length in bytes of each algorithm (before any truncation on the wire). */
export const MAC_OUTPUT_LEN: Readonly<Record<MacAlgorithm, number>> = {
  MD5: 16,
  SHA1: 20,
  SHA256: 32,
  AES128CMAC: 16,
};

/** Length of an AES-128 key, the only key length AES-128-CMAC takes. */
export const AES128_KEY_LEN = 16;

/**
 * One key prepared for one algorithm: per-key work (AES round keys, CMAC subkeys, a copy of the
 * key) is done once when the key is loaded, so computing a MAC allocates nothing.
 */
export interface MacContext {
  /** The algorithm. */
  readonly algorithm: MacAlgorithm;
  /** Full output length in bytes ({@link MAC_OUTPUT_LEN}). */
  readonly outputLength: number;
  /**
   * Writes the first `outLength` bytes (1 to {@link outputLength}) of the MAC of
   * `data[start, end)` to `out` at `outOffset`. For digests that is digest(key ‖ data), for
   * AES128CMAC it is CMAC(key, data). `out` may be `data` itself when the ranges do not overlap.
   */
  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
}

/**
 * Authenticated encryption for NTS (RFC 8915 §5.1: AEAD_AES_SIV_CMAC_256, RFC 5297), built on AES
 * by lib/proto/nts/aes_siv.ts. AES-128-GCM-SIV (RFC 8452) is not offered: neither node:crypto nor
 * the OpenSSL 3.0 here has it.
 */
export type AeadAlgorithm = "AEAD_AES_SIV_CMAC_256";

/** A key prepared for an AEAD algorithm (see {@link AeadAlgorithm}). */
export interface AeadContext {
  /** The algorithm. */
  readonly algorithm: AeadAlgorithm;
  /** Encrypts and authenticates; returns ciphertext with the tag. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array;
  /** Checks and decrypts; null when the tag does not verify. */
  open(nonce: Uint8Array, ciphertext: Uint8Array, associatedData: Uint8Array): Uint8Array | null;
}

/** The cryptographic operations the core needs, injected by whoever runs it. */
export interface Crypto {
  /** A short name for logs ("node:crypto", "pure"). */
  readonly name: string;
  /**
   * Prepares `key` for `algorithm`. The key bytes are copied. AES128CMAC takes the first 16
   * bytes of a longer key and pads a shorter one with zeros, as ntpd does (the keys file loader
   * warns about a short one).
   */
  macContext(algorithm: MacAlgorithm, key: Uint8Array): MacContext;
  /**
   * Prepares an AEAD key (32 bytes for AEAD_AES_SIV_CMAC_256; any other length throws a
   * RangeError), or null when this implementation has no AEAD.
   */
  aeadContext(algorithm: AeadAlgorithm, key: Uint8Array): AeadContext | null;
}

/**
 * The 16 bytes AES-128-CMAC uses for `key`: the key itself when it has 16 bytes, its first 16 when
 * longer, zero-padded when shorter. // COMPAT: ntpd 4.2.8 does the same; chrony refuses any other
 * length than 16.
 */
export function aes128KeyOf(key: Uint8Array): Uint8Array {
  const k = new Uint8Array(AES128_KEY_LEN);
  k.set(key.subarray(0, AES128_KEY_LEN));
  return k;
}

/**
 * Doubling in GF(2^128) as RFC 4493 §2.3 derives the CMAC subkeys: shift left one bit, and XOR 0x87
 * into the last byte when the bit shifted out was set. Writes `out` from `input` (16 bytes each).
 * Shared by every AES-128-CMAC implementation (plain TypeScript, node:crypto, libcrypto).
 */
export function cmacDouble(input: Uint8Array, out: Uint8Array): void {
  const carry = input[0]! >>> 7;
  for (let k = 0; k < 15; k++) out[k] = ((input[k]! << 1) | (input[k + 1]! >>> 7)) & 0xff;
  out[15] = ((input[15]! << 1) & 0xff) ^ (carry ? 0x87 : 0);
}

/**
 * Compares `a[aOffset, aOffset+length)` with `b[bOffset, bOffset+length)` in time that depends
 * only on `length`: every byte is looked at, whatever the first difference (no early exit).
 */
export function constantTimeEqual(
  a: Uint8Array,
  aOffset: number,
  b: Uint8Array,
  bOffset: number,
  length: number,
): boolean {
  let diff = 0;
  for (let k = 0; k < length; k++) diff |= a[aOffset + k]! ^ b[bOffset + k]!;
  return diff === 0;
}
