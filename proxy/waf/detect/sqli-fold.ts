/**
 * Folding: turns the raw token stream into a short fingerprint, one letter
 * per token class (the letters are listed in sqli-keywords.ts). Folding keeps
 * the shape and drops what does not change it: multi-word keywords become one
 * token, unary operators vanish, arithmetic collapses to its first operand,
 * `x = x` on two identical names becomes a constant comparison.
 */

import { lookupWord } from "./sqli-keywords.js";
import { Lexer } from "./sqli-lexer.js";

/** Folded tokens kept; a fingerprint cut here ends with "~". */
export const MAX_TOKENS = 10;

/** Letters after which an operand is expected, so "-", "+", "~", "!" are unary. */
const EXPECTS_OPERAND = "o=&(,kBEU;DTXx";
const OPERAND = "nsSqwvV";
/** Where "*" means "all columns" rather than multiplication. */
const STAR_OPERAND = "E,(k";
const MINUS = 0x2d;
const PLUS = 0x2b;
const TILDE = 0x7e;
const BANG = 0x21;
const STAR = 0x2a;

/** Raw tokens read ahead of the one being folded (pairs need one, "update t set" two). */
const AHEAD = 2;

class Folder {
  private readonly lex = new Lexer();
  /** Kept letters, and for words their span (for the `a = a` check). */
  private readonly out: string[] = [];
  private readonly outStart: number[] = [];
  private readonly outEnd: number[] = [];
  private n = 0;
  /** Leading tokens that never fold into what follows (the string a value breaks out of). */
  private pinned = 0;
  /** Look-ahead queue (letter, case-folded word, span, operator). */
  private readonly qT: string[] = new Array<string>(AHEAD).fill("");
  private readonly qW: string[] = new Array<string>(AHEAD).fill("");
  private readonly qS: number[] = new Array<number>(AHEAD).fill(0);
  private readonly qE: number[] = new Array<number>(AHEAD).fill(0);
  private readonly qO: number[] = new Array<number>(AHEAD).fill(0);
  private qLen = 0;
  /** The token being folded. */
  private t = "";
  private w = "";
  private start = 0;
  private end = 0;
  private op = 0;

  reset(input: string, start: number, quotedPrefix: boolean): void {
    this.lex.reset(input, start);
    this.n = 0;
    this.qLen = 0;
    this.pinned = 0;
    if (quotedPrefix) {
      this.out[0] = "s";
      this.n = 1;
      this.pinned = 1;
    }
  }

  /** Letter of the k-th token ahead ("" past the end). */
  private peek(k: number): string {
    while (this.qLen <= k) {
      const t = this.lex.next();
      if (t === "") return "";
      const i = this.qLen++;
      this.qT[i] = t;
      this.qW[i] = this.lex.word;
      this.qS[i] = this.lex.start;
      this.qE[i] = this.lex.end;
      this.qO[i] = this.lex.opLen === 1 ? this.lex.op : 0;
    }
    return this.qT[k];
  }

  /** Move to the next token; false at the end. */
  private take(): boolean {
    if (this.qLen > 0) {
      this.t = this.qT[0];
      this.w = this.qW[0];
      this.start = this.qS[0];
      this.end = this.qE[0];
      this.op = this.qO[0];
      for (let i = 1; i < this.qLen; i++) {
        this.qT[i - 1] = this.qT[i];
        this.qW[i - 1] = this.qW[i];
        this.qS[i - 1] = this.qS[i];
        this.qE[i - 1] = this.qE[i];
        this.qO[i - 1] = this.qO[i];
      }
      this.qLen--;
    } else {
      this.t = this.lex.next();
      this.w = this.lex.word;
      this.start = this.lex.start;
      this.end = this.lex.end;
      this.op = this.lex.opLen === 1 ? this.lex.op : 0;
    }
    return this.t !== "";
  }

  private last(): string {
    return this.n > 0 ? this.out[this.n - 1] : "";
  }

  /** Class of the current word token, consuming the second word of a pair. */
  private classify(): string {
    const w = this.w;
    if (w === "") return "w"; // cannot be a known word
    const info = lookupWord(w);
    if (info === undefined) return "w";
    const next = this.peek(0);
    if (info.pairs !== undefined && next === "w") {
      const cls = info.pairs.get(this.qW[0]);
      if (cls !== undefined) {
        this.take();
        return cls;
      }
    }
    const call = next === "(";
    const cls = call ? info.call : info.bare;
    // "sleep (8 hours)" may be prose: an attack function counts as one only when "(" follows directly
    if (cls === "F" && call && this.lex.blankBetween(this.end, this.qS[0])) return "f";
    if (cls !== "!") return cls;
    switch (w) {
      case "exec":
      case "execute": {
        // exec @sql, exec('...'), exec sp_x / xp_x / master..proc
        const k = call ? 1 : 0;
        const arg = this.peek(k);
        const name = arg === "w" && !call ? this.lex.text(this.qS[k], this.qE[k]) : "";
        return arg === "v" || (call && arg === "s") || /^(?:sp_|xp_|master\.|dbo\.|sys\.)/i.test(name) ? "D" : "w";
      }
      case "declare":
        return next === "v" ? "D" : "w";
      default: // update <table> set
        return next === "w" && this.peek(1) === "w" && this.qW[1] === "set" ? "D" : "w";
    }
  }

  /** Same word (case-insensitive) as the kept token at `i`? */
  private sameWord(i: number): boolean {
    const len = this.end - this.start;
    if (len === 0 || this.outEnd[i] - this.outStart[i] !== len) return false;
    const a = this.lex.text(this.start, this.end);
    return a.toLowerCase() === this.lex.text(this.outStart[i], this.outEnd[i]).toLowerCase();
  }

  /** Append a folded token, collapsing arithmetic and constant comparisons. */
  private push(letter: string): void {
    const out = this.out;
    const n = this.n;
    const last = this.last();
    if (OPERAND.includes(letter)) {
      if (letter === "w" && last === "=" && n >= 2 && out[n - 2] === "w" && this.sameWord(n - 2)) {
        out[n - 2] = "n"; // a = a: always true, as good as a number
        letter = "n";
      } else if (
        last === "o" &&
        n - 2 >= this.pinned &&
        (OPERAND.includes(out[n - 2]) || out[n - 2] === ")") &&
        letter !== "S" &&
        letter !== "q" // a string left open re-enters the application's quotes: keep it visible
      ) {
        this.n--; // a + b -> a
        return;
      } else if (letter === "s" && last === "s" && n - 1 >= this.pinned) {
        return; // 'a' 'b' is one string in MySQL
      }
    }
    out[n] = letter === "S" ? "s" : letter;
    this.outStart[n] = this.start;
    this.outEnd[n] = letter === "w" ? this.end : this.start;
    this.n = n + 1;
  }

  /** Fold tokens until MAX_TOKENS are kept or the input (or the lexer's budget) ends. */
  run(): void {
    while (this.n < MAX_TOKENS && this.take()) {
      let letter = this.t;
      if (letter === "w") {
        letter = this.classify();
        if (letter === "") continue; // NOT
      } else if (letter === "o") {
        const op = this.op;
        if (op === STAR && STAR_OPERAND.includes(this.last()) && this.n > 0) letter = "n";
        else if ((op === MINUS || op === PLUS || op === TILDE || op === BANG) && this.expectsOperand()) continue;
      }
      this.push(letter);
    }
  }

  private expectsOperand(): boolean {
    return this.n === 0 || EXPECTS_OPERAND.includes(this.out[this.n - 1]);
  }

  /** The fingerprint: kept letters, "~" when tokens remain past them. */
  result(): string {
    let fp = "";
    for (let i = 0; i < this.n; i++) fp += this.out[i];
    if (this.n >= MAX_TOKENS && (this.peek(0) !== "" || this.lex.exhausted)) fp += "~";
    return fp;
  }
}

/** Detection is synchronous, so one folder serves every call. */
const folder = new Folder();

/**
 * Fingerprint of `input` read from `start`; `quotedPrefix` puts the string (or
 * quoted name) the value breaks out of in front as an "s".
 */
export function fingerprint(input: string, start: number, quotedPrefix: boolean): string {
  folder.reset(input, start, quotedPrefix);
  folder.run();
  return folder.result();
}
