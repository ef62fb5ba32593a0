/**
 * Signatures accepted recently, so the same signed request is not accepted
 * twice within the replay window (Kong has no such check: it relies on the
 * clock skew alone). Keys are the SHA-256 of the decoded signature, so the
 * cache never holds a usable credential and two spellings of one signature
 * are one key.
 *
 * Bounded: at most maxEntries keys. The window is the same for every entry,
 * so Map insertion order is expiry order: expired entries are dropped from
 * the front, and when the cache is full of live entries the oldest goes (a
 * signature then becomes replayable early; filling the cache needs that many
 * validly signed requests within the window, i.e. a credential).
 */
import { createHash } from "node:crypto";

export class ReplayCache {
  /** key → expiry (ms). */
  private readonly entries = new Map<string, number>();

  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
  ) {
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError("windowMs must be > 0");
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be an integer >= 1");
  }

  static key(signature: Buffer): string {
    return createHash("sha256").update(signature).digest("base64");
  }

  get size(): number {
    return this.entries.size;
  }

  /** True when key was recorded less than windowMs before nowMs. */
  seen(key: string, nowMs: number): boolean {
    const expires = this.entries.get(key);
    return expires !== undefined && nowMs < expires;
  }

  /** Remembers key from nowMs for the window. */
  record(key: string, nowMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, nowMs + this.windowMs);
    this.prune(nowMs);
  }

  private prune(nowMs: number): void {
    for (const [k, expires] of this.entries) {
      if (this.entries.size > this.maxEntries || expires <= nowMs) this.entries.delete(k);
      else break;
    }
  }
}
