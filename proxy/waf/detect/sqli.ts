/**
 * SQL-injection detector: tokenizes a value as SQL, folds the tokens into a
 * short fingerprint and matches that against grammar-shaped rules. The value
 * is read in several contexts: as it is (spliced into SQL as a number or
 * name), and as if it followed an opening ', " or ` (spliced into a quoted
 * string or name), since a WAF does not know where the application puts it.
 *
 * Bounded: only the first MAX_INPUT characters and MAX_TOKENS folded tokens
 * per context are looked at; every pass is linear. Never throws.
 */

import { fingerprint } from "./sqli-fold.js";
import { quotedEnd } from "./sqli-chars.js";
import { isKnownAt, MAX_KEYWORD, mayBeKnown } from "./sqli-keywords.js";
import { isInjection } from "./sqli-rules.js";

export interface SqliMatch {
  /** Folded token classes that matched, one letter per token ("s&n=n"). */
  fingerprint: string;
  /** How the value was read: as is, or breaking out of a quoted string/name. */
  context: "none" | "single-quote" | "double-quote" | "backtick";
}

/** Characters of input inspected. */
export const MAX_INPUT = 64 * 1024;

/**
 * Characters that cannot, on their own, put two SQL tokens side by side:
 * letters, digits and a few separators. A value made only of these is one
 * word or number (possibly with dashes, dots, slashes), never an injection.
 */
const INERT = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/") INERT[ch.charCodeAt(0)] = 1;

/** The fast path: true when `s` cannot hold an injection because it has no SQL syntax at all. */
export function isInert(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) {
      // a single dash is inert; "--" opens a comment
      if (INERT[c] === 1 || (c === 0x2d && s.charCodeAt(i + 1) !== 0x2d)) continue;
      return false;
    }
    if (c === 0xa0) return false; // a blank to some databases
  }
  return true;
}

const LETTER = 1;
const DIGIT_CH = 2;
/** Prose characters (see isProse): 1 letter or "_", 2 digit, 3 blank, comma or dash. */
const PROSE = new Uint8Array(128);
for (let c = 0x61; c <= 0x7a; c++) PROSE[c] = PROSE[c - 0x20] = LETTER;
PROSE[0x5f] = LETTER;
for (let c = 0x30; c <= 0x39; c++) PROSE[c] = DIGIT_CH;
PROSE[0x20] = PROSE[0x2c] = PROSE[0x2d] = 3;

/**
 * The second fast path: words none of which SQL knows, whole numbers, blanks,
 * commas and single dashes ("Running shoes, blue-5", "12 Main Street"). The
 * tokenizer would read only w, n, "," and o from such a value, and no rule
 * matches a fingerprint made of those (a test checks every one up to the
 * token limit); there is no quote to break out of either. A number run into a
 * word ("4B", "1union") is split as the tokenizer splits it, and the word checked.
 */
export function isProse(s: string): boolean {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    const k = c < 128 ? PROSE[c]! : 0;
    if (k === 0) return false;
    if (k === 3) {
      if (c === 0x2d && s.charCodeAt(i + 1) === 0x2d) return false; // "--" opens a comment
      i++;
      continue;
    }
    let e = i + 1;
    while (e < n) {
      const d = s.charCodeAt(e);
      const kd = d < 128 ? PROSE[d]! : 0;
      if (kd !== LETTER && kd !== DIGIT_CH) break;
      e++;
    }
    if (k === DIGIT_CH) {
      // a number; letters run into it ("4B", "10kg") are a word of their own to the tokenizer, known or not
      // like any other; what the tokenizer might read as more of the number (0x.., 0b.., an exponent) is left to it
      let d = i + 1;
      while (d < e && PROSE[s.charCodeAt(d)] === DIGIT_CH) d++;
      if (d < e) {
        const l = s.charCodeAt(d) | 0x20;
        if (l === 0x65 || ((l === 0x78 || l === 0x62) && d === i + 1 && c === 0x30) || knownWord(s, d, e)) return false;
      }
    } else if (knownWord(s, i, e)) {
      return false;
    }
    i = e;
  }
  return true;
}

/** Whether s[from, to) is a word SQL knows (a keyword, function or operator word). */
function knownWord(s: string, from: number, to: number): boolean {
  const n = to - from;
  return n <= MAX_KEYWORD && mayBeKnown(n, s.charCodeAt(from), s.charCodeAt(from + 1)) && isKnownAt(s, from, to);
}

const QUOTES: readonly (readonly [string, number, SqliMatch["context"]])[] = [
  ["'", 0x27, "single-quote"],
  ['"', 0x22, "double-quote"],
  ["`", 0x60, "backtick"],
];

function detect(input: string): SqliMatch | undefined {
  const s = input.length > MAX_INPUT ? input.slice(0, MAX_INPUT) : input;
  if (isInert(s) || isProse(s)) return undefined;
  let fp = fingerprint(s, 0, false);
  if (isInjection(fp, "none")) return { fingerprint: fp, context: "none" };
  for (const [q, code, context] of QUOTES) {
    if (s.indexOf(q) < 0) continue;
    // the value continues a quoted string: it breaks out at the first unescaped closing quote
    const end = quotedEnd(s, 0, code);
    if (end < 0) continue;
    fp = fingerprint(s, end, true);
    if (isInjection(fp, q === "`" ? "name" : "string")) return { fingerprint: fp, context };
  }
  return undefined;
}

/**
 * True when detectSqli finds nothing in `input` whatever its ASCII case, from the two fast paths alone (no
 * SQL syntax, or prose): the engine asks it of a value as it is before lowering it for a chain whose only
 * change would be the case.
 */
export function sqliCannotMatch(input: string): boolean {
  const s = input.length > MAX_INPUT ? input.slice(0, MAX_INPUT) : input;
  return isInert(s) || isProse(s);
}

/** The first injection-shaped reading of `input` (already url-decoded), or undefined. */
export function detectSqli(input: string): SqliMatch | undefined {
  try {
    return detect(input);
  } catch {
    // a detector bug must not take the request path down; treat as no match
    return undefined;
  }
}
