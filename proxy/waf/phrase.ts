/**
 * Multi-pattern phrase matching (ModSecurity's @pm): an Aho-Corasick
 * automaton finds any of thousands of phrases in one pass over the input,
 * so a rule's cost does not grow with its phrase list. Matching is
 * case-insensitive for ASCII, like @pm.
 */

interface Node {
  next: Map<number, number>;
  fail: number;
  /** Length of the longest phrase ending here (0 = none), following fail links. */
  out: number;
}

export class PhraseMatcher {
  private readonly nodes: Node[] = [{ next: new Map(), fail: 0, out: 0 }];
  /** Dense transition table for the root, the hottest state. */
  private readonly rootNext = new Int32Array(256).fill(0);
  readonly size: number;

  constructor(phrases: readonly string[]) {
    const uniq = [...new Set(phrases.map((p) => p.toLowerCase()).filter((p) => p.length > 0))];
    this.size = uniq.length;
    for (const p of uniq) this.add(p);
    this.link();
  }

  private add(phrase: string): void {
    let s = 0;
    for (let i = 0; i < phrase.length; i++) {
      const c = phrase.charCodeAt(i);
      let t = this.nodes[s]!.next.get(c);
      if (t === undefined) {
        t = this.nodes.length;
        this.nodes.push({ next: new Map(), fail: 0, out: 0 });
        this.nodes[s]!.next.set(c, t);
      }
      s = t;
    }
    this.nodes[s]!.out = phrase.length;
  }

  /** Breadth-first: fail links and inherited outputs. */
  private link(): void {
    const queue: number[] = [];
    for (const [c, t] of this.nodes[0]!.next) {
      queue.push(t);
      if (c < 256) this.rootNext[c] = t;
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      const node = this.nodes[s]!;
      for (const [c, t] of node.next) {
        queue.push(t);
        let f = node.fail;
        while (f !== 0 && !this.nodes[f]!.next.has(c)) f = this.nodes[f]!.fail;
        const g = this.nodes[f]!.next.get(c);
        const tn = this.nodes[t]!;
        tn.fail = g !== undefined && g !== t ? g : 0;
        if (tn.out === 0) tn.out = this.nodes[tn.fail]!.out;
      }
    }
  }

  /** The first phrase found in input (lower-cased), or undefined. Linear in input length. */
  find(input: string): string | undefined {
    if (this.size === 0) return undefined;
    const nodes = this.nodes;
    let s = 0;
    for (let i = 0; i < input.length; i++) {
      let c = input.charCodeAt(i);
      if (c >= 65 && c <= 90) c += 32;
      if (s === 0) {
        s = c < 256 ? this.rootNext[c]! : 0;
      } else {
        let t = nodes[s]!.next.get(c);
        while (t === undefined && s !== 0) {
          s = nodes[s]!.fail;
          t = s === 0 ? (c < 256 ? this.rootNext[c]! || undefined : undefined) : nodes[s]!.next.get(c);
        }
        s = t ?? 0;
      }
      const out = nodes[s]!.out;
      if (out > 0) return input.slice(i + 1 - out, i + 1).toLowerCase();
    }
    return undefined;
  }
}
