/**
 * One Aho-Corasick automaton over many literals, each owned by a slot:
 * `slotsIn` reports every slot whose literal occurs in a value (the engine's
 * prefilter), `firstIn` stops at the first occurrence (the `phrases`
 * operator). Case-insensitive for ASCII.
 *
 * Compiled to a dense DFA over an alphabet of the characters the literals
 * use (every other character is one class), so a value costs two array reads
 * per character and no failure-link walks: this pass runs over every
 * inspected value of a request.
 */
import { lowerAscii } from "./literals.js";

/** The compiled automaton, for passes that walk it themselves (value-scan.ts). */
export interface DfaTables {
  /** Byte-range character → alphabet class (0 = a character no literal uses). */
  readonly classOf: Uint16Array;
  readonly width: number;
  /** delta[state × width + class] → next state. */
  readonly delta: Uint16Array | Int32Array;
  /** States from this one on are accepting (TriggerMatcher.found gives their slots). */
  readonly firstAccepting: number;
}

export class TriggerMatcher {
  readonly slots: number;
  /** Byte-range character → alphabet class (0 = a character no literal uses). */
  private readonly classOf: Uint16Array;
  /** Classes of the characters above U+00FF that literals use (rare: values are mostly latin1 byte strings). */
  private readonly wideClass: Map<number, number>;
  private readonly width: number;
  /** delta[state × width + class] → next state. */
  private readonly delta: Uint16Array | Int32Array;
  /** States from this one on are accepting. */
  private readonly firstAccepting: number;
  /** Slots of the literals ending at each accepting state (fail chain included), by state - firstAccepting. */
  private readonly outs: (readonly number[])[];

  /** literals[i] are the literals of slot i. */
  constructor(literals: readonly (readonly string[])[]) {
    this.slots = literals.length;
    // trie with sparse edges first
    const next: Map<number, number>[] = [new Map()];
    const out: number[][] = [[]];
    const alphabet = new Map<number, number>();
    literals.forEach((lits, slot) => {
      for (const raw of lits) {
        const lit = lowerAscii(raw);
        if (lit.length === 0) continue;
        let s = 0;
        for (let i = 0; i < lit.length; i++) {
          const c = lit.charCodeAt(i);
          if (!alphabet.has(c)) alphabet.set(c, alphabet.size + 1);
          const cls = alphabet.get(c)!;
          let t = next[s]!.get(cls);
          if (t === undefined) {
            t = next.length;
            next.push(new Map());
            out.push([]);
            next[s]!.set(cls, t);
          }
          s = t;
        }
        if (!out[s]!.includes(slot)) out[s]!.push(slot);
      }
    });
    this.classOf = new Uint16Array(256);
    this.wideClass = new Map();
    for (const [c, cls] of alphabet) {
      if (c > 255) {
        this.wideClass.set(c, cls);
        continue;
      }
      this.classOf[c] = cls;
      // ASCII upper case folds onto the lower-case literal's class
      if (c >= 97 && c <= 122) this.classOf[c - 32] = cls;
    }
    const width = alphabet.size + 1;
    const n = next.length;
    const delta = new Int32Array(n * width);
    const fail = new Int32Array(n);
    // breadth-first: a state's row is its own edges over its fail state's row
    const queue: number[] = [];
    for (const [cls, t] of next[0]!) {
      delta[cls] = t;
      queue.push(t);
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      const f = fail[s]!;
      for (const o of out[f]!) if (!out[s]!.includes(o)) out[s]!.push(o);
      for (let cls = 0; cls < width; cls++) delta[s * width + cls] = delta[f * width + cls]!;
      for (const [cls, t] of next[s]!) {
        fail[t] = delta[f * width + cls]!;
        delta[s * width + cls] = t;
        queue.push(t);
      }
    }
    // renumber: breadth-first (the shallow states a benign value keeps coming back to sit together
    // in memory), accepting states last (the scan loop tells a hit by one comparison); 16-bit
    // entries when the states fit, half the cache footprint of 32-bit ones
    const bfs = [0, ...queue];
    const order = bfs.filter((st) => out[st]!.length === 0);
    const firstAccepting = order.length;
    for (const st of bfs) if (out[st]!.length > 0) order.push(st);
    const rank = new Int32Array(n);
    order.forEach((st, i) => (rank[st] = i));
    const rows = n <= 0xffff ? new Uint16Array(n * width) : new Int32Array(n * width);
    for (let i = 0; i < n; i++) {
      const st = order[i]!;
      for (let cls = 0; cls < width; cls++) rows[i * width + cls] = rank[delta[st * width + cls]!]!;
    }
    this.width = width;
    this.delta = rows;
    this.firstAccepting = firstAccepting;
    this.outs = order.slice(firstAccepting).map((st) => out[st]!);
  }

  /** Pushes onto out every slot whose literal occurs in input, once each (seen: scratch of size slots, all 0 before and after). */
  slotsIn(input: string, out: number[], seen: Uint8Array): void {
    const start = out.length;
    const { delta, firstAccepting, classOf, width } = this;
    let s = 0;
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      s = delta[s * width + (c < 256 ? classOf[c]! : this.wideClassOf(c))]!;
      if (s >= firstAccepting) this.found(s, out, seen);
    }
    for (let k = start; k < out.length; k++) seen[out[k]!] = 0;
  }

  /** Pushes onto out the slots of accepting state s not yet seen (a hit is rare: kept out of the scan loops). */
  found(s: number, out: number[], seen: Uint8Array): void {
    const o = this.outs[s - this.firstAccepting]!;
    for (let k = 0; k < o.length; k++) {
      const slot = o[k]!;
      if (seen[slot] === 0) {
        seen[slot] = 1;
        out.push(slot);
      }
    }
  }

  /** The first occurrence: the slot of the longest literal ending at the earliest end position, and that end; undefined when none occurs. */
  firstIn(input: string): { slot: number; end: number } | undefined {
    const { delta, firstAccepting, classOf, width } = this;
    let s = 0;
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      s = delta[s * width + (c < 256 ? classOf[c]! : this.wideClassOf(c))]!;
      if (s >= firstAccepting) return { slot: this.outs[s - firstAccepting]![0]!, end: i + 1 };
    }
    return undefined;
  }

  /** The automaton's tables (see DfaTables). */
  get tables(): DfaTables {
    return { classOf: this.classOf, width: this.width, delta: this.delta, firstAccepting: this.firstAccepting };
  }

  /** Alphabet class of a character above U+00FF. */
  wideClassOf(c: number): number {
    return this.wideClass.get(c) ?? 0;
  }
}
