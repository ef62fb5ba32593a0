/**
 * What the engine works out once per request and shares between rules: each
 * distinct value's features and transformed forms, and which rule gates
 * (required literals, prefilter/literals.ts) each value triggers.
 *
 * One Aho-Corasick automaton holds the literals of every gated rule,
 * whatever its transformations. A value is scanned once as it is; that scan
 * answers for every chain that leaves the value alone (its features meet
 * none of the chain's, up to ASCII case, which the automaton ignores). Only
 * the chains that do change the value transform it and scan the result, and
 * equal results share one scan. An ordinary value (a name, a number, an
 * address) costs one feature pass and one scan for all rules together.
 */
import type { CompiledCondition } from "./compile.js";
import { featuresOf, F_UPPER } from "./prefilter/features.js";
import { TriggerMatcher } from "./prefilter/trigger-matcher.js";
import type { Arg, Collection, ParsedRequest } from "./types.js";
import { ValueMemo, type Known } from "./value-memo.js";

/** The gated conditions of an engine, as one automaton (built once per engine). */
export class GateSet {
  readonly matcher: TriggerMatcher;
  /** Chain id of each gate. */
  readonly chainOf: Int32Array;
  /** By chain id: features on which the chain changes a value beyond ASCII case (-1 = no gate uses the chain). */
  readonly scanMask: Int32Array;
  /** By chain id: a condition with that chain, to transform with. */
  readonly proto: (CompiledCondition | undefined)[];
  /** Chain ids with gates. */
  readonly chains: readonly number[];
  /** Scratch for TriggerMatcher.slotsIn. */
  readonly seen: Uint8Array;
  readonly memo: ValueMemo;
  /** Words of a Known.clean bitset. */
  readonly cleanWords: number;

  /** gates[i] is gate i's condition (it must have literals); conditions: how many memoizable conditions the engine numbers. */
  constructor(gates: readonly CompiledCondition[], conditions: number, remember = true) {
    this.memo = new ValueMemo(remember);
    this.cleanWords = Math.ceil(conditions / 32);
    this.matcher = new TriggerMatcher(gates.map((g) => g.literals ?? []));
    this.chainOf = Int32Array.from(gates, (g) => g.chainId);
    const size = Math.max(0, ...gates.map((g) => g.chainId + 1));
    this.scanMask = new Int32Array(size).fill(-1);
    this.proto = new Array<CompiledCondition | undefined>(size);
    const chains: number[] = [];
    for (const g of gates) {
      if (this.proto[g.chainId] !== undefined) continue;
      this.proto[g.chainId] = g;
      this.scanMask[g.chainId] = g.changesOn & ~F_UPPER;
      chains.push(g.chainId);
    }
    this.chains = chains;
    this.seen = new Uint8Array(gates.length);
  }
}

/** A distinct value of the request: what is known about it, and its transformed forms. */
export interface ValueState {
  readonly value: string;
  readonly known: Known;
  /** By chain id (only for chains that change the value); kept for this request only. */
  forms?: (string | undefined)[];
}

const NO_GATES: readonly number[] = [];

export class Inspection {
  private readonly values = new Map<string, ValueState>();
  /** Automaton hits by scanned string (a raw value or a transformed form). */
  private readonly hits = new Map<string, readonly number[]>();
  /** By collection: the state of each value, in order. */
  private readonly columns = new Map<Collection, readonly ValueState[]>();
  /** By collection: gate → indices of the collection's values that trigger it. */
  private readonly indexes = new Map<Collection, ReadonlyMap<number, readonly number[]>>();

  constructor(
    readonly req: ParsedRequest,
    private readonly gates: GateSet,
  ) {}

  /** The state of a value (one per distinct value and request). */
  state(v: string): ValueState {
    let st = this.values.get(v);
    if (st === undefined) {
      let known = this.gates.memo.get(v);
      if (known === undefined) {
        known = { features: featuresOf(v), clean: new Uint32Array(this.gates.cleanWords) };
        this.gates.memo.set(v, known);
      }
      st = { value: v, known };
      this.values.set(v, st);
    }
    return st;
  }

  /** The states of a collection's values, in order (looked up once per collection and request). */
  column(col: Collection, args: readonly Arg[]): readonly ValueState[] {
    let c = this.columns.get(col);
    if (c === undefined) {
      const out = new Array<ValueState>(args.length);
      for (let i = 0; i < args.length; i++) out[i] = this.state(args[i]!.value);
      this.columns.set(col, (c = out));
    }
    return c;
  }

  /** Indices of the collection's values that trigger `gate`, or undefined for none. */
  triggering(col: Collection, args: readonly Arg[], gate: number): readonly number[] | undefined {
    let idx = this.indexes.get(col);
    if (idx === undefined) {
      const states = this.column(col, args);
      const m = new Map<number, number[]>();
      for (let i = 0; i < states.length; i++) {
        const gs = this.gatesOf(states[i]!);
        for (let k = 0; k < gs.length; k++) {
          const list = m.get(gs[k]!);
          if (list === undefined) m.set(gs[k]!, [i]);
          else list.push(i);
        }
      }
      this.indexes.set(col, (idx = m));
    }
    return idx.get(gate);
  }

  private gatesOf(st: ValueState): readonly number[] {
    const known = st.known;
    if (known.gates !== undefined) return known.gates;
    const g = this.gates;
    const f = known.features;
    const v = st.value;
    const raw = this.scan(v);
    let out: number[] | undefined;
    for (let k = 0; k < raw.length; k++) {
      if ((f & g.scanMask[g.chainOf[raw[k]!]!]!) === 0) (out ??= []).push(raw[k]!);
    }
    for (let c = 0; c < g.chains.length; c++) {
      const chain = g.chains[c]!;
      if ((f & g.scanMask[chain]!) === 0) continue;
      const t = transformed(g.proto[chain]!, st);
      const hs = t === v ? raw : this.scan(t);
      for (let k = 0; k < hs.length; k++) if (g.chainOf[hs[k]!] === chain) (out ??= []).push(hs[k]!);
    }
    known.gates = out ?? NO_GATES;
    return known.gates;
  }

  private scan(s: string): readonly number[] {
    let h = this.hits.get(s);
    if (h === undefined) {
      const found: number[] = [];
      this.gates.matcher.slotsIn(s, found, this.gates.seen);
      h = found.length === 0 ? NO_GATES : found;
      this.hits.set(s, h);
    }
    return h;
  }
}

/** Whether condition number `cond` is known not to match the value. */
export function isClean(st: ValueState, cond: number): boolean {
  return (st.known.clean[cond >>> 5]! & (1 << (cond & 31))) !== 0;
}

export function markClean(st: ValueState, cond: number): void {
  st.known.clean[cond >>> 5]! |= 1 << (cond & 31);
}

/** The value after the condition's transformations (computed once per chain, value and request). */
export function transformed(c: CompiledCondition, st: ValueState): string {
  const v = st.value;
  if ((st.known.features & c.changesOn) === 0) return v;
  const forms = (st.forms ??= []);
  let t = forms[c.chainId];
  if (t === undefined) {
    t = v;
    const ts = c.transforms;
    for (let i = 0; i < ts.length; i++) t = ts[i]!(t);
    forms[c.chainId] = t;
  }
  return t;
}
