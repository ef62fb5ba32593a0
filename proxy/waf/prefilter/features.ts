/**
 * Value features: one pass over a value sets a bit for each kind of text a
 * transformation reacts to (`%`, `&`, `\`, NUL, doubled spaces, a `/./`
 * segment ...). Each transformation declares the features it can change a
 * value on (transforms.ts, CHANGES_ON); a value with none of them comes
 * back unchanged, so the engine skips the whole chain for it. Most values
 * of ordinary requests (names, numbers, e-mail addresses, words) have none
 * of the features of most chains.
 *
 * Features never depend on lower-case letters, so lowering ASCII letters
 * (the only change F_UPPER stands for) keeps a value's other features: a
 * chain whose transformations see none of them changes the value at most in
 * ASCII case, which the literal prefilter ignores.
 */
import { isSpace } from "../transforms/support.js";

// Features use bits 0-21: the value scan keeps a unit's alphabet class above them (value-scan.ts).

/** An ASCII capital (A-Z): lowercase and cmd_line lower it. */
export const F_UPPER = 1 << 0;
/** A unit 0x80-0xFF (UTF-8 bytes, NBSP). */
export const F_HIGH = 1 << 1;
/** A unit above 0xFF. */
export const F_WIDE = 1 << 2;
export const F_NUL = 1 << 3;
export const F_PERCENT = 1 << 4;
export const F_PLUS = 1 << 5;
export const F_AMP = 1 << 6;
export const F_BACKSLASH = 1 << 7;
/** \t \n \v \f \r. */
export const F_CTRL_SPACE = 1 << 8;
/** Any space character (U+0020). */
export const F_SPACE = 1 << 9;
/** Two spaces in a row. */
export const F_DOUBLE_SPACE = 1 << 10;
/** A space before a space, `/` or `(` (cmd_line drops it). */
export const F_SPACE_BEFORE_TIGHT = 1 << 11;
/** Whitespace as the first or last unit (trim). */
export const F_EDGE_SPACE = 1 << 12;
/** `"` or `'`. */
export const F_QUOTE = 1 << 13;
export const F_CARET = 1 << 14;
/** `,` or `;`. */
export const F_COMMA_SEMI = 1 << 15;
/** `//`, or a `.` / `..` path segment. */
export const F_PATH = 1 << 16;
/** `#`, `--`, `/*` or `*\/`. */
export const F_COMMENT = 1 << 17;
/** The digit 0 (sql_hex_decode looks for `0x`). */
export const F_ZERO = 1 << 18;
/** Set on every value: for transformations that change nearly everything (length, base64). */
export const F_ALWAYS = 1 << 19;
/**
 * An ASCII unit that is not a letter, a digit, a space or one of `_ . / -`: the syntax the SQL and XSS
 * detectors need (operators.ts, OPERATOR_NEEDS). No transformation declares it: it only gates operators.
 */
export const F_PUNCT = 1 << 20;
/** `<`, `=`, `:` or `&`: without one, nothing the XSS detector looks for can act (no tag, attribute value, script URL or entity). Gates operators only. */
export const F_MARKUP = 1 << 21;

const SPACE = 0x20;
const SLASH = 0x2f;
const DOT = 0x2e;
const DASH = 0x2d;
const STAR = 0x2a;
const PAREN = 0x28;

/** Features of each unit 0-255 on its own; the context ones (pairs, edges, segments) are checked in the pass. */
const UNIT = new Uint32Array(256);
/** Units whose neighbours matter: space, `/`, `.`, `-`, `*`. */
const CONTEXT = new Uint8Array(256);
{
  for (let c = 0x41; c <= 0x5a; c++) UNIT[c] = F_UPPER;
  for (let c = 0x80; c <= 0xff; c++) UNIT[c] = F_HIGH;
  UNIT[0] = F_NUL;
  UNIT[0x25] = F_PERCENT;
  UNIT[0x2b] = F_PLUS;
  UNIT[0x26] = F_AMP;
  UNIT[0x5c] = F_BACKSLASH;
  for (let c = 0x09; c <= 0x0d; c++) UNIT[c] = F_CTRL_SPACE;
  UNIT[SPACE] = F_SPACE;
  UNIT[0x22] = F_QUOTE;
  UNIT[0x27] = F_QUOTE;
  UNIT[0x5e] = F_CARET;
  UNIT[0x2c] = F_COMMA_SEMI;
  UNIT[0x3b] = F_COMMA_SEMI;
  UNIT[0x23] = F_COMMENT;
  UNIT[0x30] = F_ZERO;
  for (const c of [SPACE, SLASH, DOT, DASH, STAR]) CONTEXT[c] = 1;
  const plain = /[A-Za-z0-9 _./-]/;
  for (let c = 0; c < 0x80; c++) if (!plain.test(String.fromCharCode(c))) UNIT[c]! |= F_PUNCT;
  for (const c of [0x3c, 0x3d, 0x3a, 0x26]) UNIT[c]! |= F_MARKUP;
}


/** The features of s (F_ALWAYS included). */
export function featuresOf(s: string): number {
  const n = s.length;
  let f = edgeFeatures(s);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      f |= F_WIDE;
      continue;
    }
    f |= UNIT[c]!;
    if (CONTEXT[c] !== 0) f |= contextFeatures(s, i, c);
  }
  return f;
}

/** F_ALWAYS, and F_EDGE_SPACE when s starts or ends with whitespace: what featuresOf sets before its pass. */
export function edgeFeatures(s: string): number {
  const n = s.length;
  return n > 0 && (isSpace(s.charCodeAt(0)) || isSpace(s.charCodeAt(n - 1))) ? F_ALWAYS | F_EDGE_SPACE : F_ALWAYS;
}

/** Features of unit c (0-255) on its own; see contextFeatures for the units whose neighbours matter. */
export const UNIT_FEATURES: Readonly<Uint32Array> = UNIT;
/** 1 for the units (0-255) whose features depend on their neighbours (contextFeatures). */
export const HAS_CONTEXT: Readonly<Uint8Array> = CONTEXT;

/** The features unit c at s[i] adds with its neighbours (c is one of the HAS_CONTEXT units). */
export function contextFeatures(s: string, i: number, c: number): number {
  const n = s.length;
  const next = i + 1 < n ? s.charCodeAt(i + 1) : -1;
  if (c === SPACE) {
    if (next === SPACE) return F_DOUBLE_SPACE | F_SPACE_BEFORE_TIGHT;
    return next === SLASH || next === PAREN ? F_SPACE_BEFORE_TIGHT : 0;
  }
  if (c === SLASH) return next === SLASH ? F_PATH : next === STAR ? F_COMMENT : 0;
  if (c === DOT) {
    if (i > 0 && s.charCodeAt(i - 1) !== SLASH) return 0;
    const after = next === DOT ? (i + 2 < n ? s.charCodeAt(i + 2) : -1) : next;
    return after === -1 || after === SLASH ? F_PATH : 0;
  }
  if (c === DASH) return next === DASH ? F_COMMENT : 0;
  return next === SLASH ? F_COMMENT : 0; // `*/`
}
