/**
 * The gated conditions of an engine, built once: one Aho-Corasick automaton
 * over the required literals of every gated rule (prefilter/literals.ts), the
 * chains and collections each gate looks at, the memory of values shared by
 * every inspection, and the marks an inspection leaves (inspection.ts).
 */
import type { CompiledCondition } from "./compile.js";
import { F_UPPER } from "./prefilter/features.js";
import { TriggerMatcher } from "./prefilter/trigger-matcher.js";
import { ValueScanner } from "./prefilter/value-scan.js";
import { COLLECTIONS, type Arg } from "./types.js";
import { ValueMemo, type Known } from "./value-memo.js";

/** The gated conditions of an engine, as one automaton (built once per engine). */
export class GateSet {
  readonly matcher: TriggerMatcher;
  /** The automaton, features and doorkeeper hash in one pass, for a value met for the first time. */
  readonly scanner: ValueScanner;
  /** Chain id of each gate. */
  readonly chainOf: Int32Array;
  /** By chain id: features on which the chain changes a value beyond ASCII case (-1 = no gate uses the chain). */
  readonly scanMask: Int32Array;
  /** By chain id: a condition with that chain, to transform with. */
  readonly proto: (CompiledCondition | undefined)[];
  /** Distinct sets of gates, those inspecting one collection: by set, the chain ids of its gates (a value is only scanned for those). */
  readonly sets: readonly (readonly number[])[];
  /** By collection number (COLLECTION_INDEX): its index in `sets`, -1 when no gate inspects the collection. */
  readonly setOf: Int32Array;
  /** Scratch for TriggerMatcher.slotsIn. */
  readonly seen: Uint8Array;
  readonly found: number[] = [];
  readonly memo: ValueMemo;
  /** By gate set: the features on which some chain of the set changes a value beyond ASCII case. */
  readonly setMask: Int32Array;
  /** By gate set × gate: 1 when the gate inspects the set's collections (a literal found for another gate does not wake it). */
  readonly inSet: Uint8Array;
  /**
   * By gate set: whether a value holds one of the set's literals (ASCII case ignored), when they are few
   * (undefined otherwise). Native string searches run many times faster than the automaton walks a long
   * value, and most long values (a raw body) hold none of the literals: it says so before the automaton is run.
   */
  readonly quick: (QuickTest | undefined)[];
  /** Per gate: the number of the last inspection in which some value triggered it. */
  readonly stamp: Int32Array;
  /**
   * By collection number: the last large column whose values were all kept (the same field names come back
   * in every body of an API) and whether marking it woke no gate. A request whose values are equal takes its
   * records without a lookup each, and a quiet one is not marked again (Inspection.column, gateHits).
   */
  readonly lastColumn: (readonly Known[] | undefined)[] = new Array<readonly Known[] | undefined>(COLLECTIONS.length);
  /** By collection number: the list that column was made from, when all its entries are frozen (shared between requests: types.ts, Arg). */
  readonly lastArgs: (readonly Arg[] | undefined)[] = new Array<readonly Arg[] | undefined>(COLLECTIONS.length);
  readonly lastQuiet = new Uint8Array(COLLECTIONS.length);
  /** Number of the current inspection (wraps within the positive numbers). */
  epoch = 0;
  /** By gate: the number of its condition for the clean bits of values (value-memo.ts), -1 when not given. */
  readonly condOf: Int32Array;

  /** gates[i] is gate i's condition (it must have literals), conds[i] its number for the clean bits. */
  constructor(gates: readonly CompiledCondition[], remember = true, conds: readonly number[] = []) {
    this.memo = new ValueMemo(remember);
    this.condOf = Int32Array.from(gates, (_, i) => conds[i] ?? -1);
    this.matcher = new TriggerMatcher(gates.map((g) => g.literals ?? []));
    this.scanner = new ValueScanner(this.matcher);
    this.chainOf = Int32Array.from(gates, (g) => g.chainId);
    const size = Math.max(0, ...gates.map((g) => g.chainId + 1));
    this.scanMask = new Int32Array(size).fill(-1);
    this.proto = new Array<CompiledCondition | undefined>(size);
    // by collection number: the gates inspecting it
    const gatesFor = new Map<number, number[]>();
    gates.forEach((g, i) => {
      for (const sel of g.targets.include) {
        if (sel.count) continue;
        const list = gatesFor.get(sel.index) ?? [];
        if (!list.includes(i)) list.push(i);
        gatesFor.set(sel.index, list);
      }
      if (this.proto[g.chainId] !== undefined) return;
      this.proto[g.chainId] = g;
      this.scanMask[g.chainId] = g.changesOn & ~F_UPPER;
    });
    const members: number[][] = [];
    const setOf = new Int32Array(COLLECTIONS.length).fill(-1);
    for (const [col, list] of gatesFor) {
      list.sort((a, b) => a - b);
      let i = members.findIndex((x) => x.join() === list.join());
      if (i < 0) i = members.push(list) - 1;
      setOf[col] = i;
    }
    this.sets = members.map((list) => [...new Set(list.map((i) => gates[i]!.chainId))].sort((a, b) => a - b));
    this.setOf = setOf;
    this.setMask = Int32Array.from(this.sets, (chains) => chains.reduce((m, c) => m | this.scanMask[c]!, 0));
    this.inSet = new Uint8Array(members.length * gates.length);
    members.forEach((list, i) => list.forEach((gate) => (this.inSet[i * gates.length + gate] = 1)));
    this.quick = members.map((list) => quickTest(list.flatMap((i) => gates[i]!.literals ?? [])));
    this.seen = new Uint8Array(gates.length);
    this.stamp = new Int32Array(gates.length);
  }
}

/** Values this long are first tested with their gate set's quick regex (shorter ones cost less to scan than to test). */
export const QUICK_MIN_CHARS = 256;
/** A gate set with more literals than this gets no quick test (a long alternation is no faster than the automaton). */
const QUICK_MAX_LITERALS = 16;
/** Up to this many literals with letters get a regex each; more share one alternation. */
const QUICK_SPLIT = 4;

/** Whether a value holds one of a gate set's literals (see GateSet.quick). */
export type QuickTest = (value: string) => boolean;

const escapeRegex = (l: string): string => l.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");

/**
 * The quick test of a gate set's literals, or undefined when they are too many. A literal without ASCII
 * letters is looked for with includes (case does not matter to it), one with letters with a case-insensitive
 * regex of its own: V8 searches a single literal several times faster than an alternation of three (3.0
 * against 1.1 µs over a 4.7 KB JSON body for the bundled body rules' "%uff", "<!" and XInclude namespace).
 */
function quickTest(literals: readonly string[]): QuickTest | undefined {
  const distinct = [...new Set(literals)].filter((l) => l.length > 0);
  if (distinct.length === 0 || distinct.length > QUICK_MAX_LITERALS) return undefined;
  const plain = distinct.filter((l) => !/[a-z]/i.test(l));
  const lettered = distinct.filter((l) => /[a-z]/i.test(l));
  // ASCII case is ignored as the automaton ignores it; "i" without "u" folds no other letter onto ASCII,
  // so a regex finds at least what the automaton finds
  const regexes = lettered.length <= QUICK_SPLIT ? lettered.map((l) => new RegExp(escapeRegex(l), "i")) : [new RegExp(lettered.map(escapeRegex).join("|"), "i")];
  return (value) => {
    for (let i = 0; i < plain.length; i++) if (value.includes(plain[i]!)) return true;
    for (let i = 0; i < regexes.length; i++) if (regexes[i]!.test(value)) return true;
    return false;
  };
}
