/**
 * What the engine learns about a value that depends on nothing but the
 * value: its features, its transformed forms, the rule gates it triggers,
 * and which conditions it is known not to match. The same headers (user
 * agent, accept lists) and many of the same parameters come back on every
 * request, so this is kept across requests, bounded: two generations, each
 * of at most MEMO_ENTRIES values of at most MEMO_VALUE_CHARS and at most
 * MEMO_CHARS characters of values and forms together. When the young
 * generation fills it becomes the old one and the old one is dropped, so a
 * flood of distinct values costs at most the memory of two generations.
 *
 * A value is only kept when it turns up in a second request: values that never come
 * back (a JSON body's fresh field values) then cost no record that would
 * churn the generations. The doorkeeper that remembers first sightings is a
 * fixed table of hashes, not a Set of the strings: a long-lived Set of
 * short-lived strings made V8 promote them, and whatever else the minor
 * collections met alongside, to the old generation (2.5 MB a collection and
 * 6 ms pauses for fresh JSON bodies, against none and 0.5 ms with the table).
 * A hash collision only admits a value on its first sighting. The hash is
 * worked out by the pass that first looks at a value (prefilter/value-scan.ts).
 */

import { featuresOf } from "./prefilter/features.js";

/** Values up to this length are remembered across requests. */
export const MEMO_VALUE_CHARS = 512;
/** Entries per generation. */
export const MEMO_ENTRIES = 4096;
/** Characters (values and transformed forms) per generation. */
export const MEMO_CHARS = 1 << 20;
/** Slots of the doorkeeper (a power of two), two for each hash: a first sighting is forgotten when two other values take both. */
export const DOORKEEPER_SLOTS = 8192;
/** Bits of each generation's presence filter (8 KiB a generation, 16 times MEMO_ENTRIES). */
const FILTER_LOG2 = 16;
export const FILTER_BITS = 1 << FILTER_LOG2;

export interface Known {
  readonly value: string;
  /** The value's features (prefilter/features.ts), or -1 until first asked for (see featuresOfKnown): a long raw body often needs none. */
  features: number;
  /** By chain id: the value after that chain (only for chains that change it). */
  forms?: (string | undefined)[];
  /** lowercase(value), shared by the chains that change the value only in case (CompiledCondition.lowersOnly). */
  lower?: string;
  /** Gates whose literals occur in the value as it is (any chain); undefined until scanned. */
  raw?: readonly number[];
  /** By chain id: the gates of that chain the value triggers. */
  byChain?: (readonly number[] | undefined)[];
  /** By chain set (the chains inspecting one collection): the gates the value triggers. */
  bySet?: (readonly number[] | undefined)[];
  /** Bit i set (16 bits a word): condition number i does not match the value. */
  clean?: number[];
  /** Whether the record is kept for later requests: only then is a miss worth recording in `clean` (a condition runs once per request). */
  kept?: boolean;
}

/**
 * The presence filter's bit for a value, from its length and five of its units (the first two, the middle,
 * the last two): five reads, where the Map's own hash reads every unit. Values that share it only share a
 * bit. (A unit past either end reads as NaN, which counts as 0.)
 */
export function filterBit(v: string): number {
  const n = v.length;
  const a = Math.imul(n ^ (v.charCodeAt(0) << 8) ^ (v.charCodeAt(1) << 16) ^ (v.charCodeAt(n >> 1) << 24), 0x9e3779b1);
  const b = Math.imul(a ^ v.charCodeAt(n - 2) ^ (v.charCodeAt(n - 1) << 12), 0x85ebca6b);
  return (b ^ (b >>> 16)) >>> (32 - FILTER_LOG2);
}

export class ValueMemo {
  private young = new Map<string, Known>();
  private old = new Map<string, Known>();
  private youngChars = 0;
  /**
   * By generation: a bit (filterBit) set for every value it holds. A fresh value (most of a JSON body's) is
   * told apart by one read of an 8 KiB array that stays in cache, instead of a probe into a Map of thousands
   * of entries, which missed the cache once or twice per value (about a tenth of a fresh 4 KiB body's time).
   */
  private youngBits = new Int32Array(FILTER_BITS >>> 5);
  private oldBits = new Int32Array(FILTER_BITS >>> 5);
  /**
   * By slot: a value seen once, as 15 bits of its hash (high half, never 0) and the low 16 bits of the request
   * it was seen in (low half). 32 KiB for the whole table, and the two slots a hash may take sit side by side:
   * a fresh value costs one cache line. A tag shared by chance admits a value on its first sighting (harmless,
   * about once in 16,000); a request number repeating after 65,536 requests only delays an admission.
   */
  private readonly seen = new Int32Array(DOORKEEPER_SLOTS);

  constructor(readonly enabled = true) {}

  get(v: string): Known | undefined {
    const bit = filterBit(v);
    const w = bit >>> 5;
    const b = 1 << (bit & 31);
    if ((this.youngBits[w]! & b) !== 0) {
      const k = this.young.get(v);
      if (k !== undefined) return k;
    }
    if ((this.oldBits[w]! & b) === 0) return undefined;
    const o = this.old.get(v);
    if (o !== undefined) this.set(v, o);
    return o;
  }

  /**
   * Whether a value not held yet should be kept, given its hash (valueHash) and the number of the request
   * asking: true when it was seen in an earlier request, never when off. A value repeated within one request
   * (a JSON array's tags) is not kept for that: it says nothing about the next request. The caller leaves out
   * values longer than MEMO_VALUE_CHARS (set would not keep them).
   */
  admit(hash: number, request: number): boolean {
    if (!this.enabled) return false;
    const tag = (hash | 0x10000) & 0xffff0000;
    const now = request & 0xffff;
    // two slots per hash: two values that always come together and share a slot would otherwise push each
    // other out on every request and never be kept (a JSON body's 200 names met that about five times)
    const a = hash & (DOORKEEPER_SLOTS - 2);
    const b = a + 1;
    const seen = this.seen;
    const sa = seen[a]!;
    const sb = seen[b]!;
    if ((sa & 0xffff0000) === tag) return (sa & 0xffff) !== now;
    if ((sb & 0xffff0000) === tag) return (sb & 0xffff) !== now;
    // the slot seen in the older request is taken (request numbers compared as they wrap: the distance back)
    seen[((now - sa) & 0xffff) >= ((now - sb) & 0xffff) ? a : b] = tag | now;
    return false;
  }

  /** Keeps k (a value longer than MEMO_VALUE_CHARS is not kept). */
  set(v: string, k: Known): void {
    if (!this.enabled || v.length > MEMO_VALUE_CHARS) return;
    if (this.young.size >= MEMO_ENTRIES || this.youngChars >= MEMO_CHARS) {
      this.old = this.young;
      this.young = new Map();
      this.youngChars = 0;
      // the dropped generation's bits are cleared and reused for the new one
      const bits = this.oldBits.fill(0);
      this.oldBits = this.youngBits;
      this.youngBits = bits;
    }
    this.young.set(v, k);
    this.youngChars += v.length;
    const bit = filterBit(v);
    this.youngBits[bit >>> 5]! |= 1 << (bit & 31);
  }

  /** Counts characters added to a kept entry (a transformed form) against the generation's budget. */
  charge(chars: number): void {
    this.youngChars += chars;
  }

  /** Characters (values and forms) charged to the young generation. */
  get chars(): number {
    return this.youngChars;
  }

  /** Entries held (both generations; a promoted value may count twice). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

/** A record's features, worked out the first time they are needed. */
export function featuresOfKnown(k: Known): number {
  let f = k.features;
  if (f < 0) f = k.features = featuresOf(k.value);
  return f;
}

/** Whether condition number `cond` is known not to match the value. */
export function isClean(k: Known, cond: number): boolean {
  const c = k.clean;
  return c !== undefined && cond >= 0 && ((c[cond >>> 4] ?? 0) & (1 << (cond & 15))) !== 0;
}

export function markClean(k: Known, cond: number): void {
  // 16 bits a word keeps every word a small integer (no heap numbers); the array grows as needed
  const c = (k.clean ??= []);
  const w = cond >>> 4;
  while (c.length <= w) c.push(0);
  c[w]! |= 1 << (cond & 15);
}
