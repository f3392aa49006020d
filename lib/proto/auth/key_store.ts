// The symmetric keys the daemon holds (ntpd's key list, `keys` and `trustedkey`): each key id with
// its algorithm, its MAC context prepared once, whether it is trusted, and the addresses allowed
// to use it (the keys file's optional fourth field, ntpd 4.2.8p9 and later).

import { type Crypto, MAC_OUTPUT_LEN, type MacAlgorithm, type MacContext } from "../crypto.ts";
import type { IpPrefix, IpWords } from "../ip.ts";

/** Lowest and highest key id a keys file may define (ntpd and NTPsec: 1–65535). */
export const MIN_KEY_ID = 1;
/** Highest key id a keys file may define. */
export const MAX_KEY_ID = 65535;

/**
 * Longest digest an NTPv4 packet carries: ntpd truncates longer ones to 20 bytes so that a MAC is
 * at most 24 bytes and cannot be mistaken for an extension field (RFC 7822 §7.5).
 */
export const NTPV4_MAX_DIGEST_LEN = 20;

/** One key as the keys file defines it. */
export interface SymmetricKey {
  /** Key id, 1–65535. */
  id: number;
  /** MAC algorithm. */
  algorithm: MacAlgorithm;
  /** The secret (1–32 bytes). */
  key: Uint8Array;
  /** Addresses and prefixes allowed to use this key, or null for any address. */
  allowed: readonly IpPrefix[] | null;
}

/** An allowed prefix as words, for matching an {@link IpWords} without allocating. */
interface WordPrefix {
  family: 4 | 6;
  a: Int32Array;
  m: Int32Array;
}

function toWordPrefix(p: IpPrefix): WordPrefix {
  const n = p.ip.family === 4 ? 1 : 4;
  const a = new Int32Array(4), m = new Int32Array(4);
  for (let k = 0; k < n; k++) {
    const at = 4 * k;
    const word = (b: Uint8Array) =>
      (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
    m[k] = word(p.mask);
    a[k] = word(p.ip.bytes) & m[k]!;
  }
  return { family: p.ip.family, a, m };
}

/** A loaded key: its prepared MAC, trust and address restriction. */
export class StoredKey {
  /** Key id. */
  readonly id: number;
  /** MAC algorithm. */
  readonly algorithm: MacAlgorithm;
  /** The MAC, prepared for this key. */
  readonly mac: MacContext;
  /** Full digest length of the algorithm. */
  readonly outputLength: number;
  /** Digest length in an NTPv4 packet: the full length, at most 20 bytes. */
  readonly v4DigestLength: number;
  /** The addresses allowed to use the key (null: any), as the keys file gave them. */
  readonly allowed: readonly IpPrefix[] | null;
  /** Whether the key is trusted (`trustedkey`); only a trusted key authenticates anything. */
  trusted = false;
  readonly #prefixes: WordPrefix[] | null;

  constructor(crypto: Crypto, key: SymmetricKey) {
    this.id = key.id;
    this.algorithm = key.algorithm;
    this.mac = crypto.macContext(key.algorithm, key.key);
    this.outputLength = MAC_OUTPUT_LEN[key.algorithm];
    this.v4DigestLength = Math.min(this.outputLength, NTPV4_MAX_DIGEST_LEN);
    this.allowed = key.allowed;
    this.#prefixes = key.allowed === null ? null : key.allowed.map(toWordPrefix);
  }

  /**
   * True when `addr` may use this key: the key has no address list, or `addr` lies in one of its
   * prefixes. An unknown sender (null) is refused when there is a list.
   */
  allows(addr: IpWords | null): boolean {
    const list = this.#prefixes;
    if (list === null) return true;
    if (addr === null) return false;
    for (const p of list) {
      if (p.family !== addr.family) continue;
      const m = p.m, a = p.a;
      if (
        (addr.w0 & m[0]!) === a[0] && (addr.w1 & m[1]!) === a[1] &&
        (addr.w2 & m[2]!) === a[2] && (addr.w3 & m[3]!) === a[3]
      ) return true;
    }
    return false;
  }

  /** True when `digestLength` is what this key's MACs may carry: full, or cut to 20 bytes. */
  acceptsDigestLength(digestLength: number): boolean {
    return digestLength === this.outputLength || digestLength === this.v4DigestLength;
  }
}

/**
 * The key list: lookups by key id for the packet path (one map lookup per authenticated packet),
 * and the trusted set, which may name ids that no loaded key has (as `trustedkey` may).
 *
 * @example
 * ```ts
 * const store = new KeyStore(new PureCrypto(), parsed.keys, config.auth.trustedKeys);
 * const key = store.get(keyId);
 * if (key !== undefined && key.trusted) signPacket(reply, 48, key, key.v4DigestLength);
 * ```
 */
export class KeyStore {
  readonly #keys = new Map<number, StoredKey>();
  readonly #trusted = new Set<number>();

  /** Prepares every key with `crypto`; a later key with the same id replaces an earlier one. */
  constructor(crypto: Crypto, keys: Iterable<SymmetricKey> = [], trusted: Iterable<number> = []) {
    for (const k of keys) this.#keys.set(k.id, new StoredKey(crypto, k));
    for (const id of trusted) this.setTrusted(id, true);
  }

  /** The key with id `keyId`, or undefined. */
  get(keyId: number): StoredKey | undefined {
    return this.#keys.get(keyId);
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys.size;
  }

  /** Key ids, ascending. */
  ids(): number[] {
    return [...this.#keys.keys()].sort((a, b) => a - b);
  }

  /** Trusted ids, ascending (with or without a key), to carry over to a reloaded store. */
  trustedIds(): number[] {
    return [...this.#trusted].sort((a, b) => a - b);
  }

  /** True when `keyId` is trusted. */
  isTrusted(keyId: number): boolean {
    return this.#trusted.has(keyId);
  }

  /** Trusts or distrusts `keyId` (`trustedkey`, or a run-time change). */
  setTrusted(keyId: number, trusted: boolean): void {
    if (trusted) this.#trusted.add(keyId);
    else this.#trusted.delete(keyId);
    const k = this.#keys.get(keyId);
    if (k !== undefined) k.trusted = trusted;
  }
}
