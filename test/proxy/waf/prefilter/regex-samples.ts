/**
 * Random strings a regular expression (probably) matches, for soundness
 * property tests of the WAF prefilter. Written independently of the code
 * under test: a small parser for the regex syntax the rules use (literal
 * characters, escapes, classes, groups, alternation, bounded repeats; anything
 * else makes `samples` return undefined), and a generator that walks it.
 * Strings are not guaranteed to match (anchors, \b): callers filter them
 * with the real regex.
 */
import { seededRandom } from "../../../helpers/seeded-random.js";

/** rnd(n) is a seeded integer in [0, n). */
export function prng(seed: number): (n: number) => number {
  const next = seededRandom(seed);
  return (n) => Math.floor(next() * n);
}
export type Rnd = ReturnType<typeof prng>;

type Node = { t: "lit"; c: string } | { t: "pick"; chars: string[] } | { t: "alt"; alts: Node[][] } | { t: "rep"; node: Node; min: number; max: number };
class Unsupported extends Error {}

const WIDE = [0x2028, 0x2029, 0x3000, 0xfeff, 0x1680, 0x2000, 0x200a, 0x202f, 0x205f, 0x2215, 0xff1c];
const POOL = [...Array.from({ length: 256 }, (_, i) => i), ...WIDE].map((c) => String.fromCharCode(c));
const members = (cls: string, extra: string[]): string[] => {
  const re = new RegExp(`^${cls}$`);
  return [...new Set([...POOL, ...extra])].filter((c) => re.test(c));
};

class GenParser {
  i = 0;
  constructor(private readonly s: string) {}
  alt(): Node[][] {
    const alts = [this.seq()];
    while (this.s[this.i] === "|") {
      this.i++;
      alts.push(this.seq());
    }
    return alts;
  }
  private seq(): Node[] {
    const out: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== "|" && this.s[this.i] !== ")") out.push(this.quant());
    return out;
  }
  private quant(): Node {
    const node = this.atom();
    const c = this.s[this.i];
    let min: number;
    let max: number;
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i, this.i + 20));
    if (c === "*" || c === "+" || c === "?") {
      [min, max] = c === "*" ? [0, 3] : c === "+" ? [1, 4] : [0, 1];
      this.i++;
    } else if (c === "{" && m !== null) {
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? min + 3 : Number(m[3]);
      this.i += m[0].length;
    } else {
      return node;
    }
    if (this.s[this.i] === "?") this.i++;
    return { t: "rep", node, min, max: Math.min(max, min + 3) };
  }
  private atom(): Node {
    const s = this.s;
    const c = s[this.i]!;
    if (c === "(") {
      this.i++;
      if (s[this.i] === "?") {
        if (s[this.i + 1] === ":") this.i += 2;
        else if (s[this.i + 1] === "<" && /\w/.test(s[this.i + 2]!)) this.i = s.indexOf(">", this.i) + 1;
        else throw new Unsupported("lookaround");
      }
      const alts = this.alt();
      if (s[this.i++] !== ")") throw new Unsupported("unclosed");
      return { t: "alt", alts };
    }
    if (c === "[") {
      let j = this.i + 1;
      if (s[j] === "^") j++;
      if (s[j] !== "]") while (j < s.length && s[j] !== "]") j += s[j] === "\\" ? 2 : 1;
      const text = s.slice(this.i, j + 1);
      this.i = j + 1;
      const extra = [...text.matchAll(/\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4}))/g)].map((e) => String.fromCharCode(Number.parseInt(e[1] ?? e[2]!, 16)));
      return { t: "pick", chars: members(text, extra) };
    }
    this.i++;
    if (c === "^" || c === "$") return { t: "alt", alts: [[]] };
    if (c === ".") return { t: "pick", chars: members(".", []) };
    if (c !== "\\") return { t: "lit", c };
    const n = s[this.i++]!;
    if ("dDwWsS".includes(n)) return { t: "pick", chars: members(`\\${n}`, []) };
    if (n === "b" || n === "B") return { t: "alt", alts: [[]] };
    if (/[1-9kpPu]/.test(n) && !(n === "u" && /^[0-9a-fA-F]{4}/.test(s.slice(this.i)))) throw new Unsupported("escape");
    if (n === "x" || n === "u") {
      const len = n === "x" ? 2 : 4;
      const h = s.slice(this.i, this.i + len);
      if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== len) return { t: "lit", c: n };
      this.i += len;
      return { t: "lit", c: String.fromCharCode(Number.parseInt(h, 16)) };
    }
    if (n === "c") return { t: "lit", c: String.fromCharCode(s.charCodeAt(this.i++) & 31) };
    const simple: Record<string, string> = { n: "\n", r: "\r", t: "\t", f: "\f", v: "\v", "0": "\0" };
    return { t: "lit", c: simple[n] ?? n };
  }
}

function gen(nodes: Node[], rnd: Rnd): string {
  let out = "";
  for (const n of nodes) {
    if (n.t === "lit") out += n.c;
    else if (n.t === "pick") {
      if (n.chars.length === 0) throw new Unsupported("empty class");
      out += n.chars[rnd(n.chars.length)];
    } else if (n.t === "alt") out += gen(n.alts[rnd(n.alts.length)]!, rnd);
    else for (let k = n.min + rnd(n.max - n.min + 1); k > 0; k--) out += gen([n.node], rnd);
  }
  return out;
}

/** Random strings built from the pattern (most match it; the caller filters with the real regex), letters case-flipped under (?i). */
export function samples(src: string, count: number, rnd: Rnd): string[] | undefined {
  const lead = /^\(\?([is]{1,2})\)/.exec(src);
  const body = lead === null ? src : src.slice(lead[0].length);
  let ast: Node[][];
  try {
    const p = new GenParser(body);
    ast = p.alt();
    if (p.i !== body.length) return undefined;
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    try {
      let s = gen(ast[rnd(ast.length)]!, rnd);
      if (lead?.[1]!.includes("i") === true) s = s.replace(/[a-z]/gi, (c) => (rnd(2) === 0 ? c.toUpperCase() : c.toLowerCase()));
      out.push(s);
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
    }
  }
  return out;
}

const ATOMS = ["a", "b", "x", "B", "=", "<", "\\(", "\\.", ":", "/", "'", "_", "-", " ", "\\n", "ab", "se", "[a-c]", "[abc]", "[^a]", "[0-9xy]", "[a-z]", "[\\d_]", "[\\s;]", "[A-F]", "[.:/]", "[;|&`$!]", "\\d", "\\s", "\\w", "\\W", "\\x41", "\\u00e9", "\\b", "^", "$", "."];
const QUANTS = ["", "", "", "", "?", "*", "+", "{2}", "{1,3}", "{0,2}", "{2,}", "+?", "??"];

/** A random small pattern over a few characters, classes, escapes, groups and quantifiers (may be invalid). */
export function randomRegex(rnd: Rnd, depth: number): string {
  const branches = 1 + (rnd(3) === 0 ? rnd(3) : 0);
  const out: string[] = [];
  for (let b = 0; b < branches; b++) {
    let s = "";
    for (let k = 1 + rnd(5); k > 0; k--) {
      const atom = depth > 0 && rnd(4) === 0 ? `(?:${randomRegex(rnd, depth - 1)})` : ATOMS[rnd(ATOMS.length)]!;
      s += atom + (["^", "$", "\\b"].includes(atom) ? "" : QUANTS[rnd(QUANTS.length)]!);
    }
    out.push(s);
  }
  return out.join("|");
}

