/**
 * The first look at a value the engine has not met before, in one pass: its
 * features (features.ts), the slots of the trigger automaton whose literals
 * occur in it as it is (trigger-matcher.ts), and the hash the value memory's
 * doorkeeper files it under (value-memo.ts). They were three passes, each
 * with its own call and loop; a JSON body's fresh values are a dozen
 * characters each, so the loops' overhead was most of their cost, and one
 * pass does the three for about the price of one.
 */
import { contextFeatures, edgeFeatures, F_WIDE, HAS_CONTEXT, UNIT_FEATURES } from "./features.js";
import type { DfaTables, TriggerMatcher } from "./trigger-matcher.js";

const FNV_PRIME = 16777619;
const FNV_OFFSET = 0x811c9dc5;

const NO_HITS: readonly number[] = [];

/**
 * A scanner's table of the units 0-255 holds, in one entry, a unit's features (bits 0-21), its class in the
 * automaton's alphabet (bits 22-29) and whether its neighbours matter (HAS_CONTEXT, bit 30): one read per
 * unit instead of three.
 */
const FEATURE_BITS = (1 << 22) - 1;
const CLASS_SHIFT = 22;
const CONTEXT = 1 << 30;

export class ValueScanner {
  private readonly dfa: DfaTables;
  /** Hash of the value last scanned (FNV-1a over its length and every unit). */
  hash = 0;
  /** Slots found in the value last scanned, once each: a new array, or a shared empty one when none (most values). */
  hits: readonly number[] = NO_HITS;

  /** By unit 0-255: features, class and context mark (see FEATURE_BITS). */
  private readonly units: Int32Array;
  /** Whether `units` holds the classes (every byte class fits 8 bits). */
  readonly packed: boolean;

  constructor(
    private readonly matcher: TriggerMatcher,
    /** Scratch of size matcher.slots, all 0 between scans. */
    private readonly seen: Uint8Array = new Uint8Array(matcher.slots),
  ) {
    this.dfa = matcher.tables;
    const { classOf } = this.dfa;
    // an alphabet of more than 255 byte classes (literals using most of Latin-1) keeps the classes in classOf
    this.packed = classOf.every((cls) => cls <= 0xff);
    this.units = Int32Array.from(UNIT_FEATURES, (u, c) => u | ((this.packed ? classOf[c]! : 0) << CLASS_SHIFT) | (HAS_CONTEXT[c] !== 0 ? CONTEXT : 0));
  }

  /** Sets `hits` (the slots whose literals occur in s, as TriggerMatcher.slotsIn finds them) and `hash`, and returns featuresOf(s). */
  scan(s: string): number {
    const { delta, width, firstAccepting, classOf } = this.dfa;
    const units = this.units;
    const packed = this.packed;
    const seen = this.seen;
    const n = s.length;
    let f = edgeFeatures(s);
    let h = Math.imul(FNV_OFFSET ^ n, FNV_PRIME);
    let st = 0;
    // an array only for a value with hits: resetting a shared one (length = 0) is a runtime call per value
    let out: number[] | undefined;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      h = Math.imul(h ^ c, FNV_PRIME);
      let cls: number;
      if (c > 0xff) {
        f |= F_WIDE;
        cls = this.matcher.wideClassOf(c);
      } else {
        const u = units[c]!;
        f |= u;
        if ((u & CONTEXT) !== 0) f |= contextFeatures(s, i, c);
        cls = packed ? (u >>> CLASS_SHIFT) & 0xff : classOf[c]!;
      }
      st = delta[st * width + cls]!;
      if (st >= firstAccepting) this.matcher.found(st, (out ??= []), seen);
    }
    if (out !== undefined) for (let k = 0; k < out.length; k++) seen[out[k]!] = 0;
    this.hash = h;
    this.hits = out ?? NO_HITS;
    return f & FEATURE_BITS;
  }
}

/** The hash ValueScanner.scan sets, on its own (FNV-1a over the length and every unit). */
export function valueHash(s: string): number {
  let h = Math.imul(FNV_OFFSET ^ s.length, FNV_PRIME);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}
