/**
 * Tokenizer of the SQL-injection detector. It reads SQL loosely, the way the
 * union of common dialects (MySQL, MSSQL, PostgreSQL, Oracle, SQLite) would,
 * and yields raw tokens one at a time; sqli-fold.ts classifies and folds them.
 * Every step moves forward, so a pass is linear in the input, and a pass
 * stops after MAX_STEPS tokens and skipped comments.
 *
 * Raw token letters: s string (S: one left open at the end, q: the same when
 * empty), n number, w word, v @variable, V @@variable, = comparison, & logic
 * (|| &&), o other operator, ( ) , ; c/C trailing comment (bare / with text),
 * x stray punctuation.
 */

import { DIGIT, HEX, START, WORD, WS, cls, quotedEnd, skipBlanks, skipClass } from "./sqli-chars.js";
import { MAX_KEYWORD, mayBeKnown } from "./sqli-keywords.js";


/** Raw tokens read per pass before giving up (bounds work on padded input such as "1+1+1+..."). */
export const MAX_STEPS = 4096;

/** Comment text looked at to tell a bare comment from prose. */
const MAX_COMMENT_PEEK = 256;

/**
 * One pass over a string. Reused (reset) rather than re-created: detection
 * runs for every inspected value, and allocation is most of its cost.
 */
export class Lexer {
  /** Case-folded text of a "w" token that may be a known word ("" otherwise). */
  word = "";
  /** Start of the last token in the input (it ends at `end`). */
  start = 0;
  /** First character code of an "o" token, and its length. */
  op = 0;
  opLen = 0;
  private s = "";
  private pos = 0;
  private steps = 0;
  /** Inside a MySQL executable comment "/*! ... *\/": its closing marker is skipped. */
  private inCond = false;

  reset(s: string, start: number): void {
    this.s = s;
    this.pos = start;
    this.steps = 0;
    this.inCond = false;
  }

  /** End of the last token. */
  get end(): number {
    return this.pos;
  }

  /** Is there a blank (comments do not count) between two positions? */
  blankBetween(from: number, to: number): boolean {
    for (let i = from; i < to; i++) if (cls(this.s.charCodeAt(i)) === WS) return true;
    return false;
  }

  /** The input text of a token span. */
  text(start: number, end: number): string {
    return this.s.slice(start, end);
  }

  /** True when the pass stopped on its step budget rather than at the end of the input. */
  get exhausted(): boolean {
    return this.steps > MAX_STEPS;
  }

  /** Letter of the next token, or "" at the end of the input. */
  next(): string {
    const s = this.s;
    const n = s.length;
    this.word = "";
    for (;;) {
      if (++this.steps > MAX_STEPS) return "";
      const i = skipBlanks(s, this.pos);
      this.pos = i;
      this.start = i;
      if (i >= n) return "";
      const c = s.charCodeAt(i);
      const c1 = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      switch (c) {
        case 0x27: // '
        case 0x22: // "
          return this.quoted(i + 1, c, "s");
        case 0x60: // `
          return this.quoted(i + 1, c, "w");
        case 0x5b: {
          // [name] (MSSQL); a lone "[" is punctuation
          const e = s.indexOf("]", i + 1);
          this.pos = e < 0 ? i + 1 : e + 1;
          return e < 0 ? "x" : "w";
        }
        case 0x23: {
          // # (MySQL)
          const e = this.lineEnd(i);
          const t = this.comment(i + 1, e, e);
          if (t !== "") return t;
          continue;
        }
        case 0x2d: // -
          if (c1 === 0x2d) {
            const e = this.lineEnd(i);
            const t = this.comment(i + 2, e, e);
            if (t !== "") return t;
            continue;
          }
          break;
        case 0x2f: // /
          if (c1 === 0x2a) {
            if (s.charCodeAt(i + 2) === 0x21) {
              // executable comment: its body is SQL; skip the marker and version digits
              let j = i + 3;
              while (j < n && j < i + 9 && (cls(s.charCodeAt(j)) & DIGIT) !== 0) j++;
              this.pos = j;
              this.inCond = true;
              continue;
            }
            const e = s.indexOf("*/", i + 2);
            const t = e < 0 ? this.comment(i + 2, n, n) : this.comment(i + 2, e, e + 2);
            if (t !== "") return t;
            continue;
          }
          break;
        case 0x2a: // *
          if (c1 === 0x2f && this.inCond) {
            this.inCond = false;
            this.pos = i + 2;
            continue;
          }
          break;
        case 0x7b: {
          // MySQL ODBC escape "{name expr}": the name is ignored, the expression evaluated
          const j = skipBlanks(s, i + 1);
          if (j < n && (cls(s.charCodeAt(j)) & START) !== 0) {
            this.pos = this.wordEnd(j);
            continue;
          }
          break;
        }
        case 0x7d:
          this.pos = i + 1;
          continue;
        case 0x28:
        case 0x29:
        case 0x2c:
        case 0x3b:
          this.pos = i + 1;
          return s[i];
        case 0x40: // @
          return this.variable(i);
        case 0x24: // $
          if (c1 === 0x24) {
            const e = s.indexOf("$$", i + 2);
            this.pos = e < 0 ? n : e + 2;
            return "s";
          }
          if ((cls(c1) & DIGIT) !== 0) return this.number(i + 1);
          return this.readWord(i);
        case 0x2e: // .
          if ((cls(c1) & DIGIT) !== 0) return this.number(i);
          break;
      }
      const k = cls(c);
      if ((k & DIGIT) !== 0) return this.number(i);
      if ((k & START) !== 0) return this.readWord(i);
      return this.operator(i, c, c1);
    }
  }

  /** Index of the end of the line that starts a line comment at `i`. */
  private lineEnd(i: number): number {
    const e = this.s.indexOf("\n", i);
    return e < 0 ? this.s.length : e;
  }

  /**
   * Consume a comment (body from `body` to `bodyEnd`, ending at `end`). Inside
   * a statement it is a blank (""); when nothing but blanks follows it
   * truncates the statement and is a token: "c" when the body is empty or
   * punctuation only, "C" when it holds text or quotes (prose: `--flag`, "#top").
   */
  private comment(body: number, bodyEnd: number, end: number): string {
    const s = this.s;
    const i = skipBlanks(s, end);
    this.pos = i;
    if (i < s.length) return "";
    const stop = Math.min(bodyEnd, body + MAX_COMMENT_PEEK);
    for (let j = body; j < stop; j++) {
      const c = s.charCodeAt(j);
      if ((cls(c) & WORD) !== 0 || c === 0x22 || c === 0x27 || c === 0x60) return "C";
    }
    return "c";
  }

  /** A quoted string or name; a string left open is "S", and "q" when it holds only blanks. */
  private quoted(body: number, quote: number, letter: string): string {
    const s = this.s;
    const e = quotedEnd(s, body, quote);
    if (e >= 0) {
      this.pos = e;
      return letter;
    }
    this.pos = s.length;
    if (letter !== "s") return letter;
    for (let i = body; i < s.length; i++) if (cls(s.charCodeAt(i)) !== WS) return "S";
    return "q";
  }

  private variable(i: number): string {
    const s = this.s;
    const c1 = s.charCodeAt(i + 1);
    if (c1 === 0x3e || c1 === 0x3f) {
      // @> @? (PostgreSQL JSON)
      this.pos = i + 2;
      return "=";
    }
    const system = c1 === 0x40;
    const j = system ? i + 2 : i + 1;
    const c = s.charCodeAt(j);
    if (!system && (c === 0x27 || c === 0x22 || c === 0x60)) {
      const e = quotedEnd(s, j + 1, c);
      this.pos = e < 0 ? s.length : e;
      return "v";
    }
    if (j < s.length && (cls(c) & WORD) !== 0) {
      this.pos = this.wordEnd(j);
      return system ? "V" : "v";
    }
    this.pos = j;
    return "x";
  }

  private number(i: number): string {
    const s = this.s;
    const c1 = s.charCodeAt(i + 1) | 0x20;
    if (s.charCodeAt(i) === 0x30 && (c1 === 0x78 || c1 === 0x62)) {
      // 0x... hex / 0b... binary
      const j = skipClass(s, i + 2, HEX);
      if (j > i + 2) {
        this.pos = j;
        return "n";
      }
    }
    let j = skipClass(s, i, DIGIT);
    if (s.charCodeAt(j) === 0x2e) j = skipClass(s, j + 1, DIGIT);
    if ((s.charCodeAt(j) | 0x20) === 0x65) {
      let k = j + 1;
      if (s.charCodeAt(k) === 0x2b || s.charCodeAt(k) === 0x2d) k++;
      const e = skipClass(s, k, DIGIT);
      if (e > k) j = e;
    }
    this.pos = j;
    return "n";
  }

  /** The last identifier read holds a dot (a qualified name). */
  private dotted = false;

  /** End of an identifier starting at `i`; dots join qualified names (a.b, db..proc). */
  private wordEnd(i: number): number {
    const s = this.s;
    const n = s.length;
    let j = i;
    this.dotted = false;
    while (j < n) {
      const c = s.charCodeAt(j);
      if ((cls(c) & WORD) !== 0) j++;
      else if (c === 0x2e && j + 1 < n && ((cls(s.charCodeAt(j + 1)) & WORD) !== 0 || s.charCodeAt(j + 1) === 0x2e)) {
        j++;
        this.dotted = true;
      } else break;
    }
    while (j > i + 1 && s.charCodeAt(j - 1) === 0x2e) j--;
    return j;
  }

  private readWord(i: number): string {
    const s = this.s;
    const e = this.wordEnd(i);
    this.pos = e;
    // typed string literals: x'..' b'..' n'..' e'..' _charset'..'
    if (s.charCodeAt(e) === 0x27) {
      const c = s.charCodeAt(i) | 0x20;
      if ((e - i === 1 && (c === 0x78 || c === 0x62 || c === 0x6e || c === 0x65)) || s.charCodeAt(i) === 0x5f) {
        return this.quoted(e + 1, 0x27, "s");
      }
    }
    // only words that may be known get a case-folded copy (qualified names always do)
    const len = e - i;
    if (len <= MAX_KEYWORD && (this.dotted || mayBeKnown(len, s.charCodeAt(i), s.charCodeAt(i + 1)))) {
      this.word = s.slice(i, e).toLowerCase();
    }
    return "w";
  }

  /** Operators; comparisons (PostgreSQL's JSON <@ @> ?| ?& included) are "=", || && are "&". */
  private operator(i: number, c: number, c1: number): string {
    const s = this.s;
    let len = 2;
    let letter = "o";
    switch (c) {
      case 0x3c: // <
        if (c1 === 0x3d && s.charCodeAt(i + 2) === 0x3e) len = 3;
        else if (c1 === 0x3c) break;
        else if (c1 !== 0x3d && c1 !== 0x3e && c1 !== 0x40) len = 1;
        letter = "=";
        break;
      case 0x3e: // >
        if (c1 === 0x3e) break;
        if (c1 !== 0x3d) len = 1;
        letter = "=";
        break;
      case 0x3d: // =
        if (c1 !== 0x3d) len = 1;
        letter = "=";
        break;
      case 0x21: // !
        if (c1 === 0x3d || c1 === 0x3c || c1 === 0x3e) letter = "=";
        else len = 1;
        break;
      case 0x7c: // |
      case 0x26: // &
        if (c1 === c) letter = "&";
        else len = 1;
        break;
      case 0x3a: // :
        if (c1 === 0x3d) letter = "=";
        else if (c1 !== 0x3a) {
          this.pos = i + 1;
          return "x"; // ":" alone is a placeholder or label marker
        }
        break;
      case 0x3f: // ?
        if (c1 === 0x7c || c1 === 0x26) letter = "=";
        else {
          this.pos = i + 1;
          return "x";
        }
        break;
      case 0x2d: // -
        if (c1 !== 0x3e) len = 1;
        else if (s.charCodeAt(i + 2) === 0x3e) len = 3;
        break;
      case 0x2b: // +
      case 0x2a: // *
      case 0x2f: // /
      case 0x25: // %
      case 0x5e: // ^
      case 0x7e: // ~
        len = 1;
        break;
      default:
        this.pos = i + 1;
        return "x"; // "." alone, "\", "]" ...: punctuation, not SQL
    }
    this.pos = i + len;
    this.op = c;
    this.opLen = len;
    return letter;
  }
}
