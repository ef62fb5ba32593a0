/**
 * Token buckets keyed by a request attribute, with time as a parameter (ms).
 * A bucket holds up to `burst` tokens and gains `ratePerSecond` a second; a
 * new key starts full. At most `maxKeys` keys are kept: the least recently
 * used one is dropped for a new one (so memory stays bounded whatever keys a
 * client invents; a dropped key starts full again when it returns).
 */

export interface TokenBucketOptions {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
}

/** One key's bucket; `tokens` is fractional, as of `atMs`. */
export interface BucketState {
  tokens: number;
  atMs: number;
}

/** Floating-point slack so that a refill landing on 0.9999999 still counts as one token. */
const EPSILON = 1e-9;

export class KeyedTokenBuckets {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
  private readonly buckets = new Map<string, BucketState>();

  constructor(opts: TokenBucketOptions) {
    if (!(opts.ratePerSecond > 0) || !Number.isFinite(opts.ratePerSecond)) throw new RangeError("ratePerSecond must be > 0");
    if (!(opts.burst >= 1) || !Number.isFinite(opts.burst)) throw new RangeError("burst must be >= 1");
    if (!Number.isInteger(opts.maxKeys) || opts.maxKeys < 1) throw new RangeError("maxKeys must be an integer >= 1");
    this.ratePerSecond = opts.ratePerSecond;
    this.burst = opts.burst;
    this.maxKeys = opts.maxKeys;
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  has(key: string): boolean {
    return this.buckets.has(key);
  }

  /**
   * The bucket of key, refilled up to nowMs and marked most recently used
   * (created full if new). Pair with hasToken / take / waitSeconds to check
   * several buckets before taking from any.
   */
  bucket(key: string, nowMs: number): BucketState {
    let b = this.buckets.get(key);
    if (b !== undefined) {
      // Delete and re-insert: Map order is then least- to most-recently used.
      this.buckets.delete(key);
      // A clock that steps back adds nothing (and does not move atMs back).
      if (nowMs > b.atMs) {
        b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.atMs) * this.ratePerSecond) / 1000);
        b.atMs = nowMs;
      }
    } else {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
      b = { tokens: this.burst, atMs: nowMs };
    }
    this.buckets.set(key, b);
    return b;
  }

  hasToken(b: BucketState): boolean {
    return b.tokens >= 1 - EPSILON;
  }

  take(b: BucketState): void {
    b.tokens = Math.max(0, b.tokens - 1);
  }

  /** Seconds until b holds a whole token (0 when it does now). */
  waitSeconds(b: BucketState): number {
    return this.hasToken(b) ? 0 : (1 - b.tokens) / this.ratePerSecond;
  }

  /** Takes one token from key's bucket: 0 when taken, else the seconds until one is available. */
  tryTake(key: string, nowMs: number): number {
    const b = this.bucket(key, nowMs);
    if (!this.hasToken(b)) return this.waitSeconds(b);
    this.take(b);
    return 0;
  }
}
