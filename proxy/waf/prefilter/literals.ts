/**
 * Required literals of a regular expression (the prefilter idea of RE2 and
 * Hyperscan): a set of strings such that every string the pattern matches
 * contains at least one of them, compared case-insensitively. The engine
 * runs one Aho-Corasick pass per value over the literals of all rules and
 * only runs the regexes whose literals occurred, so a benign value costs one
 * pass instead of one regex per rule.
 *
 * The analysis is conservative: anything it does not understand yields
 * "no constraint" (undefined), which only costs speed, never a miss. Where a
 * concatenation offers several sound sets, a cost model (the estimated
 * chance that the set triggers on benign text) picks the most selective.
 */

import { better, MAX_SHORTENED, normalize } from "./literal-sets.js";

export { literalCost, literalSetCost, lowerAscii } from "./literal-sets.js";

/** What is known about the strings a sub-pattern matches (all ASCII-lower-cased). */
interface Info {
  /** Every match is exactly one of these; undefined = too many or unknown. */
  exact?: Set<string>;
  /** Every match contains one of these; undefined = no constraint. */
  required?: Set<string>;
  /**
   * Every match starts (ends) with one of these, none empty; undefined =
   * unknown. Two neighbours' ending × starting strings are then required
   * across their junction: `\s+-` needs " -" (or "\t-" ...), not just "-".
   */
  prefix?: Set<string>;
  suffix?: Set<string>;
}

const MAX_EXACT = 24;
const MAX_EXACT_LEN = 24;
/** Classes up to this size are exact sets (they multiply in concatenations) ... */
const MAX_CLASS_EXACT = 4;
/** ... and up to this size required sets of single characters. */
const MAX_CLASS_REQUIRED = 32;
const ANY: Info = {};
const EMPTY: Info = { exact: new Set([""]) };

const DIGITS = [..."0123456789"];
/** What JS `\s` matches (without the u flag). */
const SPACES = [..."\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"];

/** lowerAscii of one character (the parser's hot path). */
function lower(ch: string): string {
  const c = ch.charCodeAt(0);
  return c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : ch;
}

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
  if (req === undefined || req.size === 0) return undefined;
  return [...req];
}

/** Every match contains one of these (normalized); undefined = no constraint. */
function requiredOf(i: Info): Set<string> | undefined {
  return i.exact !== undefined ? normalize(i.exact) : i.required;
}

/** Strings every match starts with (none empty), or undefined. */
function prefixOf(i: Info): Set<string> | undefined {
  if (i.exact !== undefined) return i.exact.has("") ? undefined : i.exact;
  return i.prefix;
}

/** Strings every match ends with (none empty), or undefined. */
function suffixOf(i: Info): Set<string> | undefined {
  if (i.exact !== undefined) return i.exact.has("") ? undefined : i.exact;
  return i.suffix;
}

/** Ends and starts of the branches of an alternation: every branch must have them. */
function unionOf(sets: (Set<string> | undefined)[]): Set<string> | undefined {
  const out = new Set<string>();
  for (const x of sets) {
    if (x === undefined) return undefined;
    for (const s of x) out.add(s);
  }
  return out.size > MAX_SHORTENED ? undefined : out;
}

/** {x + y}, or undefined when it would exceed `limit` strings. */
function product(a: Set<string>, b: Set<string>, limit: number): Set<string> | undefined {
  if (a.size * b.size > limit) return undefined;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return out;
}

function alternate(list: Info[]): Info {
  if (list.every((i) => i.exact !== undefined)) {
    const out = new Set<string>();
    for (const i of list) for (const s of i.exact!) out.add(s);
    if (out.size <= MAX_EXACT) return { exact: out };
  }
  const prefix = unionOf(list.map(prefixOf));
  const suffix = unionOf(list.map(suffixOf));
  const out = new Set<string>();
  for (const i of list) {
    const r = requiredOf(i);
    if (r === undefined) return { prefix, suffix };
    for (const s of r) out.add(s);
  }
  return { required: normalize(out), prefix, suffix };
}

/** A class or class escape: few characters are an exact set, up to MAX_CLASS_REQUIRED a required set of single characters, more are unknown. */
function charSet(chars: Set<string> | undefined): Info {
  if (chars === undefined || chars.size === 0 || chars.size > MAX_CLASS_REQUIRED) return ANY;
  return chars.size <= MAX_CLASS_EXACT ? { exact: chars } : { required: chars, prefix: chars, suffix: chars };
}

/** The characters of a class escape (\d \s); undefined when too many to be useful (\w \D \S \W). */
function escapeClass(n: string): string[] | undefined {
  return n === "d" ? DIGITS : n === "s" ? SPACES : undefined;
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

  /**
   * A concatenation, folded as runs of exact parts (so "history" after an
   * unknown part is still one literal) plus the best required set of the
   * runs and parts already closed.
   */
  private sequence(): Info {
    let run: Set<string> = EMPTY.exact!;
    let closed = false;
    let req: Set<string> | undefined;
    let prefix: Set<string> | undefined;
    /** What the previous part's matches end with (undefined when unknown or it can match nothing). */
    let last: Set<string> | undefined;
    let first = true;
    while (this.pos < this.s.length && this.s[this.pos] !== "|" && this.s[this.pos] !== ")") {
      const part = this.quantified();
      const starts = prefixOf(part);
      if (first) prefix = starts;
      first = false;
      // across the junction: an end of the previous part directly followed by a start of this one
      if (last !== undefined && starts !== undefined && (part.exact === undefined || run === EMPTY.exact)) {
        req = better(req, normalize(product(last, starts, MAX_SHORTENED)));
      }
      last = suffixOf(part);
      if (part.exact !== undefined) {
        const joined = product(run, part.exact, MAX_SHORTENED);
        if (joined !== undefined && joined.size <= MAX_EXACT && [...joined].every((s) => s.length <= MAX_EXACT_LEN)) {
          run = joined;
          continue;
        }
        // too many combinations to stay exact: the whole products are still required
        req = better(better(req, normalize(run)), joined === undefined ? undefined : normalize(joined));
        run = part.exact;
      } else {
        req = better(better(req, normalize(run)), part.required);
        run = EMPTY.exact!;
      }
      closed = true;
    }
    if (!closed) return { exact: run };
    // a sequence ending in parts that can match nothing has no known end (last is then undefined too)
    return { required: better(req, normalize(run)), prefix, suffix: last };
  }

  private quantified(): Info {
    const atom = this.atom();
    const c = this.s[this.pos];
    let min = -1;
    let atMostOne = false;
    if (c === "*" || c === "?") {
      min = 0;
      atMostOne = c === "?";
      this.pos++;
    } else if (c === "+") {
      min = 1;
      this.pos++;
    } else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.pos, this.pos + 24));
      if (m !== null) {
        min = Number(m[1]);
        atMostOne = m[2] === undefined ? min <= 1 : m[3] !== "" && Number(m[3]) <= 1;
        this.pos += m[0].length;
        if (m[2] === undefined && min === 1) min = -1; // {1} is the atom itself
      }
    }
    if (min === -1) return atom;
    if (this.s[this.pos] === "?") this.pos++; // lazy
    if (min === 0) {
      // x? is "" or x; x* and x{0,n} can repeat, so they are not a small exact set
      return atMostOne && atom.exact !== undefined && atom.exact.size < MAX_EXACT ? { exact: new Set(["", ...atom.exact]) } : ANY;
    }
    // at least two repeats: two copies in a row are required too (".." rather than ".")
    const twice = min >= 2 && atom.exact !== undefined ? product(atom.exact, atom.exact, MAX_SHORTENED) : undefined;
    // one or more copies: a match starts with a start of the atom and ends with an end of it
    return { required: better(requiredOf(atom), twice === undefined ? undefined : normalize(twice)), prefix: prefixOf(atom), suffix: suffixOf(atom) };
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
    if (c === "[") return this.cls();
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
    const n = this.s[this.pos + 1];
    if (n !== undefined && "dDsSwW".includes(n)) {
      this.pos += 2;
      const chars = escapeClass(n);
      return chars === undefined ? ANY : charSet(new Set(chars));
    }
    const ch = this.escapedChar(false);
    return ch === "" ? EMPTY : { exact: new Set([lower(ch)]) };
  }

  /** The one character an escape stands for; "" for \b \B outside a class. Class escapes are handled by the callers. */
  private escapedChar(inClass: boolean): string {
    const n = this.s[this.pos + 1];
    if (n === undefined) throw new Error("trailing backslash");
    this.pos += 2;
    switch (n) {
      case "b":
        return inClass ? "\b" : "";
      case "B":
        if (inClass) throw new Error("unsupported escape");
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
        // \0 followed by a digit is a legacy octal escape (\012 is a newline)
        if (/[0-9]/.test(this.s[this.pos] ?? "")) throw new Error("octal escape");
        return "\0";
      case "x":
      case "u": {
        const len = n === "x" ? 2 : 4;
        const h = this.s.slice(this.pos, this.pos + len);
        // an incomplete \x or \u is the plain letter in JS; not worth modelling
        if (h.length !== len || !/^[0-9a-fA-F]+$/.test(h)) throw new Error("unsupported escape");
        this.pos += len;
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

  /** A character class. */
  private cls(): Info {
    this.pos++;
    const negated = this.s[this.pos] === "^";
    if (negated) this.pos++;
    if (this.s[this.pos] === "]") {
      // JS: [] never matches, [^] matches any character
      if (!negated) throw new Error("empty class");
      this.pos++;
      return ANY;
    }
    const chars = new Set<string>();
    let unknown = false;
    while (this.pos < this.s.length && this.s[this.pos] !== "]") {
      const a = this.classAtom();
      if (this.s[this.pos] === "-" && this.s[this.pos + 1] !== "]" && this.pos + 1 < this.s.length) {
        this.pos++;
        const b = this.classAtom();
        if (a === undefined || b === undefined || typeof a !== "string" || typeof b !== "string") {
          unknown = true;
          continue;
        }
        const lo = a.charCodeAt(0);
        const hi = b.charCodeAt(0);
        if (hi < lo || hi - lo > 4 * MAX_CLASS_REQUIRED) unknown = true;
        else for (let k = lo; k <= hi; k++) chars.add(lower(String.fromCharCode(k)));
        continue;
      }
      if (a === undefined) unknown = true;
      else if (typeof a === "string") chars.add(lower(a));
      else for (const ch of a) chars.add(ch);
    }
    if (this.s[this.pos] !== "]") throw new Error("unclosed class");
    this.pos++;
    return negated || unknown ? ANY : charSet(chars);
  }

  /** One class member: a character, the characters of \d or \s, or undefined for a member too wide to list. */
  private classAtom(): string | string[] | undefined {
    if (this.s[this.pos] !== "\\") return this.s[this.pos++]!;
    const n = this.s[this.pos + 1];
    if (n !== undefined && "dDsSwW".includes(n)) {
      this.pos += 2;
      return escapeClass(n);
    }
    return this.escapedChar(true);
  }
}
