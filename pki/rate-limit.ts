/** Token buckets keyed by caller, with time as a parameter. */
export interface BucketOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket size (the burst allowed). */
  burst: number;
  /** Most keys tracked at once; the least recently seen are dropped beyond it. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class KeyedTokenBucket {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly opts: BucketOptions) {
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) throw new RangeError("rate must be > 0 and burst >= 1");
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Takes one token. Returns 0 when allowed, else the seconds until one is available. */
  take(key: string, nowMs: number): number {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-insert keeps Map order = recency
      b.tokens = Math.min(this.opts.burst, b.tokens + ((nowMs - b.at) / 1000) * this.opts.ratePerSecond);
      b.at = nowMs;
    } else {
      b = { tokens: this.opts.burst, at: nowMs };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.opts.ratePerSecond;
  }
}
