/**
 * Required literals of a regular expression (the prefilter idea of RE2 and
 * Hyperscan): a set of strings such that every string the pattern matches
 * contains at least one of them, compared case-insensitively. The engine
 * runs one Aho-Corasick pass per value over the literals of all rules and
 * only runs the regexes whose literals occurred, so a benign value costs one
 * pass instead of one regex per rule.
 *
 * The analysis is conservative: anything it does not understand yields
 * "no constraint" (undefined), which only costs speed, never a miss.
 */

/** What is known about the strings a sub-pattern matches. */
interface Info {
  /** Every match is exactly one of these (lower-cased); undefined = too many or unknown. */
  exact?: Set<string>;
  /** Every match contains one of these; undefined = no constraint. */
  required?: Set<string>;
}

const MAX_EXACT = 24;
const MAX_EXACT_LEN = 24;
const MAX_REQUIRED = 64;
const ANY: Info = {};
const EMPTY: Info = { exact: new Set([""]) };

/** ASCII-only lower-casing: the matcher folds only ASCII, so a literal must not fold more. */
export const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
const lower = lowerAscii;

/** The required literals of `source` (a JS regex source, (?i)/(?s) prefix allowed), or undefined when it has none usable. */
export function requiredLiterals(source: string): string[] | undefined {
  const src = source.replace(/^\(\?[is]{1,2}\)/, "");
  let info: Info;
  try {
    const p = new Parser(src);
    info = p.alternation();
    if (p.pos !== src.length) return undefined;
  } catch {
    return undefined;
  }
  const req = requiredOf(info);
  if (req === undefined || req.size === 0 || req.size > MAX_REQUIRED) return undefined;
  for (const s of req) if (s === "") return undefined;
  return [...req];
}

function requiredOf(i: Info): Set<string> | undefined {
  if (i.exact !== undefined) return i.exact.has("") ? undefined : i.exact;
  return i.required;
}

/** Longest-shortest: prefer the set whose shortest literal is longest (fewer false triggers). */
function better(a: Set<string> | undefined, b: Set<string> | undefined): Set<string> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const min = (s: Set<string>): number => Math.min(...[...s].map((x) => x.length));
  return min(b) > min(a) || (min(b) === min(a) && b.size < a.size) ? b : a;
}

function concat(a: Info, b: Info): Info {
  if (a.exact !== undefined && b.exact !== undefined && a.exact.size * b.exact.size <= MAX_EXACT) {
    const out = new Set<string>();
    for (const x of a.exact) for (const y of b.exact) out.add(x + y);
    if ([...out].every((s) => s.length <= MAX_EXACT_LEN)) return { exact: out };
  }
  return { required: better(requiredOf(a), requiredOf(b)) };
}

function alternate(list: Info[]): Info {
  if (list.every((i) => i.exact !== undefined)) {
    const out = new Set<string>();
    for (const i of list) for (const s of i.exact!) out.add(s);
    if (out.size <= MAX_EXACT) return { exact: out };
  }
  const out = new Set<string>();
  for (const i of list) {
    const r = requiredOf(i);
    if (r === undefined) return ANY;
    for (const s of r) out.add(s);
  }
  return { required: out };
}

/** A class or escape that matches one of few characters (after lower-casing) is a small exact set; otherwise unknown. */
function charSet(chars: Set<string> | undefined): Info {
  if (chars === undefined || chars.size === 0 || chars.size > 4) return ANY;
  return { exact: new Set([...chars].map(lower)) };
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  alternation(): Info {
    const branches = [this.sequence()];
    while (this.s[this.pos] === "|") {
      this.pos++;
      branches.push(this.sequence());
    }
    return branches.length === 1 ? branches[0]! : alternate(branches);
  }

  private sequence(): Info {
    let acc: Info = EMPTY;
    while (this.pos < this.s.length && this.s[this.pos] !== "|" && this.s[this.pos] !== ")") {
      acc = concat(acc, this.quantified());
    }
    return acc;
  }

  private quantified(): Info {
    const atom = this.atom();
    const c = this.s[this.pos];
    let min = -1;
    if (c === "*" || c === "?") {
      min = 0;
      this.pos++;
    } else if (c === "+") {
      min = 1;
      this.pos++;
    } else if (c === "{") {
      const m = /^\{(\d+)(,\d*)?\}/.exec(this.s.slice(this.pos));
      if (m !== null) {
        min = Number(m[1]);
        this.pos += m[0].length;
        if (m[2] === undefined && min === 1) min = -1; // {1} is the atom itself
      }
    }
    if (min === -1) return atom;
    if (this.s[this.pos] === "?") this.pos++; // lazy
    if (min === 0) return atom.exact !== undefined && atom.exact.size < MAX_EXACT ? { exact: new Set(["", ...atom.exact]) } : ANY;
    return { required: requiredOf(atom) };
  }

  private atom(): Info {
    const c = this.s[this.pos]!;
    if (c === "(") {
      this.pos++;
      if (this.s[this.pos] === "?") {
        if (this.s[this.pos + 1] === ":") this.pos += 2;
        else if (this.s[this.pos + 1] === "<" && /[A-Za-z_]/.test(this.s[this.pos + 2] ?? "")) this.pos = this.s.indexOf(">", this.pos) + 1;
        else throw new Error("unsupported group");
      }
      const inner = this.alternation();
      if (this.s[this.pos] !== ")") throw new Error("unclosed group");
      this.pos++;
      return inner;
    }
    if (c === "[") return charSet(this.cls());
    if (c === "\\") return this.escape();
    if (c === "^" || c === "$") {
      this.pos++;
      return EMPTY;
    }
    if (c === ".") {
      this.pos++;
      return ANY;
    }
    this.pos++;
    return { exact: new Set([lower(c)]) };
  }

  /** An escape outside a class. */
  private escape(): Info {
    const ch = this.escapedChar();
    if (ch === "") return EMPTY; // \b \B
    return ch === undefined ? ANY : { exact: new Set([lower(ch)]) };
  }

  /** The one character an escape stands for; undefined for a class escape (\d \w \s …); "" for an assertion. */
  private escapedChar(): string | undefined {
    const n = this.s[this.pos + 1];
    if (n === undefined) throw new Error("trailing backslash");
    this.pos += 2;
    switch (n) {
      case "d":
      case "D":
      case "w":
      case "W":
      case "s":
      case "S":
        return undefined;
      case "b":
      case "B":
        return "";
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "f":
        return "\f";
      case "v":
        return "\v";
      case "0":
        return "\0";
      case "x": {
        const h = this.s.slice(this.pos, this.pos + 2);
        this.pos += 2;
        return String.fromCharCode(Number.parseInt(h, 16));
      }
      case "u": {
        if (this.s[this.pos] === "{") throw new Error("unsupported escape");
        const h = this.s.slice(this.pos, this.pos + 4);
        this.pos += 4;
        return String.fromCharCode(Number.parseInt(h, 16));
      }
      case "c":
      case "k":
      case "p":
      case "P":
        throw new Error("unsupported escape");
      default:
        if (n >= "1" && n <= "9") throw new Error("back-reference");
        return n;
    }
  }

  /** A character class: its characters when it is small and not negated, else undefined. */
  private cls(): Set<string> | undefined {
    this.pos++;
    const negated = this.s[this.pos] === "^";
    if (negated) this.pos++;
    const chars = new Set<string>();
    let unknown = false;
    let first = true;
    while (this.pos < this.s.length && (this.s[this.pos] !== "]" || first)) {
      first = false;
      let a: string | undefined;
      if (this.s[this.pos] === "\\") {
        a = this.escapedChar();
        if (a === "") a = "\b"; // [\b] is backspace
      } else {
        a = this.s[this.pos++];
      }
      if (this.s[this.pos] === "-" && this.s[this.pos + 1] !== "]" && this.pos + 1 < this.s.length) {
        this.pos++;
        const b = this.s[this.pos] === "\\" ? this.escapedChar() : this.s[this.pos++];
        if (a === undefined || b === undefined) {
          unknown = true;
          continue;
        }
        const lo = a.charCodeAt(0);
        const hi = b.charCodeAt(0);
        if (hi - lo > 8) unknown = true;
        else for (let k = lo; k <= hi; k++) chars.add(lower(String.fromCharCode(k)));
        continue;
      }
      if (a === undefined) unknown = true;
      else chars.add(lower(a));
    }
    if (this.s[this.pos] !== "]") throw new Error("unclosed class");
    this.pos++;
    return negated || unknown ? undefined : chars;
  }
}
