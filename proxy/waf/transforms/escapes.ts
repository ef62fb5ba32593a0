/**
 * Backslash-escape decoders: js_decode, css_decode and escape_seq_decode.
 * Each walks the `\` positions with indexOf and copies the text between
 * them as slices, so values without a backslash cost one native scan.
 */
import {
  StringBuilder,
  codePointChar,
  controlEscape,
  foldFullWidth,
  hex4,
  hexValue,
  octalAt,
  unitChar,
  REPLACEMENT_CHAR,
} from "./support.js";

interface Decoded {
  readonly text: string;
  /** Index just past the escape. */
  readonly end: number;
}

/** Reads one escape at s[k] = '\'; null keeps the backslash as literal text. */
type EscapeReader = (s: string, k: number) => Decoded | null;

function decodeEscapes(s: string, read: EscapeReader): string {
  let k = s.indexOf("\\");
  if (k < 0) return s;
  const out = new StringBuilder();
  let last = 0;
  let changed = false;
  while (k >= 0) {
    const d = read(s, k);
    if (d === null) {
      k = s.indexOf("\\", k + 1);
      continue;
    }
    out.addRange(s, last, k);
    out.add(d.text);
    last = d.end;
    changed = true;
    k = s.indexOf("\\", last);
  }
  if (!changed) return s;
  out.addRange(s, last, s.length);
  return out.done();
}

function hex2(s: string, at: number): number {
  const hi = hexValue(s.charCodeAt(at));
  const lo = hexValue(s.charCodeAt(at + 1));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

/** `\u{H...}` at s[k]: any number of hex digits up to `}`, value at most U+10FFFF. */
function braceCodePoint(s: string, k: number): Decoded | null {
  const n = s.length;
  let i = k + 3;
  let v = 0;
  for (; i < n; i++) {
    const d = hexValue(s.charCodeAt(i));
    if (d < 0) break;
    if (v <= 0x10ffff) v = v * 16 + d;
  }
  if (i === k + 3 || i >= n || s.charCodeAt(i) !== 0x7d || v > 0x10ffff) return null;
  return { text: codePointChar(foldFullWidth(v)), end: i + 1 };
}

const readJs: EscapeReader = (s, k) => {
  const n = s.length;
  if (k + 1 >= n) return null; // a trailing backslash stays
  const c = s.charCodeAt(k + 1);
  if (c === 0x78) {
    const v = hex2(s, k + 2);
    if (v >= 0) return { text: unitChar(v), end: k + 4 };
  } else if (c === 0x75) {
    const brace = s.charCodeAt(k + 2) === 0x7b ? braceCodePoint(s, k) : null;
    if (brace !== null) return brace;
    const v = hex4(s, k + 2);
    if (v >= 0) return { text: unitChar(foldFullWidth(v)), end: k + 6 };
  } else {
    const oct = octalAt(s, k + 1);
    if (oct !== null) return { text: unitChar(oct[0]), end: k + 1 + oct[1] };
    const ctl = controlEscape(c);
    if (ctl >= 0) return { text: unitChar(ctl), end: k + 2 };
  }
  // Any other escaped char (and malformed \x, \u) is the char itself.
  return { text: unitChar(c), end: k + 2 };
};

/**
 * JavaScript escapes: \xHH, \uHHHH (full-width folded to ASCII), \u{...},
 * octal \OOO, \a \b \f \n \r \t \v, and `\c` → c for anything else.
 */
export function jsDecode(s: string): string {
  return decodeEscapes(s, readJs);
}

function isCssSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

const readCss: EscapeReader = (s, k) => {
  const n = s.length;
  if (k + 1 >= n) return { text: "", end: n }; // a trailing backslash is dropped
  const c = s.charCodeAt(k + 1);
  if (hexValue(c) >= 0) {
    let i = k + 1;
    let v = 0;
    while (i < n && i - k <= 6) {
      const d = hexValue(s.charCodeAt(i));
      if (d < 0) break;
      v = v * 16 + d;
      i++;
    }
    // One whitespace after the digits belongs to the escape ("\r\n" counts as one).
    if (i < n && isCssSpace(s.charCodeAt(i))) {
      i += s.charCodeAt(i) === 0x0d && s.charCodeAt(i + 1) === 0x0a ? 2 : 1;
    }
    const bad = v === 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff);
    return { text: bad ? REPLACEMENT_CHAR : codePointChar(foldFullWidth(v)), end: i };
  }
  // An escaped newline is a line continuation: both chars go.
  if (c === 0x0a || c === 0x0c) return { text: "", end: k + 2 };
  if (c === 0x0d) return { text: "", end: s.charCodeAt(k + 2) === 0x0a ? k + 3 : k + 2 };
  return { text: unitChar(c), end: k + 2 };
};

/** CSS 2 escapes: `\` + 1-6 hex digits (+ one optional whitespace), `\<newline>` removed, `\c` → c. */
export function cssDecode(s: string): string {
  return decodeEscapes(s, readCss);
}

/** Chars that stand for themselves after a backslash in C. */
function isCSelfEscape(c: number): boolean {
  return c === 0x5c || c === 0x3f || c === 0x27 || c === 0x22; // \ ? ' "
}

const readAnsiC: EscapeReader = (s, k) => {
  if (k + 1 >= s.length) return null;
  const c = s.charCodeAt(k + 1);
  const ctl = controlEscape(c);
  if (ctl >= 0) return { text: unitChar(ctl), end: k + 2 };
  if (isCSelfEscape(c)) return { text: unitChar(c), end: k + 2 };
  if (c === 0x78) {
    const v = hex2(s, k + 2);
    return v >= 0 ? { text: unitChar(v), end: k + 4 } : null;
  }
  const oct = octalAt(s, k + 1);
  return oct === null ? null : { text: unitChar(oct[0]), end: k + 1 + oct[1] };
};

/** ANSI C escapes (\a \b \f \n \r \t \v \\ \? \' \" \xHH \OOO); invalid ones are kept as they are. */
export function escapeSeqDecode(s: string): string {
  return decodeEscapes(s, readAnsiC);
}
