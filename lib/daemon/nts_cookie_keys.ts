// The NTS cookie master key file (`nts cookie FILE`) on disk: read, rotated when due by whichever
// instance sharing it gets there first, written atomically with mode 0600, and handed to every
// NtsServerKeys of this process (the NTS-KE server's and the NTP server path's). A lock file
// (FILE.lock, flock) serialises instances that rotate at the same moment; each re-reads the file
// under the lock before deciding, so they never write two different keys for one period.
// The schedule itself is pure: lib/proto/nts/cookie_keys.ts.

import { lockFileNoFollow, readFileNoFollow, writeFileAtomic } from "../files/safe_file.ts";
import type { Logger } from "../log/logger.ts";
import {
  type CookieKeys,
  currentCookieKeyId,
  DEFAULT_COOKIE_KEYS_KEPT,
  DEFAULT_COOKIE_ROTATE_SEC,
  formatCookieKeys,
  parseCookieKeys,
  planCookieKeys,
} from "../proto/nts/cookie_keys.ts";
import type { NtsMasterKey } from "../proto/nts/cookies.ts";

/** Largest key file read (64 keys take about 5 KiB). */
const MAX_FILE_BYTES = 64 * 1024;
/** Mode of the key file (and its lock file). */
export const COOKIE_FILE_MODE = 0o600;

/** Something that takes the keys (NtsServerKeys, or a relay to server threads). */
export interface CookieKeyTarget {
  setKeys(keys: readonly NtsMasterKey[], currentId: number): void;
}

/** Options of {@link CookieKeyFile}. */
export interface CookieKeyFileOptions {
  /**
   * The key file; null: keys kept in memory only (lost at restart, not shared: clients then need
   * NTS-KE again after a restart, and instances behind one name do not open each other's cookies).
   */
  path: string | null;
  /** Rotation period in seconds (default a day). */
  rotateSec?: number;
  /** Past keys kept (default 7: cookies stay good a week). */
  keep?: number;
  /** Unix seconds now (tests pass a fake). */
  nowUnixSec?: () => number;
  /** 32 random bytes (tests pass a fake); default the OS CSPRNG. */
  randomKey?: () => Uint8Array;
}

/** What one {@link CookieKeyFile.refresh} did. */
export interface CookieKeyRefresh {
  /** The id cookies are now made under. */
  currentId: number;
  /** Ids of the keys that open cookies. */
  keyIds: number[];
  /** True when this instance wrote the file (created or rotated it). */
  wrote: boolean;
}

/**
 * The key file and the targets it feeds.
 *
 * @example
 * ```ts
 * const file = new CookieKeyFile({ path: "/var/lib/horae/nts-cookies" }, [keys], log);
 * await file.refresh(); // throws when the file is damaged or unreadable
 * file.start(); // refresh every minute: rotation, and keys another instance wrote
 * ```
 */
export class CookieKeyFile {
  readonly #path: string | null;
  #memory: CookieKeys | null = null;
  readonly #rotateSec: number;
  readonly #keep: number;
  readonly #now: () => number;
  readonly #randomKey: () => Uint8Array;
  readonly #targets: CookieKeyTarget[];
  readonly #log: Logger | null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #readOnlyWarned = false;
  #lastText = "";

  constructor(options: CookieKeyFileOptions, targets: CookieKeyTarget[], log: Logger | null) {
    this.#path = options.path;
    this.#rotateSec = options.rotateSec ?? DEFAULT_COOKIE_ROTATE_SEC;
    this.#keep = options.keep ?? DEFAULT_COOKIE_KEYS_KEPT;
    this.#now = options.nowUnixSec ?? (() => Date.now() / 1000);
    this.#randomKey = options.randomKey ??
      (() => crypto.getRandomValues(new Uint8Array(32)));
    this.#targets = targets;
    this.#log = log;
  }

  /** Adds a target (a server thread's relay) and gives it the keys read last. */
  addTarget(t: CookieKeyTarget): void {
    this.#targets.push(t);
    if (this.#lastText !== "") {
      const r = parseCookieKeys(this.#lastText);
      if (r.ok) t.setKeys(r.value.keys, currentCookieKeyId(r.value, this.#now()));
    }
  }

  /** Reads the file now, or null when it does not exist; throws when it is damaged. */
  #read(): { keys: CookieKeys; text: string } | null {
    if (this.#path === null) {
      return this.#memory === null ? null : { keys: this.#memory, text: "" };
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileNoFollow(this.#path, MAX_FILE_BYTES);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    const text = new TextDecoder().decode(bytes);
    const r = parseCookieKeys(text);
    if (!r.ok) throw new SyntaxError(`${this.#path}:${r.line}: ${r.message}`);
    const mode = Deno.statSync(this.#path).mode;
    if (mode !== null && (mode & 0o077) !== 0) {
      this.#log?.warn(
        `${this.#path}: NTS cookie keys readable by others (mode ${
          (mode & 0o777).toString(8)
        }): should be 0600`,
      );
    }
    return { keys: r.value, text };
  }

  /**
   * Reads the file, rotates it when due (creating it when missing) under the lock, and gives the
   * keys to every target. A file this process cannot write is used as it is (with one warning):
   * an instance may share a file another one rotates. Throws when the file is damaged, cannot be
   * read, or holds no key usable now and cannot be written.
   */
  async refresh(): Promise<CookieKeyRefresh> {
    const now = this.#now();
    let current = this.#read();
    let plan = planCookieKeys(
      current?.keys ?? null,
      now,
      this.#rotateSec,
      this.#keep,
      this.#randomKey,
    );
    let wrote = false;
    if (plan.changed) {
      try {
        await this.#underLock(async () => {
          // Another instance may have rotated since: decide again on what the file says now.
          current = this.#read();
          plan = planCookieKeys(
            current?.keys ?? null,
            now,
            this.#rotateSec,
            this.#keep,
            this.#randomKey,
          );
          if (plan.changed) {
            if (this.#path === null) this.#memory = plan.keys;
            else await writeFileAtomic(this.#path, formatCookieKeys(plan.keys), COOKIE_FILE_MODE);
            wrote = true;
          }
        });
      } catch (e) {
        if (current === null || current.keys.keys.length === 0) throw e;
        if (!this.#readOnlyWarned) {
          this.#readOnlyWarned = true;
          this.#log?.warn(
            `${this.#path}: cannot rotate NTS cookie keys (${
              (e as Error).message
            }); using the file as it is`,
          );
        }
        const keys = current.keys;
        return this.#apply(keys, currentCookieKeyId(keys, now), false);
      }
    }
    if (wrote) {
      this.#log?.info(`${this.#path ?? "memory"}: NTS cookie key ${plan.currentId} in use`);
    }
    return this.#apply(plan.keys, plan.currentId, wrote);
  }

  #apply(keys: CookieKeys, currentId: number, wrote: boolean): CookieKeyRefresh {
    this.#lastText = formatCookieKeys(keys);
    for (const t of this.#targets) t.setKeys(keys.keys, currentId);
    return { currentId, keyIds: keys.keys.map((k) => k.id), wrote };
  }

  async #underLock(body: () => Promise<void>): Promise<void> {
    if (this.#path === null) return await body();
    // Still root at start: a link planted at the lock's name must not be followed.
    const release = await lockFileNoFollow(`${this.#path}.lock`, COOKIE_FILE_MODE);
    try {
      await body();
    } finally {
      release();
    }
  }

  /**
   * Refreshes every `everySec` seconds (default: a minute, or a quarter period when shorter):
   * rotation when due, and keys another instance wrote. Failures are logged, the keys held stay.
   */
  start(everySec = Math.min(60, this.#rotateSec / 4)): void {
    this.stop();
    const tick = () => {
      this.refresh().catch((e) => this.#log?.error(`NTS cookie keys: ${(e as Error).message}`))
        .finally(() => {
          if (this.#timer !== null) this.#schedule(tick, everySec);
        });
    };
    this.#schedule(tick, everySec);
  }

  #schedule(tick: () => void, everySec: number): void {
    const t = setTimeout(tick, everySec * 1000);
    Deno.unrefTimer(t as unknown as number);
    this.#timer = t;
  }

  /** Stops the periodic refresh. */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
