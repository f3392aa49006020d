// The daemon's symmetric keys (ntp.conf `keys`, `trustedkey`, `controlkey`, `requestkey`,
// `enable/disable auth`): the keys file is read once before the daemon starts (a bad file is a
// configuration error); each thread then prepares its own key list with the daemon's crypto (the
// main thread here, each server thread from the same plain keys in its init message), so every
// thread answers an authenticated request with the same bytes.

import { ConfigSyntaxError, type Diagnostic } from "../config/diagnostics.ts";
import { loadKeysFile } from "../config/keys_file.ts";
import { KeyStore, type SymmetricKey } from "../proto/auth/key_store.ts";
import { MacVerifier } from "../proto/auth/mac.ts";
import { KeyAuthenticator } from "../proto/auth/packet_auth.ts";
import { keyedControlAuth } from "../proto/control/control_auth.ts";
import type { ControlAuth } from "../proto/control/control_server.ts";
import type { Crypto } from "../proto/crypto.ts";
import { type SivContext, sivContextOf } from "../proto/nts/aes_siv.ts";
import { daemonCrypto } from "./crypto_openssl.ts";

/** The authentication settings, with the keys file already read. */
export interface AuthSettings {
  /** The keys file the keys came from (for messages), or null: no keys. */
  keysFile: string | null;
  /** The keys it defines. */
  keys: SymmetricKey[];
  /** `trustedkey`. */
  trustedKeys: number[];
  /** `controlkey`: the key that authorises mode 6 changes, or null. */
  controlKey: number | null;
  /** `requestkey`: only checked against the keys file (mode 7 answers read-only requests only). */
  requestKey: number | null;
  /** `enable auth` (default): unauthenticated packets never mobilise an association. */
  required: boolean;
}

/** No keys, `enable auth`. */
export const NO_AUTH: AuthSettings = {
  keysFile: null,
  keys: [],
  trustedKeys: [],
  controlKey: null,
  requestKey: null,
  required: true,
};

/** The keys file read for the daemon: its keys and warnings, or every problem it has. */
export type LoadedAuthKeys =
  | { ok: true; keys: SymmetricKey[]; warnings: Diagnostic[] }
  | { ok: false; diagnostics: Diagnostic[] };

/**
 * Reads the keys file at `path` (null: none, no keys). A file that cannot be read or has any bad
 * line is refused with diagnostics naming file and line: the daemon then exits with 78, as for a
 * bad configuration, rather than run with keys silently missing.
 */
export async function loadAuthKeys(path: string | null): Promise<LoadedAuthKeys> {
  if (path === null) return { ok: true, keys: [], warnings: [] };
  try {
    const loaded = await loadKeysFile(path);
    return { ok: true, keys: loaded.keys, warnings: loaded.warnings };
  } catch (e) {
    if (e instanceof ConfigSyntaxError) return { ok: false, diagnostics: [...e.diagnostics] };
    return {
      ok: false,
      diagnostics: [{
        severity: "error",
        file: path,
        line: 0,
        col: 0,
        code: "keys-file",
        message: (e as Error).message,
      }],
    };
  }
}

/** The crypto every thread of this process uses (libcrypto, checked once per thread). */
let threadCrypto: { crypto: Crypto; notes: string[] } | null = null;

/** This thread's crypto, made on first use. */
export function threadDaemonCrypto(): { crypto: Crypto; notes: string[] } {
  threadCrypto ??= daemonCrypto();
  return threadCrypto;
}

/**
 * This thread's crypto, made on the first MAC or AEAD context asked of it: a daemon without keys
 * never opens libcrypto or runs its known-answer checks (about 4 MB of resident memory).
 */
class LazyThreadCrypto implements Crypto {
  get name(): string {
    return threadDaemonCrypto().crypto.name;
  }
  macContext(...a: Parameters<Crypto["macContext"]>): ReturnType<Crypto["macContext"]> {
    return threadDaemonCrypto().crypto.macContext(...a);
  }
  aeadContext(...a: Parameters<Crypto["aeadContext"]>): ReturnType<Crypto["aeadContext"]> {
    return threadDaemonCrypto().crypto.aeadContext(...a);
  }
  /** The NTS server's re-keyable AES-SIV (libcrypto's own when it passed its check). */
  sivContext(): SivContext {
    return sivContextOf(threadDaemonCrypto().crypto);
  }
}

/**
 * One thread's keys: the key list prepared with the daemon's crypto, the packet path's
 * authenticator over it, and (main thread) the control protocol's check.
 *
 * @example
 * ```ts
 * const auth = new DaemonAuth(settings.auth ?? NO_AUTH);
 * const path = new PacketPath({ ...o, authenticator: auth.authenticator, authRequired: auth.required });
 * ```
 */
export class DaemonAuth {
  readonly settings: AuthSettings;
  readonly crypto: Crypto;
  /** The key list (trusted: `trustedkey`). */
  readonly store: KeyStore;
  /** The packet path's authentication step on this thread. */
  readonly authenticator: KeyAuthenticator;

  constructor(settings: AuthSettings, crypto: Crypto = new LazyThreadCrypto()) {
    this.settings = settings;
    this.crypto = crypto;
    this.store = new KeyStore(crypto, settings.keys, settings.trustedKeys);
    this.authenticator = new KeyAuthenticator(this.store);
  }

  /** `enable auth`. */
  get required(): boolean {
    return this.settings.required;
  }

  /**
   * The control protocol's MAC check: the same keys, with the controlkey trusted for control
   * messages even when `trustedkey` does not name it (as ntpq users expect of `controlkey`).
   * Its verifier is its own, so the packet path's counters count only NTP packets.
   */
  controlAuth(): ControlAuth {
    const s = this.settings;
    const trusted = s.controlKey === null ? s.trustedKeys : [...s.trustedKeys, s.controlKey];
    return keyedControlAuth(new MacVerifier(new KeyStore(this.crypto, s.keys, trusted)));
  }

  /**
   * What the configuration asks for that the keys cannot give, one line each: keys named on
   * source lines, `trustedkey`, `controlkey` or `requestkey` that the keys file does not define,
   * and source keys that are not trusted (their replies could never be accepted).
   */
  warnings(sourceKeys: readonly { address: string; key: number }[]): string[] {
    const s = this.settings;
    const out: string[] = [];
    const where = s.keysFile === null
      ? "no keys file is configured"
      : `${s.keysFile} has no such key`;
    const has = (id: number) => this.store.get(id) !== undefined;
    for (const { address, key } of sourceKeys) {
      if (!has(key)) {
        out.push(`server ${address} key ${key}: ${where}; nothing from it is accepted`);
      } else if (!this.store.isTrusted(key)) {
        out.push(
          `server ${address} key ${key}: the key is not trusted (trustedkey); nothing from it ` +
            `is accepted`,
        );
      }
    }
    for (const id of s.trustedKeys) if (!has(id)) out.push(`trustedkey ${id}: ${where}`);
    if (s.controlKey !== null && !has(s.controlKey)) {
      out.push(`controlkey ${s.controlKey}: ${where}; no control message can change anything`);
    }
    if (s.requestKey !== null && !has(s.requestKey)) {
      out.push(`requestkey ${s.requestKey}: ${where}`);
    }
    return out;
  }
}
