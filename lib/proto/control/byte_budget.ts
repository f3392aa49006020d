// Byte budgets for answers to unauthenticated queries: a token bucket per source address and
// one for all sources together (RFC 9327 §6's advice against reflection). A source over its
// budget gets nothing, so a spoofed address can draw at most the budget's rate towards its
// victim. The least recently seen sources are forgotten first, so the table has a bound.

import type { IpWords } from "../ip.ts";

/** Sizes and rates of a {@link ByteBudget}. */
export interface ByteBudgetLimits {
  /** Per source: bytes that may be sent at once, and the refill per second. */
  sourceBurstBytes: number;
  sourceBytesPerSec: number;
  /** All sources together: burst and refill per second. */
  globalBurstBytes: number;
  globalBytesPerSec: number;
  /** Sources tracked at most. */
  maxSources: number;
}

interface Bucket {
  tokens: number;
  atSec: number;
}

/**
 * Per-source and global token buckets of bytes.
 *
 * @example
 * ```ts
 * const budget = new ByteBudget(limits);
 * if (budget.spend(src, reply.length, nowSec)) send(reply);
 * ```
 */
export class ByteBudget {
  readonly #limits: ByteBudgetLimits;
  readonly #sources = new Map<string, Bucket>();
  readonly #global: Bucket;

  /** Budgets of `limits`, full at the start. */
  constructor(limits: ByteBudgetLimits) {
    this.#limits = limits;
    this.#global = { tokens: limits.globalBurstBytes, atSec: -Infinity };
  }

  /** Sources tracked now. */
  get size(): number {
    return this.#sources.size;
  }

  /** Takes `bytes` from `src`'s and the global budget at `nowSec`; false (nothing taken) if short. */
  spend(src: IpWords, bytes: number, nowSec: number): boolean {
    const l = this.#limits;
    const key = src.toString();
    let b = this.#sources.get(key);
    if (b === undefined) {
      b = { tokens: l.sourceBurstBytes, atSec: nowSec };
      if (this.#sources.size >= l.maxSources) {
        const oldest = this.#sources.keys().next().value;
        if (oldest !== undefined) this.#sources.delete(oldest);
      }
    } else this.#sources.delete(key); // re-inserted below: the map stays in recency order
    this.#sources.set(key, b);
    refill(b, nowSec, l.sourceBurstBytes, l.sourceBytesPerSec);
    refill(this.#global, nowSec, l.globalBurstBytes, l.globalBytesPerSec);
    if (b.tokens < bytes || this.#global.tokens < bytes) return false;
    b.tokens -= bytes;
    this.#global.tokens -= bytes;
    return true;
  }
}

function refill(b: Bucket, nowSec: number, burst: number, perSec: number): void {
  if (b.atSec === -Infinity) b.atSec = nowSec;
  const dt = nowSec - b.atSec;
  if (dt > 0) b.tokens = Math.min(burst, b.tokens + dt * perSec);
  b.atSec = Math.max(b.atSec, nowSec);
}
