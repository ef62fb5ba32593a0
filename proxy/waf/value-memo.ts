/**
 * What the engine learns about a value that depends on nothing but the
 * value: its features, the rule gates it triggers, and which conditions it
 * is known not to match. The same headers (user agent, accept lists) and
 * many of the same parameters come back on every request, so this is kept
 * across requests, bounded: two generations of MEMO_ENTRIES values of at
 * most MEMO_VALUE_CHARS; when the young generation fills it becomes the old
 * one and the old one is dropped, so a flood of distinct values costs at
 * most the memory of two generations and evicts nothing it should not.
 */

/** Values up to this length are remembered across requests. */
export const MEMO_VALUE_CHARS = 512;
/** Entries per generation (at most twice this many are kept). */
export const MEMO_ENTRIES = 4096;

export interface Known {
  readonly features: number;
  /** Gates the value triggers over all chains; undefined until worked out. */
  gates?: readonly number[];
  /** Bit i set: condition i (a memoizable one) does not match the value. */
  readonly clean: Uint32Array;
}

export class ValueMemo {
  private young = new Map<string, Known>();
  private old = new Map<string, Known>();

  constructor(private readonly enabled = true) {}

  get(v: string): Known | undefined {
    const k = this.young.get(v);
    if (k !== undefined) return k;
    const o = this.old.get(v);
    if (o !== undefined) this.set(v, o);
    return o;
  }

  set(v: string, k: Known): void {
    if (!this.enabled || v.length > MEMO_VALUE_CHARS) return;
    if (this.young.size >= MEMO_ENTRIES) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(v, k);
  }

  /** Entries held (both generations; a promoted value may count twice). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
