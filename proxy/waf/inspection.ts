/**
 * What the engine works out once per request and shares between rules: each
 * value's features and transformed forms, and which rule gates (required
 * literals, prefilter/literals.ts) each value triggers.
 *
 * One Aho-Corasick automaton holds the literals of every gated rule,
 * whatever its transformations. A value is scanned once as it is; that scan
 * answers for every chain that leaves the value alone (its features meet
 * none of the chain's, up to ASCII case, which the automaton ignores). Only
 * the chains that do change the value transform it and scan the result, and
 * equal results share one scan. An ordinary value (a name, a number, an
 * address) costs one pass (features, automaton and memory hash together,
 * prefilter/value-scan.ts) for all rules together. The automaton and what
 * outlives a request are the engine's GateSet (gate-set.ts).
 */
import type { CompiledCondition } from "./compile.js";
import { QUICK_MIN_CHARS, type GateSet } from "./gate-set.js";
import { featuresOf, F_HIGH, F_UPPER } from "./prefilter/features.js";
import { lowercase } from "./transforms/text.js";
import { COLLECTION_INDEX, COLLECTIONS, type Arg, type Collection, type ParsedRequest } from "./types.js";
import { detached } from "./request/text.js";
import { featuresOfKnown, isClean, MEMO_VALUE_CHARS, type Known } from "./value-memo.js";

const NO_GATES: readonly number[] = [];
const NO_INDEX: ReadonlyMap<number, readonly number[]> = new Map();
const indexOf = (c: Collection): number => COLLECTION_INDEX.get(c)!;
const ARGS = indexOf("args");
const ARGS_NAMES = indexOf("args_names");
const QUERY_ARGS = indexOf("query_args");
const QUERY_NAMES = indexOf("query_args_names");
const BODY_ARGS = indexOf("body_args");
const BODY_NAMES = indexOf("body_args_names");
/** Collections up to this many values are searched, not indexed, for a triggered gate. */
const SMALL_COLLECTION = 32;
/** Lists longer than this are looked for among the columns already made before a column is made for them. */
const SHARED_COLUMN = 8;

export class Inspection {
  /** Automaton hits by transformed form (raw values are scanned once each, in their record). */
  private hits: Map<string, readonly number[]> | undefined;
  /** By collection number: what is known about each value, in order. */
  private readonly columns: (readonly Known[] | undefined)[] = new Array<readonly Known[] | undefined>(COLLECTIONS.length);
  /** By collection number: the list a column was made from (args shares body_args' list when there is no query, and its column with it). */
  private readonly sources: (readonly Arg[] | undefined)[] = new Array<readonly Arg[] | undefined>(COLLECTIONS.length);
  /** By collection number: gate → indices of the collection's values that trigger it (made when a triggered rule asks). */
  private indexes: (ReadonlyMap<number, readonly number[]> | undefined)[] | undefined;

  /** This request's number (stamps marks kept outside the inspection, so none are cleared between requests). */
  readonly epoch: number;

  constructor(
    readonly req: ParsedRequest,
    private readonly gates: GateSet,
  ) {
    this.epoch = gates.epoch = (gates.epoch + 1) & 0x3fffffff;
  }

  /**
   * What is known about a value: the record kept from an earlier request, or a new one. A value up to
   * MEMO_VALUE_CHARS is scanned at once (features, automaton, doorkeeper hash in one pass) and kept from its
   * second request on; a longer one (a raw body) is looked at only as far as some rule needs.
   * Records are not shared within a request beyond a column: the same fresh value twice is looked at twice,
   * which costs less than a per-request map of every value.
   */
  state(v: string): Known {
    if (v.length > MEMO_VALUE_CHARS) return record(v, -1, undefined, false);
    const g = this.gates;
    const memo = g.memo;
    const held = memo.get(v);
    if (held !== undefined) return held;
    const features = g.scanner.scan(v);
    const kept = memo.admit(g.scanner.hash, this.epoch);
    // a kept value outlives its request: a copy, or a value cut from a body would keep the whole body alive
    const k = record(kept ? detached(v) : v, features, g.scanner.hits, kept);
    if (kept) memo.set(k.value, k);
    return k;
  }

  /** The records of the values of collection number n, in order (looked up once per collection and request). */
  column(n: number, args: readonly Arg[]): readonly Known[] {
    let c = this.columns[n];
    if (c === undefined) {
      const sources = this.sources;
      // only a long list is worth the search (args and body_args are the same list when there is no query)
      if (args.length > SHARED_COLUMN) for (let m = 0; m < sources.length && c === undefined; m++) if (sources[m] === args) c = this.columns[m];
      // args joins the query's and the body's lists when both have values: its column joins theirs, so each value has one record
      if (c === undefined && (n === ARGS || n === ARGS_NAMES)) c = this.joined(n === ARGS ? QUERY_ARGS : QUERY_NAMES, n === ARGS ? BODY_ARGS : BODY_NAMES, args);
      if (c === undefined && args.length > SMALL_COLLECTION) c = this.repeated(n, args);
      if (c === undefined) {
        const out = new Array<Known>(args.length);
        let kept = true;
        for (let i = 0; i < args.length; i++) kept = (out[i] = this.state(args[i]!.value)).kept === true && kept;
        c = out;
        // a large column of kept values (an API's field names) is offered to the next request (GateSet.lastColumn)
        if (kept && args.length > SMALL_COLLECTION) {
          this.gates.lastColumn[n] = out;
          this.gates.lastQuiet[n] = 0;
          // a list of shared entries is kept to be compared entry by entry; any other would hold its request's body
          this.gates.lastArgs[n] = args.every((a) => Object.isFrozen(a)) ? args : undefined;
        }
      }
      this.columns[n] = c;
      sources[n] = args;
    }
    return c;
  }

  /** The last request's column of collection n when this one's values are equal to its values, in order. */
  private repeated(n: number, args: readonly Arg[]): readonly Known[] | undefined {
    const last = this.gates.lastColumn[n];
    if (last === undefined || last.length !== args.length) return undefined;
    // a JSON body's names are the same entries every time (request/name-cache.ts): one pointer each
    const shared = this.gates.lastArgs[n];
    if (shared !== undefined) {
      for (let i = 0; i < args.length; i++) if (args[i] !== shared[i]) return undefined;
      return last;
    }
    for (let i = 0; i < args.length; i++) if (args[i]!.value !== last[i]!.value) return undefined;
    return last;
  }

  /** The column of a list made of collections q and b, when it is exactly their values (see column). */
  private joined(q: number, b: number, args: readonly Arg[]): readonly Known[] | undefined {
    const qa = this.req.collections.at(q);
    const ba = this.req.collections.at(b);
    if (qa === undefined || ba === undefined || qa.length + ba.length !== args.length || args[0] !== qa[0] || args[qa.length] !== ba[0]) return undefined;
    return this.column(q, qa).concat(this.column(b, ba));
  }

  /** The value after the condition's transformations (worked out once per chain and value). */
  transformed(c: CompiledCondition, k: Known): string {
    if (c.changesOn === 0) return k.value;
    const hit = featuresOfKnown(k) & c.changesOn;
    if (hit === 0) return k.value;
    if (hit === F_UPPER && c.lowersOnly) {
      let low = k.lower;
      if (low === undefined) {
        // without units 0x80-0xFF (F_HIGH) there are no Latin-1 capitals for lowercase to keep: plain toLowerCase
        // gives the same string without lowercase's two regular expressions
        k.lower = low = (featuresOfKnown(k) & F_HIGH) === 0 ? k.value.toLowerCase() : lowercase(k.value);
        // only a kept record's forms count against the memory's budget (a fresh value's go with its request)
        if (k.kept === true) this.gates.memo.charge(low.length);
      }
      return low;
    }
    const forms = (k.forms ??= []);
    let t = forms[c.chainId];
    if (t === undefined) {
      t = k.value;
      const ts = c.transforms;
      const steps = c.stepChangesOn;
      // a step whose features the value lacks gives it back unchanged (features.ts): most values of a long
      // chain (nine steps for XSS) meet one or two steps that do anything; the features are worked out again
      // only after a step changed the value
      let f = featuresOfKnown(k);
      for (let i = 0; i < ts.length; i++) {
        if ((f & steps[i]!) === 0) continue;
        const next = ts[i]!(t);
        if (next !== t) {
          t = next;
          f = featuresOf(t);
        }
      }
      forms[c.chainId] = t;
      if (t !== k.value && k.kept === true) this.gates.memo.charge(t.length);
    }
    return t;
  }

  /**
   * Marks the gates some value of the request triggers (see hit): a rule
   * whose gate no value triggers is skipped without looking at its targets.
   * The marks live in the GateSet, stamped with a per-request number, so no
   * array is made per request (inspections never interleave: they are
   * synchronous).
   */
  gateHits(): void {
    const g = this.gates;
    const epoch = this.epoch;
    const stamp = g.stamp;
    const cols = this.req.collections;
    for (let n = 0; n < COLLECTIONS.length; n++) {
      const set = g.setOf[n]!;
      if (set < 0) continue;
      const args = cols.at(n);
      if (args === undefined || args.length === 0) continue;
      const states = this.column(n, args);
      const large = args.length > SMALL_COLLECTION;
      // the same values under the same gates (args and body_args without a query) are marked already
      const twin = large ? this.markedTwin(n, states, set) : -1;
      if (twin >= 0) {
        this.indexes![n] = this.indexes![twin];
        continue;
      }
      // the last request's column again, which woke no gate then: its records' gates are worked out once and
      // only lose hits as their values are found clean, so it wakes none now
      const quiet = states === g.lastColumn[n] && g.lastQuiet[n] === 1;
      if (quiet) {
        (this.indexes ??= new Array<ReadonlyMap<number, readonly number[]> | undefined>(COLLECTIONS.length))[n] = NO_INDEX;
        continue;
      }
      // a large collection's index (see triggering) is made in the same pass: most values trigger nothing,
      // so it costs a Map only when some value does
      let index: Map<number, number[]> | undefined;
      const setMask = g.setMask[set]!;
      for (let i = 0; i < states.length; i++) {
        const st = states[i]!;
        // checked before the call as well: most values of a JSON body end here
        if (wakesNothing(st, setMask)) continue;
        const gs = this.gatesIn(st, set);
        for (let k = 0; k < gs.length; k++) {
          const gate = gs[k]!;
          // a value known not to match the gate's condition does not wake it: a JSON body's field names
          // ("items.0.sku" holds "0.", a literal of a command-injection gate) come back clean request after request
          if (isClean(st, g.condOf[gate]!)) continue;
          stamp[gate] = epoch;
          if (!large) continue;
          const list = (index ??= new Map()).get(gate);
          if (list === undefined) index.set(gate, [i]);
          else list.push(i);
        }
      }
      // only a request with a large collection (a JSON body, a long query) gets the array of indexes
      if (large) (this.indexes ??= new Array<ReadonlyMap<number, readonly number[]> | undefined>(COLLECTIONS.length))[n] = index ?? NO_INDEX;
      if (states === g.lastColumn[n]) g.lastQuiet[n] = index === undefined ? 1 : 0;
    }
  }

  /** A collection before n with the same column and gate set, whose marks and index n can share (-1 when none). */
  private markedTwin(n: number, states: readonly Known[], set: number): number {
    for (let m = 0; m < n; m++) if (this.columns[m] === states && this.gates.setOf[m] === set && this.indexes?.[m] !== undefined) return m;
    return -1;
  }

  /** After gateHits: whether some value triggered `gate`. */
  hit(gate: number): boolean {
    return this.gates.stamp[gate] === this.epoch;
  }

  /** The chain set of the gates inspecting collection number n (see GateSet.sets), or -1 when none does. */
  setOf(n: number): number {
    return this.gates.setOf[n]!;
  }

  /** Whether a value triggers `gate` of chain set `set`. */
  triggers(k: Known, set: number, gate: number): boolean {
    return this.gatesIn(k, set).includes(gate);
  }

  /**
   * For a large collection, the indices of its values that trigger `gate`
   * ([] when none). undefined for a small one (up to SMALL_COLLECTION
   * values: headers, a query), which the caller looks through with
   * `triggers` instead of having an index built.
   */
  triggering(n: number, args: readonly Arg[], gate: number): readonly number[] | undefined {
    if (args.length <= SMALL_COLLECTION) return undefined;
    // gateHits makes the indexes of all large collections (a rule asks only after it ran)
    if (this.indexes?.[n] === undefined) this.gateHits();
    return this.indexes![n]?.get(gate) ?? NO_GATES;
  }

  /** The gates of one chain set that a value triggers. */
  private gatesIn(k: Known, set: number): readonly number[] {
    const g = this.gates;
    const setMask = g.setMask[set]!;
    if (wakesNothing(k, setMask)) return NO_GATES;
    const done = k.bySet?.[set];
    if (done !== undefined) return done;
    const width = g.chainOf.length;
    if (setMask === 0 || (featuresOfKnown(k) & setMask) === 0) {
      // every chain of the set leaves the value alone (up to case): its raw hits answer for all of them,
      // and a value without any (most values) needs no record of that
      if (k.raw === undefined && k.value.length >= QUICK_MIN_CHARS && g.quick[set]?.(k.value) === false) {
        // remembered: a kept value (up to MEMO_VALUE_CHARS) is not tested again in later requests
        (k.bySet ??= [])[set] = NO_GATES;
        return NO_GATES;
      }
      const raw = (k.raw ??= this.scanRaw(k.value));
      if (raw.length === 0) return NO_GATES;
      let only: number[] | undefined;
      for (let i = 0; i < raw.length; i++) if (g.inSet[set * width + raw[i]!] === 1) (only ??= []).push(raw[i]!);
      (k.bySet ??= [])[set] = only ?? NO_GATES;
      return only ?? NO_GATES;
    }
    const chains = g.sets[set]!;
    let out: number[] | undefined;
    for (let c = 0; c < chains.length; c++) {
      const gs = this.gatesFor(k, chains[c]!);
      for (let i = 0; i < gs.length; i++) if (g.inSet[set * width + gs[i]!] === 1) (out ??= []).push(gs[i]!);
    }
    (k.bySet ??= [])[set] = out ?? NO_GATES;
    return out ?? NO_GATES;
  }

  /** The gates of one chain that a value triggers: the raw value's hits when the chain leaves it alone (up to ASCII case), else its transformed form's. */
  private gatesFor(k: Known, chain: number): readonly number[] {
    const done = k.byChain?.[chain];
    if (done !== undefined) return done;
    const g = this.gates;
    let hs: readonly number[];
    if ((featuresOfKnown(k) & g.scanMask[chain]!) === 0) {
      hs = (k.raw ??= this.scanRaw(k.value));
    } else {
      const t = this.transformed(g.proto[chain]!, k);
      hs = t === k.value ? (k.raw ??= this.scanRaw(t)) : this.scan(t);
    }
    let out: number[] | undefined;
    for (let i = 0; i < hs.length; i++) if (g.chainOf[hs[i]!] === chain) (out ??= []).push(hs[i]!);
    (k.byChain ??= [])[chain] = out ?? NO_GATES;
    return out ?? NO_GATES;
  }

  /** The automaton's hits in a raw value (a record's own string: no other record scans it). */
  private scanRaw(s: string): readonly number[] {
    // most values hit nothing: the scan fills a shared scratch array, copied only when it holds hits
    const found = this.gates.found;
    found.length = 0;
    this.gates.matcher.slotsIn(s, found, this.gates.seen);
    return found.length === 0 ? NO_GATES : found.slice();
  }

  /** The automaton's hits in a transformed form (equal forms of different values share one scan). */
  private scan(s: string): readonly number[] {
    let h = this.hits?.get(s);
    if (h === undefined) {
      const found: number[] = [];
      this.gates.matcher.slotsIn(s, found, this.gates.seen);
      h = found.length === 0 ? NO_GATES : found;
      (this.hits ??= new Map()).set(s, h);
    }
    return h;
  }
}

/** Scanned and holding no literal, with nothing any chain of a set (setMask) would change: the value wakes no gate of it. */
function wakesNothing(k: Known, setMask: number): boolean {
  return k.raw !== undefined && k.raw.length === 0 && k.features >= 0 && (k.features & setMask) === 0;
}

/** A new record; every field from the start: one object shape for all records, no property store grown later. */
function record(value: string, features: number, raw: readonly number[] | undefined, kept: boolean): Known {
  return { value, features, forms: undefined, lower: undefined, raw, byChain: undefined, bySet: undefined, clean: undefined, kept };
}
